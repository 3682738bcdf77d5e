#!/usr/bin/env bash
# Step conditions and handlers against the real engine: a diamond whose d
# depends on b.Failed runs d and succeeds (b's failure is expected); a when
# that is false skips its step and a dependant sees Skipped; onExit runs after
# a failure (seeing {{workflow.status}} and {{workflow.failures}}), after
# `berth stop` (the running step is stopped, reason Stopped) and after
# activeDeadlineSeconds (DeadlineExceeded); continueOn.failed lets the rest
# run and the Workflow succeed.
source "$(dirname "$0")/lib.sh"
start_berthd
task() { printf '{image: "busybox:latest", network: none, command: [sh, -c, %s]}' "'$1'"; }

cat >"$T/diamond.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: diamond}
spec:
  steps:
    - {name: a, task: $(task 'echo a')}
    - {name: b, dependsOn: [a], task: $(task 'exit 1')}
    - {name: c, dependsOn: [a], task: $(task 'echo c')}
    - {name: d, depends: "b.Failed && c.Succeeded", task: $(task 'echo handled')}
    - {name: e, depends: "b.Succeeded", task: $(task 'echo never')}
YAML
cat >"$T/when.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: when}
spec:
  steps:
    - {name: count, task: $(task 'echo 0')}
    - {name: load, dependsOn: [count], when: "{{steps.count.outputs.result}} > 0", task: $(task 'echo load')}
    - {name: after, dependsOn: [load], task: $(task 'echo after')}
    - {name: other, dependsOn: [count], when: "'{{steps.count.outputs.result}}' == '0'", task: $(task 'echo other')}
YAML
cat >"$T/exit.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: exit}
spec:
  steps:
    - {name: broken, task: $(task 'exit 3')}
  onExit:
    task:
      image: "busybox:latest"
      network: none
      env: [{name: FAILURES, value: '{{workflow.failures}}'}]
      command: [sh, -c, 'echo "status={{workflow.status}} failures=\$FAILURES"']
YAML
cat >"$T/stop.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: stop}
spec:
  steps:
    - {name: long, task: $(task 'trap "exit 143" TERM; sleep 60 & wait')}
    - {name: later, dependsOn: [long], task: $(task 'echo later')}
  onExit:
    task: $(task 'echo "cleanup after {{workflow.status}}"')
YAML
cat >"$T/deadline.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 2
  steps:
    - {name: slow, task: $(task 'trap "exit 143" TERM; sleep 60 & wait')}
  onExit:
    task: $(task 'echo "{{workflow.status}}"')
YAML
cat >"$T/continue.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: continue}
spec:
  steps:
    - {name: flaky, continueOn: {failed: true}, task: $(task 'exit 4')}
    - {name: next, dependsOn: [flaky], task: $(task 'echo next')}
YAML
for f in diamond when exit stop deadline continue; do
  berth apply -f "$T/$f.yaml" >/dev/null || fail "apply $f"
done

log "diamond"
berth wait workflow/diamond --for=condition=Succeeded --timeout 60s ||
  fail "diamond: $(berth get workflow diamond -o json)"
[ "$(wfq diamond 'step("b")["phase"]')" = Failed ] || fail "b"
[ "$(wfq diamond 'step("d")["phase"]')" = Succeeded ] || fail "d"
[ "$(berth logs task/diamond-d)" = handled ] || fail "d's logs"
[ "$(wfq diamond 'step("e")["phase"] + "/" + step("e")["reason"]')" = Skipped/DependsFalse ] ||
  fail "e: $(wfq diamond 'step("e")')"
[ -z "$(containers_of diamond-e)" ] || fail "e ran"

log "when"
berth wait workflow/when --for=condition=Succeeded --timeout 60s ||
  fail "when: $(berth get workflow when -o json)"
[ "$(wfq when 'step("load")["phase"] + "/" + step("load")["reason"]')" = Skipped/WhenFalse ] ||
  fail "load: $(wfq when 'step("load")')"
[ "$(wfq when 'step("after")["phase"] + "/" + step("after")["reason"]')" = Skipped/DependencyFailed ] ||
  fail "after: $(wfq when 'step("after")')"
wfq when 'step("after")["message"]' | has "load was skipped" || fail "after's message"
[ "$(berth logs task/when-other)" = other ] || fail "other did not run"

log "onExit after a failure"
berth wait workflow/exit --for=condition=Failed --timeout 60s || fail "exit: $(berth get workflow exit -o json)"
[ "$(wfq exit 'o["status"]["reason"]')" = StepFailed ] || fail "exit reason"
berth logs task/exit-onexit | has -x 'status=Failed failures=\[{"step":"broken","reason":"Error","message":"exit code 3"}\]' ||
  fail "onExit saw: $(berth logs task/exit-onexit)"
[ "$(wfq exit 'step("onExit")["phase"]')" = Succeeded ] || fail "onExit phase"

log "berth stop"
wait_until 30 '[ "$(wfq stop '"'"'step("long")["phase"]'"'"')" = Running ] && [ -n "$(docker ps -q --filter "$(cluster_filter)" --filter label=berth.name=stop-long)" ]' ||
  fail "long never ran"
start=$SECONDS
berth stop workflow/stop | has "stop" || fail "berth stop"
berth wait workflow/stop --for=condition=Failed --timeout 60s || fail "stop: $(berth get workflow stop -o json)"
[ $((SECONDS - start)) -lt 20 ] || fail "stopping took $((SECONDS - start)) s"
[ "$(wfq stop 'o["status"]["reason"]')" = Stopped ] || fail "stop reason: $(wfq stop 'o["status"]')"
[ "$(wfq stop 'step("long")["reason"]')" = Stopped ] || fail "long: $(wfq stop 'step("long")')"
[ "$(wfq stop 'step("later")["phase"]')" = Skipped ] || fail "later"
[ "$(berth logs task/stop-onexit)" = "cleanup after Failed" ] || fail "stop's onExit: $(berth logs task/stop-onexit)"
[ -z "$(docker ps -q --filter "$(cluster_filter)" --filter label=berth.name=stop-long)" ] || fail "long still runs"

log "activeDeadlineSeconds"
berth wait workflow/deadline --for=condition=Failed --timeout 60s ||
  fail "deadline: $(berth get workflow deadline -o json)"
[ "$(wfq deadline 'o["status"]["reason"]')" = DeadlineExceeded ] || fail "deadline reason"
[ "$(berth logs task/deadline-onexit)" = Failed ] || fail "deadline's onExit"

log "continueOn"
berth wait workflow/continue --for=condition=Succeeded --timeout 60s ||
  fail "continue: $(berth get workflow continue -o json)"
[ "$(wfq continue 'step("flaky")["phase"]')" = Failed ] || fail "flaky"
[ "$(berth logs task/continue-next)" = next ] || fail "next"
log "ok"
