#!/usr/bin/env bash
# restartPolicy OnFailure with backoffLimit 2: exactly 3 containers, then
# Failed/BackoffLimitExceeded; waiting for Succeeded fails fast once impossible.
source "$(dirname "$0")/lib.sh"
start_berthd
berth apply -f "$BERTH_SOURCE_DIR/examples/retry/task.yaml" >/dev/null
berth wait task/flaky --for=condition=Failed --timeout=90s || fail "flaky did not fail"
[ "$(jget flaky .status.reason)" = BackoffLimitExceeded ] || fail "reason $(jget flaky .status.reason)"
[ "$(jget flaky .status.attempts)" = 3 ] || fail "attempts $(jget flaky .status.attempts)"
[ "$(jget flaky .status.exitCode)" = 3 ] || fail "exit code"
n=$(containers_of flaky | wc -l)
[ "$n" = 3 ] || fail "expected 3 containers, found $n: $(containers_of flaky)"
# Succeeded can no longer happen: wait must say so at once, not time out.
start=$SECONDS
if berth wait task/flaky --for=condition=Succeeded --timeout=30s 2>"$T/wait.err"; then
  fail "wait for Succeeded on a Failed task returned 0"
fi
[ $((SECONDS - start)) -lt 10 ] || fail "wait did not give up early"
grep -q 'can no longer' "$T/wait.err" || fail "wait error: $(cat "$T/wait.err")"
berth logs task/flaky --attempt 2 | has -x 'attempt failed' || fail "logs of attempt 2"
stop_berthd
log "PASS"
