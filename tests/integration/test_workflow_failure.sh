#!/usr/bin/env bash
# A failing step: with failFast (the default) its dependents are Skipped
# (DependencyFailed), steps not yet started are Skipped (FailFast), a step
# already running finishes (the Workflow is Terminating meanwhile), and the
# Workflow fails with StepFailed naming the step once nothing runs; waiting for Succeeded then gives up at once. With failFast: false the
# independent branch runs to completion. An invalid Workflow (a dependency
# cycle, a result of a step that is not a dependency) is rejected with file,
# line and field, and nothing is stored.
source "$(dirname "$0")/lib.sh"
start_berthd

# wf NAME [FAILFAST]: a → b (1 s, exit 3) → c, and a → d (3 s) → e: d starts with b
# and is still running when b fails.
wf() {
  cat <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: $1}
spec:
${2:+  failFast: $2}
  steps:
    - name: a
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo a']}
    - name: b
      dependsOn: [a]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 1; echo broken >&2; exit 3']}
    - name: c
      dependsOn: [b]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo c']}
    - name: d
      dependsOn: [a]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 3; echo d']}
    - name: e
      dependsOn: [d]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo e']}
YAML
}
# check_status NAME 'step:phase[:reason]'... — the Workflow Failed with
# StepFailed on step b, and each step as given; prints what differs.
check_status() {
  local name=$1; shift
  berth get workflow "$name" -o json >"$T/$name.json"
  python3 - "$T/$name.json" "$name" "$@" <<'PY' || fail "status of $name: $(cat "$T/$name.json")"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
errs = []
if st.get("phase") != "Failed": errs.append("phase %r" % st.get("phase"))
if st.get("reason") != "StepFailed": errs.append("reason %r" % st.get("reason"))
msg = st.get("message") or ""
if not msg.startswith("step b failed"): errs.append("message %r" % msg)
if not st.get("completionTime"): errs.append("no completionTime")
steps = {s["name"]: s for s in st.get("steps", [])}
want_ok = 0
for spec in sys.argv[3:]:
    name, phase, *reason = spec.split(":")
    s = steps.get(name, {})
    if s.get("phase") != phase: errs.append("step %s phase %r, want %s" % (name, s.get("phase"), phase))
    if reason and s.get("reason") != reason[0]:
        errs.append("step %s reason %r, want %s" % (name, s.get("reason"), reason[0]))
    if phase == "Succeeded": want_ok += 1
    if phase == "Skipped" and "task" in s: errs.append("skipped step %s has a task" % name)
    if phase in ("Succeeded", "Failed") and s.get("task") != sys.argv[2] + "-" + name:
        errs.append("step %s task %r" % (name, s.get("task")))
if st.get("progress") != "%d/5" % want_ok: errs.append("progress %r" % st.get("progress"))
b = steps.get("b", {})
if b.get("exitCode") != 3: errs.append("step b exitCode %r" % b.get("exitCode"))
if b.get("message") != "exit code 3": errs.append("step b message %r" % b.get("message"))
for e in errs: print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
}
# Nanoseconds since the epoch of a container's State.StartedAt/FinishedAt.
container_ns() {
  docker inspect --format "{{.State.$2}}" "$(docker ps -aq --filter "$(cluster_filter)" \
    --filter "label=berth.name=$1")" | python3 -c '
import calendar, re, sys
y, mo, d, h, mi, s, frac = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$",
                                    sys.stdin.read().strip()).groups()
print(calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s))) * 10**9 +
      int((frac or "0").ljust(9, "0")[:9]))'
}

# --- failFast: true, the default (not spelled out) -----------------------
wf x >"$T/x.yaml"
berth apply -f "$T/x.yaml" >/dev/null || fail "apply x"
# Terminal only when stopped: b has failed while d still runs, so x is
# Terminating (failFast waits for d), not Failed yet.
berth wait workflow/x --for=condition=Terminating --timeout 30s ||
  fail "x never Terminating: $(berth get workflow x -o json)"
[ "$(berth get workflow x -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["phase"])')" = Running ] ||
  fail "x not Running while d runs: $(berth get workflow x -o json)"
berth wait workflow/x --for=condition=Failed --timeout 60s || fail "x did not fail: $(berth get workflow x -o json)"
for s in a b c d e; do
  if containers_of "x-$s" | has running; then fail "x Failed while step $s still runs"; fi
done
check_status x a:Succeeded b:Failed:Error c:Skipped:DependencyFailed d:Succeeded e:Skipped:FailFast
for s in a b d; do
  [ "$(containers_of "x-$s" | wc -l)" = 1 ] || fail "step $s: containers $(containers_of "x-$s")"
done
for s in c e; do
  berth get task "x-$s" >/dev/null 2>&1 && fail "skipped step $s has a Task"
  [ -z "$(containers_of "x-$s")" ] || fail "skipped step $s has containers: $(containers_of "x-$s")"
done
# d was already running when b failed, and finished: it ran alongside b.
[ "$(container_ns x-d StartedAt)" -lt "$(container_ns x-b FinishedAt)" ] ||
  fail "d did not start before b failed: this scenario tests nothing"
# Succeeded can no longer happen: wait must say so at once, not time out.
start=$SECONDS
if berth wait workflow/x --for=condition=Succeeded --timeout=30s 2>"$T/wait.err"; then
  fail "wait for Succeeded on a Failed workflow returned 0"
fi
[ $((SECONDS - start)) -lt 10 ] || fail "wait did not give up early"
has 'can no longer' "$T/wait.err" || fail "wait error: $(cat "$T/wait.err")"

# --- failFast: false: the independent branch d → e runs to completion ---
wf y false >"$T/y.yaml"
berth apply -f "$T/y.yaml" >/dev/null || fail "apply y"
berth wait workflow/y --for=condition=Failed --timeout 60s || fail "y did not fail: $(berth get workflow y -o json)"
check_status y a:Succeeded b:Failed:Error c:Skipped:DependencyFailed d:Succeeded e:Succeeded
[ "$(container_ns y-e StartedAt)" -gt "$(container_ns y-b FinishedAt)" ] ||
  fail "e did not start after b failed: this scenario tests nothing"
[ "$(containers_of y-e | wc -l)" = 1 ] || fail "step e: containers $(containers_of y-e)"
[ -z "$(containers_of y-c)" ] || fail "skipped step c has containers: $(containers_of y-c)"
berth logs task/y-e | has -x e || fail "logs of step e"

# --- invalid: rejected whole, with file:line and field, nothing stored ---
cat >"$T/bad.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: cyclic}
spec:
  steps:
    - name: a
      dependsOn: [b]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo a']}
    - name: b
      dependsOn: [a]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo b']}
---
apiVersion: berth/v1
kind: Workflow
metadata: {name: peeking}
spec:
  steps:
    - name: a
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo a']}
    - name: c
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo {{steps.a.outputs.result}}']}
---
apiVersion: berth/v1
kind: Workflow
metadata: {name: fine}
spec:
  steps:
    - name: a
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo a']}
YAML
if berth apply -f "$T/bad.yaml" 2>"$T/err"; then fail "invalid workflows accepted"; fi
has -F 'bad.yaml:7:7: spec.steps[0].dependsOn: dependency cycle: a -> b -> a' "$T/err" ||
  fail "cycle error: $(cat "$T/err")"
has -E 'bad.yaml:21:[0-9]+: spec\.steps\[1\]\.task\.command\[2\]: .*step "a" is not a dependency of step "c"' "$T/err" ||
  fail "result reference error: $(cat "$T/err")"
for n in cyclic peeking fine; do
  berth get workflow "$n" >/dev/null 2>&1 && fail "workflow $n was stored"
done
[ -z "$(berth get tasks -l berth.workflow=cyclic -o name 2>/dev/null)" ] || fail "tasks of cyclic"
# The server validates too (a client that skips local checks).
code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$T/berth.sock" \
  -X POST -H 'Content-Type: application/yaml' --data-binary @"$T/bad.yaml" \
  http://localhost/apis/berth/v1/apply)
[ "$code" = 422 ] || fail "server answered $code: $(cat "$T/resp")"
has 'dependency cycle' "$T/resp" || fail "server error lacks the cycle: $(cat "$T/resp")"
has 'spec.steps\[0\].dependsOn' "$T/resp" || fail "server error lacks the field: $(cat "$T/resp")"
for n in cyclic peeking fine; do
  berth get workflow "$n" >/dev/null 2>&1 && fail "workflow $n was stored by the server"
done

# docs/reference/workflow.md: the message names "the first failed step and its
# Task's reason and message (`step transform failed: Error: exit code 1`)".
for n in x y; do
  msg=$(berth get workflow "$n" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("message"))')
  [ "$msg" = "step b failed: Error: exit code 3" ] ||
    fail "workflow $n message '$msg', documented: 'step b failed: Error: exit code 3'"
done
# A step whose Task name is taken by someone else's Task fails (TaskConflict)
# without touching that Task; a step whose Task is deleted while it runs fails
# (TaskLost).
cat >"$T/owned.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: clash-a}
spec: {image: "busybox:latest", network: none, command: [sh, -c, 'echo mine']}
---
apiVersion: berth/v1
kind: Workflow
metadata: {name: clash}
spec:
  steps:
    - name: a
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo theirs']}
---
apiVersion: berth/v1
kind: Workflow
metadata: {name: lost}
spec:
  steps:
    - name: long
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 30']}
YAML
berth apply -f "$T/owned.yaml" >/dev/null || fail "apply owned.yaml"
berth wait workflow/clash --for=condition=Failed --timeout 30s || fail "clash did not fail"
step_of() { # WORKFLOW STEP FIELD
  berth get workflow "$1" -o json | python3 -c '
import json, sys
st = [s for s in json.load(sys.stdin)["status"]["steps"] if s["name"] == sys.argv[1]][0]
print(st.get(sys.argv[2], ""))' "$2" "$3"
}
[ "$(step_of clash a reason)" = TaskConflict ] || fail "clash: $(berth get workflow clash -o json)"
berth get task clash-a -o json | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert not o["metadata"].get("ownerReferences"), o
' || fail "the user's Task clash-a was taken over"
wait_until 30 '[ "$(step_of lost long phase)" = Running ]' || fail "lost: step never ran"
berth delete task lost-long >/dev/null || fail "delete lost-long"
berth wait workflow/lost --for=condition=Failed --timeout 30s || fail "lost did not fail"
[ "$(step_of lost long reason)" = TaskLost ] || fail "lost: $(berth get workflow lost -o json)"

stop_berthd
log "PASS"
