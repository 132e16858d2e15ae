"""Measurements: read load-test results and traces into one structure.

:func:`measurements` reads designkit's plain CSV of requests, Locust's ``--csv`` output,
k6's ``--out json`` lines and summary JSON, JMeter's ``.jtl`` (CSV or XML) and
OpenTelemetry spans in OTLP/JSON, telling each file's format from its content. Each
(run, endpoint or span name) becomes an :class:`Observation`: its rate, count, errors and
the latency of its successful requests. A file that cannot be read raises one
:class:`MeasurementError` naming the file, the line or JSON pointer, and the fix.

Example:
    >>> import pathlib, tempfile
    >>> from designkit.measure import measurements
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "low.csv"
    >>> _ = path.write_text("timestamp,endpoint,latency_ms,status\\n"
    ...                     "2024-06-01T10:00:00Z,GET /x,12,200\\n"
    ...                     "2024-06-01T10:00:01Z,GET /x,18,200\\n")
    >>> [(o.run, o.name, o.count, o.rate_rps, o.p50_ms) for o in measurements(path).endpoints()]
    [('low', 'GET /x', 2, 1.0, 15.0)]
"""

from designkit.measure.errors import MeasurementError
from designkit.measure.observations import Measurements, Observation
from designkit.measure.read import measurements

__all__ = ["MeasurementError", "Measurements", "Observation", "measurements"]
