#!/usr/bin/env bash
# What a fan-out costs on top of the engine: N items at parallelism P, run twice:
#   engine  N container lifecycles straight against the Engine API, P in
#           flight on kept-alive connections: create, start, wait, read stdout
#           (berth reads each child's stdout for the step's result, so the
#           baseline does too)
#   berth   one Workflow, one step `withItems: [0, ..., N-1]`, `parallelism: P`,
#           from `berth apply` until `berth wait --for=condition=Succeeded`
# Removal is counted on neither side: berth keeps the children's containers
# until the Workflow is deleted, so both sides remove theirs after the clock.
# Prints both times and their ratio, engine / berth (>= 1 means berth is
# faster), as the last line:
#   berth 11.9s engine 11.2s ratio 0.94 (engine/berth; 50 items, parallelism 8)
#
#   bench/workflow-fanout.sh [items, default 50] [parallelism, default 8] [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
par=${2:-8}
bin=${3:-build/release}
sock=/var/run/docker.sock
label="berth-bench=workflow-fanout-$$"
. bench/lib.sh
bench_cleanup_extra() {
  local ids
  ids=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}
bench_berthd "$bin" "sqlite:%TMP%/berth.db"

now() { date +%s.%N; }

# --- engine: N lifecycles, P in flight ------------------------------------------------
# P threads in one python3, each with its own kept-alive connection to the
# engine (as berthd's Docker client has): no process per request in the
# clock. The logs are a multiplexed stream: 8-byte frame headers.
engine_s=$(python3 - "$sock" "$n" "$par" "$label" <<'PY'
import http.client, json, socket, sys, threading, time
sock, n, par, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock)
def call(c, method, path, body=None):
    c.request(method, "/v1.41" + path, body=body and json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:200]))
    return data
def stdout_of(stream):
    out, i = b"", 0
    while i + 8 <= len(stream):
        size = int.from_bytes(stream[i + 4:i + 8], "big")
        if stream[i] == 1:
            out += stream[i + 8:i + 8 + size]
        i += 8 + size
    return out.decode().strip()
items, lock, errors = list(range(n)), threading.Lock(), []
def lifecycle(c, item):
    cid = json.loads(call(c, "POST", "/containers/create", {
        "Image": "busybox:latest", "Cmd": ["sh", "-c", "echo %d" % item],
        "Labels": dict([label.split("=", 1)]),
        "HostConfig": {"NetworkMode": "none"}}))["Id"]
    call(c, "POST", "/containers/%s/start" % cid)
    code = json.loads(call(c, "POST", "/containers/%s/wait" % cid))["StatusCode"]
    out = stdout_of(call(c, "GET", "/containers/%s/logs?stdout=1" % cid))
    if code != 0 or out != str(item):
        raise RuntimeError("item %d: exit %d, stdout %r" % (item, code, out))
def worker():
    c = Conn("localhost")
    while True:
        with lock:
            if not items or errors:
                return
            item = items.pop(0)
        try:
            lifecycle(c, item)
        except Exception as e:
            errors.append(str(e))
threads = [threading.Thread(target=worker) for _ in range(par)]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
if errors:
    raise SystemExit("engine: " + "; ".join(errors))
print(elapsed)
PY
)
bench_cleanup_extra

# --- berth: the same fan-out as one Workflow -------------------------------------------
cat >"$tmp/fanout.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: fanout, namespace: bench}
spec:
  parallelism: $par
  steps:
    - name: items
      withItems: [$(seq -s ', ' 0 $((n - 1)))]
      task: {image: busybox:latest, network: none, command: [sh, -c, 'echo {{item}}']}
YAML
start=$(now)
"$bin/berth" apply -f "$tmp/fanout.yaml" >/dev/null
"$bin/berth" wait -n bench workflow/fanout --for=condition=Succeeded --timeout=600s >/dev/null
berth_s=$(awk -v a="$(now)" -v b="$start" 'BEGIN{print a-b}')
curl -sf --unix-socket "$tmp/b.sock" \
  "http://localhost/apis/berth/v1/namespaces/bench/workflows/fanout/results" |
  python3 -c 'import json,sys
got = json.loads(json.load(sys.stdin)["steps"]["items"]["result"])
want = [str(i) for i in range(int(sys.argv[1]))]
sys.exit(0 if got == want else "berth result %r, want %r" % (got, want))' "$n"

# Delete the Workflow and wait until its containers are gone.
"$bin/berth" delete -n bench workflow fanout >/dev/null
cluster=$(cat "$tmp/cluster")
for _ in $(seq 1 600); do
  [ -z "$(docker ps -aq --filter "label=berth.cluster=$cluster")" ] && break
  sleep 0.2
done

printf 'berth %.2fs engine %.2fs ratio %.2f (engine/berth; %d items, parallelism %d)\n' \
  "$berth_s" "$engine_s" "$(awk -v a="$engine_s" -v b="$berth_s" 'BEGIN{print a/b}')" "$n" "$par"
