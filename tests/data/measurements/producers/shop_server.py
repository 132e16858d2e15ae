"""A tiny local HTTP server that the load-test producers run against.

Endpoints (all on 127.0.0.1):

* ``GET /products/<id>`` -- fast: sleeps 2-6 ms, always 200.
* ``GET /search?q=...``  -- slow: sleeps 20-60 ms, always 200.
* ``POST /orders``       -- sleeps 5-15 ms; about 1 request in 7 answers 500.

Run ``python shop_server.py PORT``: it prints ``ready PORT`` once it listens and serves
until it is killed. Standard library only.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_rng = random.Random(20240601)


def _uniform(low: float, high: float) -> float:
    with _lock:
        return _rng.uniform(low, high)


class _Shop(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/products/"):
            time.sleep(_uniform(0.002, 0.006))
            self._answer(200, b'{"id": "%s"}' % self.path.rsplit("/", 1)[-1].encode())
        elif self.path.startswith("/search"):
            time.sleep(_uniform(0.020, 0.060))
            self._answer(200, b'{"items": []}')
        else:
            self._answer(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/orders"):
            time.sleep(_uniform(0.005, 0.015))
            if _uniform(0.0, 1.0) < 1 / 7:
                self._answer(500, b'{"error": "out of stock service timed out"}')
            else:
                self._answer(201, b'{"order": "created"}')
        else:
            self._answer(404, b'{"error": "not found"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    ThreadingHTTPServer.request_queue_size = 128  # no SYN retries when users start at once
    server = ThreadingHTTPServer(("127.0.0.1", port), _Shop)
    server.daemon_threads = True
    print(f"ready {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
