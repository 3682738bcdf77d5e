#!/usr/bin/env bash
# kill -9 berthd while 20 tasks run, restart it: every task completes and no
# attempt ever has two containers (deterministic names + adopt on 409).
source "$(dirname "$0")/lib.sh"
start_berthd
n=20
for i in $(seq 1 $n); do
  cat <<YAML
---
apiVersion: berth/v1
kind: Task
metadata: {name: crash-$i, labels: {suite: crash}}
spec:
  image: busybox:latest
  command: [sh, -c, 'sleep 2; echo done $i']
  network: none
YAML
done >"$T/tasks.yaml"
berth apply -f "$T/tasks.yaml" >/dev/null
# Kill in the middle of the work: some containers exist, some not yet.
wait_until 60 '[ "$(docker ps -q --filter "$(cluster_filter)" | wc -l)" -ge 3 ]' ||
  fail "containers did not start"
kill9_berthd
log "killed berthd with $(docker ps -aq --filter "$(cluster_filter)" | wc -l) containers"
start_berthd
for i in $(seq 1 $n); do
  berth wait "task/crash-$i" --for=condition=Succeeded --timeout=120s || fail "crash-$i did not succeed"
done
for i in $(seq 1 $n); do
  [ "$(jget crash-$i .status.attempts)" = 1 ] || fail "crash-$i attempts $(jget crash-$i .status.attempts)"
  c=$(containers_of "crash-$i" | wc -l)
  [ "$c" = 1 ] || fail "crash-$i has $c containers"
  berth logs "task/crash-$i" | has -x "done $i" || fail "crash-$i logs"
done
# Names are unique per (uid, attempt): a duplicate attempt would show here.
dups=$(docker ps -a --filter "$(cluster_filter)" \
  --format '{{.Label "berth.uid"}}/{{.Label "berth.attempt"}}' | sort | uniq -d)
[ -z "$dups" ] || fail "attempts with two containers: $dups"
stop_berthd
log "PASS"
