"""A minimal OTLP/HTTP receiver: appends the body of every ``POST /v1/traces`` verbatim,
followed by a newline, to the file named on the command line, and answers ``200 {}``
(an empty ExportTraceServiceResponse in OTLP/JSON). It refuses any body that is not JSON
(``Content-Type: application/json``) so that the file holds only OTLP/JSON requests.
Bodies sent with ``Transfer-Encoding: chunked`` (as Node's exporter does) are reassembled.

Usage: python otlp_receiver.py OUT_FILE PORT   (prints ``ready PORT`` once it listens)
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def main() -> None:
    out = Path(sys.argv[1])
    port = int(sys.argv[2])

    class Receiver(BaseHTTPRequestHandler):
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)

        def do_POST(self) -> None:
            body = self._body()
            json_body = self.headers.get("Content-Type", "").startswith("application/json")
            if self.path != "/v1/traces" or not json_body or b"\n" in body:
                self.send_response(415)
                self.end_headers()
                return
            with out.open("ab") as handle:
                handle.write(body + b"\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Receiver)
    print(f"ready {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
