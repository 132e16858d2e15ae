"""Views of a design: Graphviz diagrams, Mermaid text, matplotlib plots, reports."""

from __future__ import annotations
