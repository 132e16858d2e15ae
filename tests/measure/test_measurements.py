"""The structure the readers fill: Observation, Measurements, and the package's surface."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import designkit.measure as measure
from designkit.measure import MeasurementError, Measurements, Observation, measurements


def _o(name: str = "GET /x", run: str = "low", kind: str = "endpoint", count: int = 10,
       errors: int = 0) -> Observation:
    return Observation(name, kind, run, 5.0, count, errors, 12.0, 11.0, 20.0, 25.0,
                       samples_ms=(11.0, 12.0), attributes={"method": "GET"}, source="a.csv:2")


def test_kinds_runs_and_table() -> None:
    m = Measurements((_o(), _o("SELECT", kind="span"), _o(run="high")))
    assert [o.name for o in m.endpoints()] == ["GET /x", "GET /x"]
    assert [o.name for o in m.spans()] == ["SELECT"]
    assert m.runs() == ("low", "high")
    row = m.table()[0]
    assert list(row) == ["run", "kind", "name", "rate_rps", "count", "errors", "mean_ms",
                         "p50_ms", "p95_ms", "p99_ms", "attributes", "source"]
    assert row["attributes"] == {"method": "GET"}
    assert repr(m) == "Measurements(3 observations, runs=('low', 'high'))"
    assert "samples_ms" not in repr(m.observations[0])


def test_adding_combines_and_refuses_the_same_run_and_name() -> None:
    low, high = Measurements((_o(),)), Measurements((_o(run="high"),))
    assert (low + high).runs() == ("low", "high")
    with pytest.raises(MeasurementError, match="run 'low' already has endpoint 'GET /x'"):
        low + low
    with pytest.raises(TypeError):
        low + 1


def test_observation_checks_its_counts() -> None:
    with pytest.raises(MeasurementError, match=r"a.csv:2: errors 11 not within 0..count \(10\)"):
        _o(errors=11)
    with pytest.raises(MeasurementError, match="kind 'request' is not 'endpoint' or 'span'"):
        _o(kind="request")
    assert hash(_o()) == hash(_o())


def test_a_single_request_has_no_rate(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("timestamp,endpoint,latency_ms,status\n1717236000,GET /x,12,500\n")
    (x,) = measurements(path).endpoints()
    assert math.isnan(x.rate_rps) and math.isnan(x.mean_ms)
    assert (x.count, x.errors, x.p50_ms, x.p95_ms, x.p99_ms, x.samples_ms) == (
        1, 1, None, None, None, ())


def test_all_lists_exactly_the_public_names_each_with_an_example() -> None:
    public = {n for n in vars(measure) if not n.startswith("_")} - {
        "errors", "observations", "read", "plain_csv", "locust", "k6", "jmeter", "otlp"}
    assert set(measure.__all__) == public
    assert all(">>>" in (getattr(measure, n).__doc__ or "") for n in measure.__all__)


def test_importing_it_stays_light() -> None:
    heavy = ("matplotlib", "scipy", "pandas", "google.protobuf", "locust", "gevent",
             "defusedxml", "graphviz", "simpy")
    code = ("import sys, designkit.measure; "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


DATA = Path(__file__).resolve().parents[1] / "data" / "measurements"


@pytest.mark.parametrize("name", ["csv/shop-poisson.csv", "jmeter/shop-xml.jtl",
                                  "otlp/orders-trace.json"])
def test_a_gzipped_file_reads_as_the_file(tmp_path: Path, name: str) -> None:
    import gzip

    source = DATA / name
    packed = tmp_path / (source.name + ".gz")
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert measurements(packed).table() == [
        {**row, "source": row["source"].replace(str(source), str(packed))}
        for row in measurements(source).table()]
    broken = tmp_path / "cut.csv.gz"
    broken.write_bytes(packed.read_bytes()[:40])
    with pytest.raises(MeasurementError, match=r"cut.csv.gz: not a complete gzip file"):
        measurements(broken)
