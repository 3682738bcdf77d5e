#!/usr/bin/env bash
# What Events and a Notifier cost the engine path, in one run:
#   1. engine-ratio with berthd as it ships (Events recorded, metrics on)
#   2. engine-ratio again with a Notifier in the bench namespace routing
#      every Task's Created, Started and Completed Event to a webhook on
#      127.0.0.1 (a python3 server that answers 204)
# and the ratio of the two ratios (target: >= 0.95).
#
#   bench/notify-cost.sh [build dir, default build/release] [lifecycles, default 100]
#
# NOTIFY_ON overrides the Notifier's spec.on, e.g. NOTIFY_ON="Completed,
# Recovered": with Recovered the last outcome of each Task's name is also
# written to the store (a new name each lifecycle: the worst case).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
n=${2:-100}
bench_cleanup_extra() { [ -z "${hook_pid:-}" ] || kill "$hook_pid" 2>/dev/null || true; }
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --leader-elect=false

port=$((20000 + RANDOM % 20000))
python3 - "$port" "$tmp/hooks" <<'PY' &
import http.server, sys
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        count += 1
        with open(sys.argv[2], "w") as f:
            f.write(str(count))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
hook_pid=$!

ratio() { "$bin/bench/engine-ratio" -n "$n" --server "unix://$tmp/b.sock" | tail -1; }
plain=$(ratio)
echo "without a Notifier: $plain"
"$bin/berth" apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Notifier
metadata: {name: everything, namespace: bench}
spec:
  on: [${NOTIFY_ON:-Created, Started, Completed, Failed}]
  type: webhook
  webhook: {url: "http://127.0.0.1:$port/hook", timeoutSeconds: 5}
YAML
routed=$(ratio)
sleep 2
echo "with a Notifier routing every Event: $routed ($(cat "$tmp/hooks" 2>/dev/null || echo 0) deliveries)"
python3 -c 'import sys; a=float(sys.argv[1].split()[-1]); b=float(sys.argv[2].split()[-1]); print("ratio with / without: %.2f" % (b / a))' "$plain" "$routed"
