#!/usr/bin/env bash
# berthd compacts the store's history periodically (--compact-interval), so the
# SQLite revision log does not grow with every status write forever.
source "$(dirname "$0")/lib.sh"
start_berthd --compact-interval 2s
cat >"$T/t.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: churn, labels: {round: "0"}}
spec: {image: "busybox:latest", command: ["true"], network: none}
YAML
berth apply -f "$T/t.yaml" >/dev/null
berth wait task/churn --for=condition=Succeeded --timeout=60s || fail "not succeeded"
for i in $(seq 1 20); do
  sed "s/round: \"0\"/round: \"$i\"/" "$T/t.yaml" | berth apply -f - >/dev/null
done
rows() {
  python3 - "$T/berth.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select count(*) from log where key like '%/tasks/default/churn'").fetchone()[0])
PY
}
# Two intervals: the first round records the revision, the next compacts it.
sleep 5
stop_berthd
n=$(rows)
log "revision log rows for the task after compaction: $n (it was written 20+ times)"
[ "$n" -le 2 ] || fail "history not compacted: $n rows"
log "PASS"
