#!/usr/bin/env bash
# kill -9 berthd while a Workflow runs (right after its first step started,
# and again while four steps run in parallel), restart it: the Workflow ends
# Succeeded with the right results, and every step has exactly one Task and
# every Task exactly one container (no step or attempt ever runs twice).
source "$(dirname "$0")/lib.sh"
start_berthd
cat >"$T/chain.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: chain}
spec:
  steps:
    - name: p1
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 2; echo 1']}
    - name: p2
      dependsOn: [p1]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 1; echo $(( {{steps.p1.outputs.result}} + 1 ))']}
    - name: q1
      dependsOn: [p2]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 2; echo $(( {{steps.p2.outputs.result}} * 1 ))']}
    - name: q2
      dependsOn: [p2]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 1; echo $(( {{steps.p2.outputs.result}} * 2 ))']}
    - name: q3
      dependsOn: [p2]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 2; echo $(( {{steps.p2.outputs.result}} * 3 ))']}
    - name: q4
      dependsOn: [p2]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 1; echo $(( {{steps.p2.outputs.result}} * 4 ))']}
YAML
running_of() {
  docker ps -q --filter "$(cluster_filter)" --filter "label=berth.name=$1" | wc -l
}
berth apply -f "$T/chain.yaml" >/dev/null || fail "apply"
wait_until 30 '[ "$(running_of chain-p1)" = 1 ]' || fail "step p1 did not start"
kill9_berthd
log "killed berthd while p1 runs: $(docker ps -a --filter "$(cluster_filter)" --format '{{.Names}} {{.State}}' | tr '\n' ' ')"
start_berthd

# Second crash: while the four parallel steps run (the first of their
# containers is up, the others may not have been created yet).
q_running() {
  local n=0 s
  for s in q1 q2 q3 q4; do n=$((n + $(running_of "chain-$s"))); done
  echo $n
}
wait_until 30 '[ "$(q_running)" -ge 1 ]' || fail "the parallel steps did not start: $(berth get workflow chain -o json)"
kill9_berthd
log "killed berthd while the parallel steps run: $(docker ps -a --filter "$(cluster_filter)" --format '{{.Names}} {{.State}}' | tr '\n' ' ')"
start_berthd

berth wait workflow/chain --for=condition=Succeeded --timeout 60s ||
  fail "chain did not succeed: $(berth get workflow chain -o json)"
[ "$(berth get workflow chain -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["progress"])')" = 6/6 ] ||
  fail "progress"
curl -sf --unix-socket "$T/berth.sock" -o "$T/results.json" \
  http://localhost/apis/berth/v1/namespaces/default/workflows/chain/results || fail "results endpoint"
python3 - "$T/results.json" <<'PY' || fail "results: $(cat "$T/results.json")"
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
want = {"p1": "1", "p2": "2", "q1": "2", "q2": "4", "q3": "6", "q4": "8"}
got = {k: v.get("result") for k, v in steps.items()}
sys.exit(0 if got == want else 1)
PY

tasks=$(berth get tasks -l berth.workflow=chain -o name | sort | tr '\n' ' ')
[ "$tasks" = "task/chain-p1 task/chain-p2 task/chain-q1 task/chain-q2 task/chain-q3 task/chain-q4 " ] ||
  fail "tasks of the workflow: $tasks"
[ "$(berth get tasks -o name | wc -l)" = 6 ] || fail "tasks: $(berth get tasks)"
for s in p1 p2 q1 q2 q3 q4; do
  [ "$(jget "chain-$s" .status.attempts)" = 1 ] || fail "chain-$s attempts $(jget "chain-$s" .status.attempts)"
  c=$(containers_of "chain-$s" | wc -l)
  [ "$c" = 1 ] || fail "chain-$s has $c containers: $(containers_of "chain-$s")"
done
total=$(docker ps -aq --filter "$(cluster_filter)" | wc -l)
[ "$total" = 6 ] || fail "$total containers for 6 steps: $(docker ps -a --filter "$(cluster_filter)" --format '{{.Names}}')"
dups=$(docker ps -a --filter "$(cluster_filter)" \
  --format '{{.Label "berth.uid"}}/{{.Label "berth.attempt"}}' | sort | uniq -d)
[ -z "$dups" ] || fail "attempts with two containers: $dups"
berth delete workflow chain >/dev/null || fail "delete"
wait_until 30 '[ -z "$(docker ps -aq --filter "$(cluster_filter)")" ]' || fail "containers left after delete"
stop_berthd
log "PASS"
