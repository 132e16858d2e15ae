"""Open-loop Poisson load against shop_server.py, written as designkit's plain CSV.

Writes ``../csv/shop-poisson.csv`` with the columns
``timestamp,endpoint,latency_ms,status,run``: two runs, ``low`` (20 requests/s) then
``high`` (60 requests/s), 8 s each. Arrivals are a Poisson process (exponential gaps from a
seeded generator); each request is sent at its arrival time on its own worker thread,
whether or not earlier ones have finished (open loop). ``timestamp`` is when the request
was sent (epoch seconds), ``latency_ms`` the time to the whole response, ``status`` the
HTTP code (0 when the connection failed). The mix: 60 % ``GET /products/{id}``, 20 %
``GET /search``, 20 % ``POST /orders``. Standard library only.

Usage: python poisson_driver.py [PORT]   (starts and stops shop_server.py itself)
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = (("low", 20.0), ("high", 60.0))
SECONDS = 8.0


def _request(base: str, rng: random.Random) -> tuple[str, urllib.request.Request]:
    pick = rng.random()
    if pick < 0.6:
        return "GET /products/{id}", urllib.request.Request(
            f"{base}/products/{rng.randint(1, 500)}")
    if pick < 0.8:
        return "GET /search", urllib.request.Request(f"{base}/search?q=lamp")
    return "POST /orders", urllib.request.Request(
        f"{base}/orders", data=b'{"product": 7}', method="POST",
        headers={"Content-Type": "application/json"})


def _send(endpoint: str, request: urllib.request.Request, run: str,
          rows: list[list[object]], lock: threading.Lock) -> None:
    sent = time.time()
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        err.read()
        status = err.code
    except OSError:
        status = 0
    latency_ms = (time.perf_counter() - start) * 1000
    with lock:
        rows.append([f"{sent:.6f}", endpoint, f"{latency_ms:.3f}", status, run])


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8783
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(HERE / "shop_server.py"), str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "ready PORT"
        rng = random.Random(7)
        rows: list[list[object]] = []
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=64) as pool:
            for run, rate in RUNS:
                begin = time.perf_counter()
                due = rng.expovariate(rate)
                while due < SECONDS:
                    pause = begin + due - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    endpoint, request = _request(base, rng)
                    pool.submit(_send, endpoint, request, run, rows, lock)
                    due += rng.expovariate(rate)
                time.sleep(1.0)  # let the last requests of the run finish
        rows.sort(key=lambda row: float(str(row[0])))
        out = HERE.parent / "csv" / "shop-poisson.csv"
        out.parent.mkdir(exist_ok=True)
        with out.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["timestamp", "endpoint", "latency_ms", "status", "run"])
            writer.writerows(rows)
        print(f"wrote {len(rows)} requests to {out}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
