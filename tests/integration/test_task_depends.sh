#!/usr/bin/env bash
# Task spec.dependsOn: a chain applied in reverse order waits, then runs in
# order; a failed dependency fails its dependent without a container; a cycle
# is reported on each of its Tasks; a missing dependency waits until applied.
source "$(dirname "$0")/lib.sh"
start_berthd

# task NAME SCRIPT [DEPENDENCY...]: a Task manifest on stdout.
task() {
  local name=$1 script=$2 deps=
  shift 2
  [ $# -eq 0 ] || deps="  dependsOn: [$(IFS=,; echo "$*")]"
  cat <<EOF
apiVersion: berth/v1
kind: Task
metadata: {name: $name}
spec:
  image: busybox:latest
  network: none
  command: [sh, -c, '$script']
$deps
EOF
}

# cond TASK TYPE FIELD: a field of one of the Task's conditions ("" if absent).
cond() {
  berth get task "$1" -o json | python3 -c "
import json,sys
for c in json.load(sys.stdin).get('status',{}).get('conditions',[]):
    if c.get('type')==sys.argv[1]: print(c.get(sys.argv[2],'')); break" "$2" "$3"
}

# Docker's time of the Task's only container as nanoseconds since the epoch.
docker_time() {
  local id
  id=$(jget "$1" .status.containerID)
  [ -n "$id" ] || fail "$1 has no container"
  docker inspect "$id" --format "{{.State.$2}}" | python3 -c "
import sys,datetime
s=sys.stdin.read().strip()
base,_,frac=s.rstrip('Z').partition('.')
t=datetime.datetime.strptime(base,'%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp())*10**9+int((frac+'000000000')[:9]))"
}

waits_for() { # TASK REASON MESSAGE
  [ "$(cond "$1" Waiting status)" = True ] && [ "$(cond "$1" Waiting reason)" = "$2" ] &&
    [ "$(cond "$1" Waiting message)" = "$3" ]
}

# 1. a → b → c, applied in reverse order.
task c 'echo c' b | berth apply -f - >/dev/null
task b 'sleep 1; echo b' a | berth apply -f - >/dev/null
wait_until 15 'waits_for c DependenciesNotReady "waiting for task b (Pending)"' ||
  fail "c: Waiting $(cond c Waiting status)/$(cond c Waiting reason): $(cond c Waiting message)"
wait_until 15 'waits_for b DependenciesNotReady "waiting for task a (not found)"' ||
  fail "b: Waiting $(cond b Waiting status)/$(cond b Waiting reason): $(cond b Waiting message)"
[ "$(jget c .status.phase)" = Pending ] || fail "c phase $(jget c .status.phase)"
[ "$(jget b .status.reason)" = DependenciesNotReady ] || fail "b reason $(jget b .status.reason)"
[ -z "$(containers_of b)$(containers_of c)" ] || fail "a waiting Task has a container"
task a 'sleep 1; echo a' | berth apply -f - >/dev/null
berth wait task/c --for=condition=Succeeded --timeout=30s || fail "c did not succeed"
for t in a b; do
  [ "$(jget $t .status.phase)" = Succeeded ] || fail "$t phase $(jget $t .status.phase)"
done
[ "$(cond c Waiting status)" = False ] || fail "c Waiting $(cond c Waiting status)"
[ "$(cond c Waiting reason)" = DependenciesReady ] || fail "c Waiting $(cond c Waiting reason)"
[ "$(docker_time a FinishedAt)" -le "$(docker_time b StartedAt)" ] || fail "b started before a ended"
[ "$(docker_time b FinishedAt)" -le "$(docker_time c StartedAt)" ] || fail "c started before b ended"

# 2. A failed dependency fails its dependent, which never runs.
{ task f 'exit 1'; echo '  restartPolicy: Never'; echo ---; task g 'echo g' f; } |
  berth apply -f - >/dev/null
berth wait task/g --for=condition=Failed --timeout=30s || fail "g did not fail"
[ "$(jget f .status.phase)" = Failed ] || fail "f phase $(jget f .status.phase)"
[ "$(jget g .status.reason)" = DependencyFailed ] || fail "g reason $(jget g .status.reason)"
[ "$(jget g .status.message)" = "dependency f failed" ] || fail "g message $(jget g .status.message)"
[ "$(jget g .status.attempts)" = 0 ] || fail "g attempts $(jget g .status.attempts)"
[ -z "$(containers_of g)" ] || fail "g had a container: $(containers_of g)"

# 3. A cycle x ↔ y is reported on both, and neither runs.
{ task x 'echo x' y; echo ---; task y 'echo y' x; } | berth apply -f - >/dev/null
wait_until 15 'waits_for x DependencyCycle "dependency cycle: x → y → x"' ||
  fail "x: Waiting $(cond x Waiting reason): $(cond x Waiting message)"
wait_until 15 'waits_for y DependencyCycle "dependency cycle: y → x → y"' ||
  fail "y: Waiting $(cond y Waiting reason): $(cond y Waiting message)"
[ "$(jget x .status.phase)$(jget y .status.phase)" = PendingPending ] || fail "cycle phases"
[ -z "$(containers_of x)$(containers_of y)" ] || fail "a Task of the cycle has a container"

# 4. A missing dependency: waits, says so, runs once it is applied and succeeds.
task m 'echo m' n | berth apply -f - >/dev/null
wait_until 15 'waits_for m DependenciesNotReady "waiting for task n (not found)"' ||
  fail "m: Waiting $(cond m Waiting reason): $(cond m Waiting message)"
task n 'echo n' | berth apply -f - >/dev/null
berth wait task/m --for=condition=Succeeded --timeout=30s || fail "m did not succeed"
[ "$(docker_time n FinishedAt)" -le "$(docker_time m StartedAt)" ] || fail "m started before n ended"

stop_berthd
log "PASS"
