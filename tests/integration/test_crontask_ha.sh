#!/usr/bin/env bash
# Exactly once across a leader change: two replicas on etcd run a CronTask
# @every 2s; the leader is killed with -9 mid-schedule; the follower takes
# over. Every scheduled time has at most one run, the runs go on after the
# failover, and the times that came due in between are run or recorded as
# missed (catch-up Latest), never twice.
source "$(dirname "$0")/lib.sh"
start_ha_pair ct

cat >"$T/ct.yaml" <<'YAML'
apiVersion: berth/v1
kind: CronTask
metadata: {name: tick}
spec:
  schedule: "@every 2s"
  successfulHistoryLimit: 1000
  taskTemplate:
    spec: {image: "busybox:latest", network: none, command: [sh, -c, 'true']}
YAML
on a apply -f "$T/ct.yaml" >/dev/null || fail "apply"
scheduled() {
  on b get tasks -l berth.crontask=tick -o json | python3 -c '
import json, sys, calendar, time
for o in json.load(sys.stdin).get("items", []):
    t = o["metadata"]["annotations"]["berth/scheduled-time"]
    print(calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")))' | sort -n
}
wait_until 30 '[ "$(scheduled | wc -l)" -ge 3 ]' || fail "no runs before the failover: $(scheduled)"
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null || true
killed=$(date +%s)
wait_until 30 "grep -q 'became leader id=ct-b' '$T/berthd-b.log'" || fail "b did not take over"
took_over=$(date +%s)
wait_until 30 '[ "$(scheduled | awk -v t='"$took_over"' "\$1 > t" | wc -l)" -ge 3 ]' ||
  fail "no runs after the failover: $(scheduled)"
on b suspend crontask/tick >/dev/null

scheduled >"$T/times"
dups=$(sort "$T/times" | uniq -d)
[ -z "$dups" ] || fail "scheduled times run twice: $dups"
# Every 2 s from the first run to the last: each time is a run or a missed one.
first=$(head -1 "$T/times"); last=$(tail -1 "$T/times")
expected=$(( (last - first) / 2 + 1 ))
runs=$(wc -l <"$T/times")
missed=$(on b get crontask tick -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["missed"]["count"])')
log "failover: killed at $killed, b led at $took_over; $runs runs, $missed missed, $expected times from first to last"
[ $((runs + missed)) -ge "$expected" ] || fail "times lost: $runs runs + $missed missed < $expected"
stop_replica "$pid_b"
log "PASS"
