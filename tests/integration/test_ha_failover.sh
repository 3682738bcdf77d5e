#!/usr/bin/env bash
# Two berthd replicas on one etcd and one dockerd, with leader election: apply
# 30 tasks, kill -9 the leader midway. The follower takes over (the failover
# time, from the kill to its "became leader" log line, is printed and must be
# under 20 s), every task ends Succeeded, no (uid, attempt) ever has two
# containers, and the killed replica, restarted, follows the new leader.
source "$(dirname "$0")/lib.sh"
start_ha_pair it
on b get leader | has -E '^it-a +false ' || fail "b: get leader: $(on b get leader)"
on a get leader -o json | has '"self": *true' || fail "a: get leader: $(on a get leader -o json)"
curl -sf --unix-socket "$T/b.sock" 'http://localhost/readyz?verbose' | has -x 'leader: it-a' ||
  fail "b: readyz does not name the leader"

n=30
for i in $(seq 1 $n); do
  cat <<YAML
---
apiVersion: berth/v1
kind: Task
metadata: {name: ha-$i, labels: {suite: ha}}
spec:
  image: busybox:latest
  command: [sh, -c, 'sleep 1; echo done $i']
  network: none
YAML
done >"$T/tasks.yaml"
# Writes go through the follower: every replica serves the API.
on b apply -f "$T/tasks.yaml" >/dev/null || fail "apply through the follower"

ha_containers() {
  docker ps -a --filter "$(cluster_filter)" --format '{{.Names}}' | grep -c '^berth\.default\.ha-' || true
}
wait_until 90 '[ "$(ha_containers)" -ge 8 ]' || fail "containers did not start"
t_kill=$(date +%s.%N)
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null || true
log "killed leader a with $(ha_containers) containers"

wait_until 30 'grep -q "became leader id=it-b" "$T/berthd-b.log"' || fail "b did not take over"
ts=$(grep -m1 "became leader id=it-b" "$T/berthd-b.log" | cut -d' ' -f1)
failover=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" \
  "$t_kill" "$(date -d "$ts" +%s.%N)")
log "failover time: ${failover}s (lease 6s, retry 1s)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 20 else 1)" "$failover" ||
  fail "failover took ${failover}s (>= 20s)"

for i in $(seq 1 $n); do
  on b wait "task/ha-$i" --for=condition=Succeeded --timeout=180s >/dev/null ||
    fail "ha-$i did not succeed: $(on b get task ha-$i)"
done
for i in $(seq 1 $n); do
  a=$(on b get task "ha-$i" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("attempts"))')
  [ "$a" = 1 ] || fail "ha-$i attempts $a"
done
dups=$(docker ps -a --filter "$(cluster_filter)" \
  --format '{{.Names}} {{.Label "berth.uid"}}/{{.Label "berth.attempt"}}' |
  awk '$1 ~ /^berth\.default\.ha-/ { print $2 }' | sort | uniq -d)
[ -z "$dups" ] || fail "attempts with two containers: $dups"

# The killed replica comes back as a follower.
start_replica a "${ha[@]}" --leader-id it-a
pid_a=$REPLICA_PID
wait_until 30 'grep -q "following leader=it-b" "$T/berthd-a.log"' || fail "restarted a does not follow b"
on a get leader | has -E '^it-b +false ' || fail "a: get leader: $(on a get leader)"

# A clean stop hands over at once: the leader revokes its lease.
t_stop=$(date +%s)
stop_replica "$pid_b"
wait_until 10 '[ "$(grep -c "became leader id=it-a" "$T/berthd-a.log")" -ge 2 ]' ||
  fail "a did not take over after b stopped cleanly"
log "handover after a clean stop: $(($(date +%s) - t_stop))s"
stop_replica "$pid_a"
log "PASS (failover ${failover}s)"
