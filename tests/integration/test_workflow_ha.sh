#!/usr/bin/env bash
# A Workflow survives a leader change: two berthd replicas on one etcd, a
# Workflow of a chain (s1 → s2) fanning out to four steps and joining again;
# kill -9 the leader while the fan-out runs. The follower takes over and
# finishes it: every step Succeeded exactly once (one Task, attempt 1, one
# container each), results passed on correctly, and the killed replica's late
# writes are fenced (nothing duplicated).
source "$(dirname "$0")/lib.sh"
start_ha_pair wf

cat >"$T/fan.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: fan}
spec:
  steps:
    - name: s1
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo 1']}
    - name: s2
      dependsOn: [s1]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo $(( {{steps.s1.outputs.result}} + 1 ))']}
    - {name: f1, dependsOn: [s2], task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 3; echo $(( {{steps.s2.outputs.result}} * 10 + 1 ))']}}
    - {name: f2, dependsOn: [s2], task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 3; echo $(( {{steps.s2.outputs.result}} * 10 + 2 ))']}}
    - {name: f3, dependsOn: [s2], task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 3; echo $(( {{steps.s2.outputs.result}} * 10 + 3 ))']}}
    - {name: f4, dependsOn: [s2], task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 3; echo $(( {{steps.s2.outputs.result}} * 10 + 4 ))']}}
    - name: join
      dependsOn: [f1, f2, f3, f4]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo {{steps.f1.outputs.result}}+{{steps.f2.outputs.result}}+{{steps.f3.outputs.result}}+{{steps.f4.outputs.result}}']}
YAML
# Applied through the follower: every replica serves the API.
on b apply -f "$T/fan.yaml" >/dev/null || fail "apply through the follower"
running_fanout() {
  docker ps --filter "$(cluster_filter)" --format '{{.Names}}' | grep -c '^berth\.default\.fan-f' || true
}
wait_until 60 '[ "$(running_fanout)" -ge 1 ]' || fail "the fan-out did not start"
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null || true
log "killed leader a while $(running_fanout) fan-out steps ran"

wait_until 30 'grep -q "became leader id=wf-b" "$T/berthd-b.log"' || fail "b did not take over"
on b wait workflow/fan --for=condition=Succeeded --timeout=120s ||
  fail "fan did not succeed: $(on b get workflow fan -o json)"
curl -sf --unix-socket "$T/b.sock" http://localhost/apis/berth/v1/namespaces/default/workflows/fan/results |
  has '"join":{"result":"21+22+23+24"' || fail "join result wrong"

tasks=$(on b get tasks -l berth.workflow=fan -o name | sort | tr '\n' ' ')
[ "$tasks" = "task/fan-f1 task/fan-f2 task/fan-f3 task/fan-f4 task/fan-join task/fan-s1 task/fan-s2 " ] ||
  fail "tasks: $tasks"
for s in s1 s2 f1 f2 f3 f4 join; do
  a=$(on b get task "fan-$s" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("attempts"))')
  [ "$a" = 1 ] || fail "fan-$s attempts $a"
  n=$(docker ps -aq --filter "$(cluster_filter)" --filter "label=berth.name=fan-$s" | wc -l)
  [ "$n" = 1 ] || fail "fan-$s has $n containers"
done
stop_replica "$pid_b"
log "PASS"
