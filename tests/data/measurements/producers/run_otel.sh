#!/bin/sh
# Writes ../otlp/orders-trace.json: the OTLP/JSON export requests that the OpenTelemetry
# Node SDK (otel/package.json: sdk-trace-node 2.12.1, exporter-trace-otlp-http 0.223.1)
# sent while otel/trace_orders.js served 80 requests, one request body per line as
# otlp_receiver.py received it. Needs Node.js >= 18 and npm (the npm registry); the
# packages are installed from otel/package-lock.json into a temporary directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PORT=${PORT:-4318}
out="$here/../otlp/orders-trace.json"
work=$(mktemp -d)
mkdir -p "$here/../otlp"
rm -f "$out"
cp "$here/otel/package.json" "$here/otel/package-lock.json" "$here/otel/trace_orders.js" "$work"
(cd "$work" && npm ci --no-audit --no-fund --silent)
python3 "$here/otlp_receiver.py" "$out" "$PORT" &
receiver=$!
trap 'kill $receiver; rm -rf "$work"' EXIT
sleep 1
OTLP_URL="http://127.0.0.1:$PORT/v1/traces" node "$work/trace_orders.js"
