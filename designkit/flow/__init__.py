"""What a design does, read once: the flow IR (:mod:`designkit.flow.nodes`), the one walker
that builds it and finds broken references (:mod:`designkit.flow.build`), and what is
derived from it without estimating — query plans, time shapes, the component graph and
sub-designs. See docs/flow.md."""
