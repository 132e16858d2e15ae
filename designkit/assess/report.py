"""Reports of an assessment: text, Markdown, HTML, JSON, SARIF 2.1.0 and JUnit XML.

Functions from an :class:`~designkit.assess.assessment.Assessment` to text; waived findings
stay visible in every format, with their reason. Every text a person or a rule wrote
(names, paths, messages, waiver reasons) goes through :mod:`designkit.text`: one escaping
path per format, control characters made visible, so no output carries markup, breaks its
parser (XML holds no control character) or steers a terminal. JSON is strict: see
:func:`to_json` for how it holds an unbounded number.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from designkit.assess.finding import Finding, Status
from designkit.assess.rule import AREAS, Severity
from designkit.model.policy import NotApplicable
from designkit.text import html_text, json_data, markdown, markdown_code, one_line, visible

if TYPE_CHECKING:
    from designkit.assess.assessment import Assessment

__all__ = ["to_html", "to_json", "to_junit", "to_markdown", "to_sarif", "to_text"]

_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.INFO: "note"}
_COLOUR = {Severity.CRITICAL: "#7f0000", Severity.HIGH: "#d62728", Severity.MEDIUM: "#ff7f0e",
           Severity.LOW: "#1f77b4", Severity.INFO: "#7f7f7f"}


def _refs(assessment: Assessment) -> dict[str, list[str]]:
    return {r.id: [str(ref) for ref in r.references] for r in assessment.rules}


def _dumps(data: Any) -> str:
    """Strict JSON (no ``Infinity``/``NaN``: RFC 8259 has none), escaped to ASCII."""
    return json.dumps(data, indent=2, allow_nan=False)


def _finding_json(f: Finding, references: list[str]) -> dict[str, Any]:
    evidence, nonfinite = json_data(f.evidence)
    return {"rule": f.rule, "status": f.status.value, "severity": f.severity.value,
            "subject": f.subject, "message": f.message, "fingerprint": f.fingerprint,
            "remediation": f.remediation, "references": references,
            "waiver": f.waiver or None, "evidence": evidence,
            "nonfinite_evidence": nonfinite}


def to_json(assessment: Assessment) -> str:
    """``{"design", "audit", "summary", "findings": [{"rule", "status", "severity",
    "subject", "message", "fingerprint", "remediation", "references", "waiver", "evidence",
    "nonfinite_evidence"}], "unused_waivers"}`` as strict JSON.

    Texts are kept exactly as written (JSON escapes control characters). An evidence number
    JSON cannot hold — ``inf`` for a saturated station's latency, utilization or pool
    demand, ``nan`` — is ``null`` in ``evidence``, and ``nonfinite_evidence`` maps its JSON
    Pointer (RFC 6901) to how a reader writes it (``∞``, ``-∞``, ``n/a``); it is ``{}`` when
    every number is finite. So ``{"ratio": inf}`` is written ``"evidence": {"ratio": null},
    "nonfinite_evidence": {"/ratio": "∞"}``.

    Example:
        >>> import json, designkit as dk
        >>> a = dk.assess(dk.template("dashboard-slow"))
        >>> db3 = [f for f in json.loads(a.to_json())["findings"] if f["rule"] == "DK-DB-003"]
        >>> db3[0]["evidence"]["ratio"], db3[0]["nonfinite_evidence"]
        (None, {'/ratio': '∞'})
    """
    refs = _refs(assessment)
    data = {
        "design": assessment.design,
        "audit": assessment.audit,
        "summary": assessment.summary(),
        "findings": [_finding_json(f, refs.get(f.rule, [])) for f in assessment.ordered()],
        "unused_waivers": [json_data(w.model_dump(mode="json"))[0]
                           for w in assessment.unused_waivers],
    }
    return _dumps(data)


def to_text(assessment: Assessment) -> str:
    """A terminal report: the summary, then every finding that is not a pass, one line each
    (:func:`~designkit.text.one_line`: no control character reaches the terminal)."""
    s = assessment.summary()["by_status"]
    lines = [f"assessment of {assessment.design!r}: {s['fail']} failed, {s['pass']} passed, "
             f"{s['needs-data']} need data, {s['needs-attestation']} need an attestation, "
             f"{s['waived']} waived" + (" (audit: waivers ignored)" if assessment.audit else "")]
    for f in assessment.ordered():
        if f.status is Status.PASS or (f.status is Status.NOT_APPLICABLE and not f.waiver):
            continue  # (a check the design declared not applicable stays in view)
        where = f" {one_line(f.subject)}" if f.subject else ""
        lines.append(f"  {f.status.value:<17} {f.severity.value:<8} {one_line(f.rule)}{where}: "
                     f"{one_line(f.message)}"
                     + (f" [{'waived: ' if f.status is Status.WAIVED else ''}"
                        f"{one_line(f.waiver)}]" if f.waiver else ""))
    for w in assessment.unused_waivers:
        kind = "not-applicable" if isinstance(w, NotApplicable) else "waiver"
        lines.append(f"  unused {kind:<10} {one_line(w.finding)} ({one_line(w.owner)}): "
                     "matches no finding")
    return "\n".join(lines)


def _md_subject(subject: str) -> str:
    return markdown_code(subject, in_table=True) if subject else "(design)"


def to_markdown(assessment: Assessment) -> str:
    """Summary table, then failures by severity, then what needs data or a person.

    Every text goes through :func:`~designkit.text.markdown` (or
    :func:`~designkit.text.markdown_code`), the escaping of the design report too: a name
    like ``<script>`` is shown, never run.
    """
    esc = markdown
    s = assessment.summary()
    lines = [f"# Assessment of {esc(assessment.design)}", ""]
    lines += ["| status | findings |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["by_status"].items()]
    for severity in Severity:
        failed = [f for f in assessment.failed() if f.severity is severity]
        if failed:
            lines += ["", f"## {severity.value.capitalize()}", "",
                      "| rule | subject | finding | fix |", "|---|---|---|---|"]
            lines += [f"| {esc(f.rule)} | {_md_subject(f.subject)} | {esc(f.message)} | "
                      f"{esc(f.remediation)} |" for f in failed]
    for status, title in ((Status.NEEDS_DATA, "Needs data"),
                          (Status.NEEDS_ATTESTATION, "Needs an attestation"),
                          (Status.WAIVED, "Waived"),
                          (Status.NOT_APPLICABLE, "Declared not applicable")):
        items = [f for f in assessment.ordered() if f.status is status
                 and (status is not Status.NOT_APPLICABLE or f.waiver)]
        if items:
            lines += ["", f"## {title}", "", "| rule | subject | note |", "|---|---|---|"]
            lines += [f"| {esc(f.rule)} | {_md_subject(f.subject)} | "
                      f"{esc(f.waiver or f.message)} |" for f in items]
    if assessment.unused_waivers:
        lines += ["", "## Unused waivers", ""]
        lines += [f"- {markdown_code(w.finding)} ({esc(w.owner)}): matches no finding"
                  for w in assessment.unused_waivers]
    return "\n".join(lines) + "\n"


def to_html(assessment: Assessment) -> str:
    """A table grouped by area, failures first, severities coloured; every text through
    :func:`~designkit.text.html_text`."""
    esc = html_text
    rows = []
    area = None
    for f in assessment.ordered():
        if f.status is Status.NOT_APPLICABLE:
            continue
        this = f.rule.split("-")[1]
        if this != area:
            area = this
            rows.append(f"<tr><th colspan='5' style='text-align:left'>"
                        f"{esc(AREAS.get(this, this))}</th></tr>")
        colour = _COLOUR[f.severity] if f.failed else "#2ca02c" if f.status is Status.PASS \
            else "#7f7f7f"
        rows.append(
            f"<tr><td>{esc(f.rule)}</td><td style='color:{colour};font-weight:bold'>"
            f"{esc(f.status.value)}</td><td>{esc(f.severity.value)}</td>"
            f"<td><code>{esc(f.subject)}</code></td><td>{esc(f.message)}"
            + (f" <em>(waived: {esc(f.waiver)})</em>" if f.waiver else "") + "</td></tr>")
    head = esc(to_text(assessment).splitlines()[0])
    return (f"<div class='designkit-assessment'><p><strong>{head}</strong></p>"
            "<table><tr><th>rule</th><th>status</th><th>severity</th>"
            f"<th>subject</th><th>finding</th></tr>{''.join(rows)}</table></div>")


def to_sarif(assessment: Assessment, artifact: str | None = None) -> str:
    """SARIF 2.1.0: one rule per checklist item (with helpUri), one result per finding that
    is not a pass; waived findings carry a suppression with their justification."""
    from designkit._version import __version__

    rules = list(assessment.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    kinds = {Status.FAIL: "fail", Status.WAIVED: "fail", Status.NEEDS_DATA: "open",
             Status.NEEDS_ATTESTATION: "review"}
    results: list[dict[str, Any]] = []
    for f in assessment.ordered():
        if f.status not in kinds:
            continue
        location: dict[str, Any] = {"logicalLocations": [
            {"fullyQualifiedName": visible(f.subject or assessment.design),
             "kind": "member"}]}
        if artifact:
            location["physicalLocation"] = {"artifactLocation": {"uri": artifact}}
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "kind": kinds[f.status],
            "level": _LEVEL[f.severity] if f.status in (Status.FAIL, Status.WAIVED) else "none",
            "message": {"text": visible(f.message)},
            "locations": [location],
            "partialFingerprints": {"designkitFingerprint/v1": f.fingerprint},
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        if f.status is Status.WAIVED:
            result["suppressions"] = [{"kind": "external", "status": "accepted",
                                       "justification": visible(f.waiver)}]
        results.append(result)
    driver = {
        "name": "designkit", "version": __version__,
        "informationUri": "https://designkit.dev",
        "rules": [{"id": r.id, "name": r.title.title().replace(" ", "").replace("/", ""),
                   "shortDescription": {"text": r.title},
                   "fullDescription": {"text": r.rationale},
                   "help": {"text": r.remediation}, "helpUri": r.help_uri,
                   "defaultConfiguration": {"level": _LEVEL[r.severity]},
                   "properties": {"tags": [AREAS.get(r.area, r.area), r.mode.value],
                                  "severity": r.severity.value,
                                  "references": [str(x) for x in r.references]}}
                  for r in rules],
    }
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
             "runs": [{"tool": {"driver": driver}, "results": results}]}
    return _dumps(sarif)


def to_junit(assessment: Assessment) -> str:
    """JUnit XML: a suite per area, a test case per rule × subject. Texts go through
    :func:`~designkit.text.visible` (XML 1.0 holds no control character)."""
    suites = ET.Element("testsuites", name=visible(f"designkit {assessment.design}"))
    by_area: dict[str, list[Finding]] = {}
    for f in assessment.ordered():
        by_area.setdefault(f.rule.split("-")[1], []).append(f)
    for area, findings in by_area.items():
        suite = ET.SubElement(suites, "testsuite", name=visible(AREAS.get(area, area)),
                              tests=str(len(findings)),
                              failures=str(sum(f.failed for f in findings)),
                              skipped=str(sum(not f.failed and f.status is not Status.PASS
                                              for f in findings)))
        for f in findings:
            case = ET.SubElement(suite, "testcase", classname=visible(f.rule),
                                 name=visible(f.subject or assessment.design))
            if f.failed:
                failure = ET.SubElement(case, "failure", type=f.severity.value,
                                        message=visible(f.message))
                failure.text = visible(f.remediation)
            elif f.status is not Status.PASS:
                ET.SubElement(case, "skipped", message=visible(
                    f"{f.status.value}: {f.waiver or f.message}"))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
