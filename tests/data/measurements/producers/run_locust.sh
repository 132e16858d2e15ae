#!/bin/sh
# Writes ../locust/shop_stats.csv, shop_stats_history.csv, shop_failures.csv and
# shop_exceptions.csv: Locust, headless, 10 users for 10 s against shop_server.py.
# Needs `pip install locust` (dev-time only) in the interpreter given as $PYTHON.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
PORT=${PORT:-8781}
mkdir -p "$here/../locust"
python3 "$here/shop_server.py" "$PORT" &
server=$!
trap 'kill $server' EXIT
sleep 1
"$PYTHON" -m locust -f "$here/locustfile.py" --headless -u 10 -r 10 -t 10s \
  --host "http://127.0.0.1:$PORT" --csv "$here/../locust/shop" --csv-full-history \
  --only-summary --loglevel WARNING 2>&1 | tee "$here/../locust/shop_console.txt"
