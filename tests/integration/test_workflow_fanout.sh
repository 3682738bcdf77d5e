#!/usr/bin/env bash
# Fan-out and retries against the real engine: withItems of 50 objects at
# parallelism 5 never has more than 5 containers at once (Docker's own start
# and finish times) and every item runs once with its own {{item.n}};
# retryStrategy exitCodes {notIn: [2]} fails an exit 2 at once and retries an
# exit 1; `berth retry` reruns only the failed branch (the succeeded steps keep
# their single container) and the Workflow then succeeds.
source "$(dirname "$0")/lib.sh"
start_berthd

{
  cat <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: wide}
spec:
  parallelism: 5
  steps:
    - name: each
      withItems:
YAML
  for i in $(seq 0 49); do echo "        - {n: $i, name: item-$i}"; done
  cat <<'YAML'
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 0.2; echo "{{item.name}} $(( {{item.n}} * 2 ))"']}
    - name: join
      dependsOn: [each]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo done']}
YAML
} >"$T/wide.yaml"
berth apply -f "$T/wide.yaml" >/dev/null || fail "apply wide"
berth wait workflow/wide --for=condition=Succeeded --timeout 180s ||
  fail "wide: $(berth get workflow wide -o json | head -c 3000)"
for i in 0 17 49; do
  [ "$(berth logs "task/wide-each-$i")" = "item-$i $((i * 2))" ] || fail "item $i: $(berth logs "task/wide-each-$i")"
done
[ "$(containers_named wide-each- | sort -u | wc -l)" = 50 ] && [ "$(containers_named wide-each- | wc -l)" = 50 ] ||
  fail "containers of each: $(containers_named wide-each- | wc -l)"
overlap=$(max_overlap wide-each-)
log "at most $overlap items at once"
[ "$overlap" -le 5 ] || fail "$overlap items ran at once, parallelism is 5"
[ "$overlap" -ge 2 ] || fail "items never ran in parallel"

log "retryStrategy"
cat >"$T/rules.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: rules}
spec:
  failFast: false
  workspace: {}
  steps:
    - name: usage
      retryStrategy: {limit: 3, backoff: {initialSeconds: 0}, exitCodes: {notIn: [2]}}
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo bad usage >&2; exit 2']}
    - name: flaky
      retryStrategy: {limit: 3, backoff: {initialSeconds: 0}, exitCodes: {notIn: [2]}}
      task:
        image: "busybox:latest"
        network: none
        command: [sh, -c, 'if [ -f /workspace/flaky ]; then echo ok; else touch /workspace/flaky; exit 1; fi']
YAML
berth apply -f "$T/rules.yaml" >/dev/null || fail "apply rules"
berth wait workflow/rules --for=condition=Failed --timeout 60s ||
  fail "rules: $(berth get workflow rules -o json)"
[ "$(jget rules-usage .status.attempts)" = 1 ] || fail "exit 2 retried: $(jget rules-usage .status)"
[ "$(wfq rules 'step("flaky")["phase"]')" = Succeeded ] || fail "flaky: $(wfq rules 'step("flaky")')"
[ "$(jget rules-flaky .status.attempts)" = 2 ] || fail "flaky attempts: $(jget rules-flaky .status)"

log "berth retry"
cat >"$T/again.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: again}
spec:
  workspace: {}
  steps:
    - {name: setup, task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo setup']}}
    - name: fragile
      dependsOn: [setup]
      task:
        image: "busybox:latest"
        network: none
        command: [sh, -c, 'if [ -f /workspace/fixed ]; then echo fixed; else touch /workspace/fixed; exit 1; fi']
    - {name: after, dependsOn: [fragile], task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo after {{steps.setup.outputs.result}}']}}
YAML
berth apply -f "$T/again.yaml" >/dev/null || fail "apply again"
berth wait workflow/again --for=condition=Failed --timeout 60s || fail "again did not fail"
[ "$(wfq again 'step("after")["phase"]')" = Skipped ] || fail "after not skipped"
berth retry workflow/again --wait >"$T/retry.out" 2>&1 || fail "berth retry: $(cat "$T/retry.out"); $(berth get workflow again -o json)"
[ "$(wfq again 'o["status"]["phase"]')" = Succeeded ] || fail "again after retry"
[ "$(containers_of again-setup | wc -l)" = 1 ] || fail "setup reran: $(containers_of again-setup)"
[ "$(berth logs task/again-fragile)" = fixed ] || fail "fragile: $(berth logs task/again-fragile)"
[ "$(berth logs task/again-after)" = "after setup" ] || fail "after: $(berth logs task/again-after)"
berth retry workflow/again 2>"$T/retry.err" && fail "retry of a Succeeded workflow worked"
has "Failed" "$T/retry.err" || fail "retry error: $(cat "$T/retry.err")"
log "ok"
