#!/usr/bin/env bash
# Are status writes of a burst coalesced per key? 1,000 Tasks applied at once
# (a missing image with imagePullPolicy Never: each fails at once, no
# container), then, from the SQLite revision log (every write is a row, no
# compaction in the run), per Task: how many writes, and how many of them
# changed its status (a state change) or its spec/metadata (the apply).
# A write that changes nothing would be a status write that coalescing
# should have dropped.
#
#   bench/status-burst.sh [build dir, default build/release] [tasks, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
n=${2:-1000}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --compact-interval 0

for i in $(seq 1 "$n"); do
  printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: t-%d, namespace: burst}\nspec: {image: "busybox:nosuch", imagePullPolicy: Never}\n' "$i"
done >"$tmp/tasks.yaml"
t0=$(date +%s.%N)
"$bin/berth" apply -f "$tmp/tasks.yaml" >/dev/null
for _ in $(seq 1 600); do
  done_n=$("$bin/berth" get tasks -n burst 2>/dev/null | grep -c ' Failed ' || true)
  [ "$done_n" -ge "$n" ] && break
  sleep 0.5
done
t1=$(date +%s.%N)
echo "$n tasks applied and Failed in $(python3 -c "print('%.1f' % ($t1 - $t0))")s"
sleep 2 # let late writes (events, requeues) land
curl -s --unix-socket "$tmp/b.sock" http://localhost/metrics |
  grep -E '^berth_workqueue_adds_total|^berth_reconcile_total|^berth_reconciles_total' | grep -i task || true
kill "$pid"; wait "$pid" 2>/dev/null || true
python3 - "$tmp/berth.db" "$n" <<'PY'
import json, sqlite3, sys, collections
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT key, value, deleted FROM log WHERE key LIKE '%/tasks/burst/%' ORDER BY rev").fetchall()
writes = collections.Counter()
changes = collections.Counter()
redundant = collections.Counter()
last = {}
for key, value, deleted in rows:
    writes[key] += 1
    o = json.loads(value) if value and not deleted else None
    st = json.dumps(o.get("status"), sort_keys=True) if o else None
    rest = json.dumps({k: v for k, v in o.items() if k != "status"}, sort_keys=True) if o else None
    prev = last.get(key)
    if prev is None or prev != (st, rest):
        changes[key] += 1
    else:
        redundant[key] += 1
    last[key] = (st, rest)
n = int(sys.argv[2])
tw = sum(writes.values())
print("tasks: %d, writes of task keys: %d (%.2f per task), writes that changed the object: %d, "
      "writes that changed nothing: %d" % (len(writes), tw, tw / max(1, len(writes)),
                                           sum(changes.values()), sum(redundant.values())))
hist = collections.Counter(writes.values())
print("writes per task (count: tasks):", dict(sorted(hist.items())))
PY
