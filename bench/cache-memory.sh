#!/usr/bin/env bash
# berthd's memory and list latency with N finished Tasks in the store (issue
# 15: the object cache keeps bytes).
#
#   bench/cache-memory.sh [build dir, default build/release] [tasks, default 10000] [GETs, default 50]
#
# The Tasks are written straight into the SQLite store while berthd is
# stopped (one transaction, as the store writes them: a log row per key),
# each a small finished Task (status.phase Succeeded, the status a real run
# of `true` leaves, ~1.2 KB of JSON) whose container is gone: berthd starts,
# lists them into its cache and the controller reconciles each once (nothing
# to do for a finished Task; the script waits until berthd is idle). Then it
# reports RSS (VmRSS) after that, the
# time of GETs of the whole list over the unix socket (curl's time_total and
# time to the first byte; p50/p99/max), berthd's CPU time per GET (what the
# wall times mean on a loaded machine), RSS after them, and where the
# memory is: the process's
# mappings by kind (/proc/PID/smaps: the main heap, other anonymous memory
# = malloc's thread arenas and thread stacks, files) and glibc's own count
# (malloc_info through gdb, when gdb is there).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
n=${2:-10000}
gets=${3:-50}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --leader-elect=false
sock=$tmp/b.sock
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status"; }
ready() {
  for _ in $(seq 1 600); do
    curl -sf --unix-socket "$sock" http://localhost/readyz >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "berthd not ready" >&2
  return 1
}
ready
empty=$(rss)
kill "$pid"
wait "$pid" 2>/dev/null || true

python3 - "$tmp/berth.db" "$n" <<'EOF'
import json, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
rev = c.execute("SELECT COALESCE(MAX(rev), 0) FROM log").fetchone()[0]
ts = "2026-12-07T12:00:00Z"
rows = []
for i in range(n):
    rev += 1
    name = "job-%05d" % i
    cond = lambda t, s: {"type": t, "status": s, "reason": "Completed", "message": "exit code 0",
                         "lastTransitionTime": ts}
    obj = {"apiVersion": "berth/v1", "kind": "Task",
           "metadata": {"name": name, "namespace": "probe", "uid": "%032x" % (0xb0 << 96 | i),
                        "generation": 1, "creationTimestamp": ts,
                        "finalizers": ["berth/containers"],
                        "labels": {"app": "probe", "batch": str(i % 10)}},
           "spec": {"image": "busybox:latest", "command": ["true"],
                    "imagePullPolicy": "IfNotPresent", "restartPolicy": "Never",
                    "backoffLimit": 6,
                    "backoff": {"initialSeconds": 10, "factor": 2, "maxSeconds": 300}},
           "status": {"phase": "Succeeded", "observedGeneration": 1, "attempts": 1,
                      "containerID": "%064x" % i, "startTime": ts, "completionTime": ts,
                      "exitCode": 0, "reason": "Completed", "message": "exit code 0",
                      "conditions": [cond("Running", "False"), cond("Succeeded", "True"),
                                     cond("Failed", "False")]}}
    value = json.dumps(obj, separators=(",", ":")).encode()
    rows.append((rev, "/berth/tasks/probe/" + name, value, rev, 0, 0, 0, 1))
with c:
    c.executemany("INSERT INTO log(rev, key, value, create_rev, prev_rev, deleted, lease, version) "
                  "VALUES(?, ?, ?, ?, ?, ?, ?, ?)", rows)
c.close()
EOF

"$bin/berthd" --store "sqlite:$tmp/berth.db" --data-dir "$tmp" --listen "unix://$sock" \
  --allow-host-network --leader-elect=false >>"$tmp/berthd.log" 2>&1 &
pid=$!
t0=$(date +%s.%N)
ready
t1=$(date +%s.%N)
url="http://localhost/apis/berth/v1/namespaces/probe/tasks"
count=$(curl -sf --unix-socket "$sock" "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$count" = "$n" ] || { echo "listed $count Tasks, expected $n" >&2; exit 1; }
# The controller's first reconcile of every Task: wait until berthd is idle
# (under 5% of a core over a second; at most 2 minutes).
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # clock ticks
tick=$(getconf CLK_TCK)
for _ in $(seq 1 120); do
  c0=$(cpu); sleep 1; c1=$(cpu)
  [ $((c1 - c0)) -le $((tick / 20)) ] && break
done
t2=$(date +%s.%N)
synced=$(rss)
[ -n "${BENCH_HOLD:-}" ] && { echo "berthd pid $pid sock $sock tmp $tmp"; sleep "$BENCH_HOLD"; }
idle0=$(cpu)
sleep 2
idle1=$(cpu)
# BENCH_PERF=FILE records a CPU profile of berthd during the GETs.
[ -n "${BENCH_PERF:-}" ] && { perf record -g -o "$BENCH_PERF" -p "$pid" 2>/dev/null & perf_pid=$!; sleep 0.5; }
cpu0=$(cpu)
for _ in $(seq 1 "$gets"); do
  curl -sf -o /dev/null --unix-socket "$sock" -w '%{time_total} %{time_starttransfer}\n' "$url"
done >"$tmp/times"
cpu1=$(cpu)
[ -n "${BENCH_PERF:-}" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
after=$(rss)

echo "== $n finished Tasks, $bin/berthd (pid $pid)"
python3 - "$tmp/times" "$empty" "$synced" "$after" "$t0" "$t1" "$cpu0" "$cpu1" "$tick" "$idle0" "$idle1" "$t2" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
t = sorted(float(r[0]) * 1000 for r in rows)
fb = sorted(float(r[1]) * 1000 for r in rows)
q = lambda p, t=t: t[min(len(t) - 1, int(round(p * (len(t) - 1))))]
print("ready after start: %.2f s, idle after %.2f s" % (float(sys.argv[6]) - float(sys.argv[5]), float(sys.argv[12]) - float(sys.argv[5])))
print("RSS: %s MB empty, %s MB synced, %s MB after %d GETs" % (sys.argv[2], sys.argv[3], sys.argv[4], len(t)))
print("GET list: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (q(0.5), q(0.99), t[-1]))
print("  first byte (the body built): p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (q(0.5, fb), q(0.99, fb), fb[-1]))
print("  berthd CPU per GET: %.1f ms (user + system, whatever the machine's load)" % (
    (int(sys.argv[8]) - int(sys.argv[7])) * 1000.0 / int(sys.argv[9]) / len(t)))
print("  berthd CPU while idle before them: %.0f ms in 2 s" % ((int(sys.argv[11]) - int(sys.argv[10])) * 1000.0 / int(sys.argv[9])))
EOF
echo "== mappings (RSS, MB)"
awk '
  /^[0-9a-f]+-[0-9a-f]+ / { path = $6; kind = path == "" ? "anon" : path ~ /^\[heap\]/ ? "heap" : path ~ /^\[stack/ ? "stack" : path ~ /^\[/ ? "other" : "file"; next }
  /^Rss:/ { rss[kind] += $2 }
  END { for (k in rss) printf "  %-6s %6.1f\n", k, rss[k] / 1024 }' "/proc/$pid/smaps" | sort
if command -v gdb >/dev/null; then
  echo "== glibc malloc (malloc_info: in use vs held per arena)"
  gdb -p "$pid" -batch -ex 'call (int)malloc_info(0, (void*)fopen("'"$tmp"'/malloc.xml", "w"))' \
    -ex 'call (int)fflush(0)' >/dev/null 2>&1 || true
  [ -s "$tmp/malloc.xml" ] && python3 - "$tmp/malloc.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for h in root.findall("heap"):
    sys_cur = int(h.find("system[@type='current']").get("size"))
    free = sum(int(x.get("size")) for x in h.findall("total") if x.get("type") in ("fast", "rest"))
    print("  arena %s: %6.1f MB from the system, %6.1f MB free in it" % (h.get("nr"), sys_cur / 1048576, free / 1048576))
tot = {x.get("type"): int(x.get("size")) for x in root.findall("total")}
print("  total: %.1f MB from the system (mmap'd blocks: %.1f MB), %.1f MB free in the arenas" % (
    int(root.find("system[@type='current']").get("size")) / 1048576, tot.get("mmap", 0) / 1048576,
    (tot.get("fast", 0) + tot.get("rest", 0)) / 1048576))
EOF
  # What of it is free memory malloc keeps (fragments of the start-up):
  gdb -p "$pid" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
  echo "  RSS after malloc_trim(0): $(rss) MB"
fi
