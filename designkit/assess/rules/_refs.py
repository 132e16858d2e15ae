"""References the rules cite, spelled one way everywhere (sources, links, shared items)."""

from __future__ import annotations

from designkit.assess.rule import Reference

__all__ = ["API_TOP10", "AWS", "AWS_IDEMPOTENT", "AWS_QUERY_PERFORMANCE",
           "CWE_SEQUENTIAL_SEARCH", "OWASP_API4", "RFC9457", "TOP10", "ZALANDO",
           "ZALANDO_PROBLEM_JSON"]

TOP10 = "OWASP Top 10 2021"
API_TOP10 = "OWASP API Security 2023"
AWS = "https://docs.aws.amazon.com/wellarchitected/latest/framework/"
"""AWS Well-Architected framework pages; a best-practice page name follows."""
ZALANDO = "https://opensource.zalando.com/restful-api-guidelines/#"
"""Zalando RESTful API guidelines; a rule number follows the ``#``."""

RFC9457 = Reference("RFC 9457", "3", "Problem Details for HTTP APIs",
                    "https://www.rfc-editor.org/rfc/rfc9457")
ZALANDO_PROBLEM_JSON = Reference("Zalando RESTful API Guidelines", "176",
                                 "MUST use problem JSON", ZALANDO + "176")
OWASP_API4 = Reference(API_TOP10, "API4", "Unrestricted Resource Consumption")
AWS_IDEMPOTENT = Reference("AWS Well-Architected", "REL04-BP04",
                           "Make mutating operations idempotent", AWS + "rel04-bp04.html")
AWS_QUERY_PERFORMANCE = Reference("AWS Well-Architected", "PERF03-BP04",
                                  "Implement strategies to improve query performance in "
                                  "data store")
CWE_SEQUENTIAL_SEARCH = Reference("CWE", "1067",
                                  "Excessive Execution of Sequential Searches of Data Resource")
