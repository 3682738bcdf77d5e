#!/usr/bin/env bash
# Crash-safety and size of large Workflows: berthd killed with SIGKILL in the
# middle of a fan-out of 50 and started again: every item runs exactly once
# (one Task, one attempt, one container each). A 300-step Workflow of chains
# and fan-outs completes, and its stored object stays under 64 KiB (large
# values are stored compressed).
source "$(dirname "$0")/lib.sh"
start_berthd

{
  cat <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: crash}
spec:
  parallelism: 8
  steps:
    - name: each
      withItems:
YAML
  for i in $(seq 0 49); do echo "        - $i"; done
  cat <<'YAML'
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 0.5; echo {{item}}']}
YAML
} >"$T/crash.yaml"
berth apply -f "$T/crash.yaml" >/dev/null || fail "apply crash"
wait_until 60 '[ "$(containers_named crash-each- | wc -l)" -ge 12 ]' || fail "fan-out did not start"
log "kill -9 berthd with $(containers_named crash-each- | wc -l) items started"
kill9_berthd
start_berthd
berth wait workflow/crash --for=condition=Succeeded --timeout 180s ||
  fail "crash: $(berth get workflow crash -o json | head -c 3000)"
containers_named crash-each- | sort | uniq -c >"$T/per-item.txt"
[ "$(wc -l <"$T/per-item.txt")" = 50 ] || fail "items with containers: $(wc -l <"$T/per-item.txt")"
awk '$1 != 1 { exit 1 }' "$T/per-item.txt" || fail "an item ran twice: $(awk '$1 != 1' "$T/per-item.txt")"
for i in 0 25 49; do
  [ "$(jget "crash-each-$i" .status.attempts)" = 1 ] || fail "item $i attempts"
done

log "300 steps"
{
  cat <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: big}
spec:
  parallelism: 16
  steps:
YAML
  # 30 chains of 10 steps; every fifth step fans out over 2 items.
  for c in $(seq 1 30); do
    for k in $(seq 1 10); do
      dep=""
      [ "$k" = 1 ] || dep="dependsOn: [c$c-s$((k - 1))], "
      fan=""
      [ $((k % 5)) != 0 ] || fan="withItems: [x, y], "
      echo "    - {name: c$c-s$k, $dep${fan}task: {image: \"busybox:latest\", network: none, command: [sh, -c, 'echo $c.$k']}}"
    done
  done
} >"$T/big.yaml"
berth apply -f "$T/big.yaml" >/dev/null || fail "apply big"
peak=0
end=$((SECONDS + 600))
while [ "$(wfq big 'o.get("status", {}).get("phase")')" != Succeeded ]; do
  [ $SECONDS -lt $end ] || fail "big did not finish: $(wfq big 'o["status"]["progress"]')"
  [ "$(wfq big 'o.get("status", {}).get("phase")')" != Failed ] || fail "big failed: $(wfq big 'o["status"]["message"]')"
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$BERTHD_PID/status")
  [ "$rss" -le "$peak" ] || peak=$rss
  sleep 2
done
json=$(curl -sf --unix-socket "$T/berth.sock" http://localhost/apis/berth/v1/namespaces/default/workflows/big | wc -c)
[ "$(wfq big 'o["status"]["progress"]')" = 300/300 ] || fail "progress"
# What the store holds (large values are stored compressed): the newest row,
# read once berthd, which holds the SQLite file exclusively, stopped.
stop_berthd
stored=$(python3 - "$T/berth.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT length(value) FROM log WHERE key LIKE '%/workflows/default/big' "
                 "ORDER BY rev DESC LIMIT 1").fetchone()
print(row[0])
PY
)
log "300 steps: object $json bytes of JSON, $stored bytes in the store; berthd peak RSS ${peak} KiB"
[ "$stored" -lt 65536 ] || fail "the Workflow object takes $stored bytes in the store"
log "ok"
