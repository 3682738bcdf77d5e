#!/usr/bin/env bash
# activeDeadlineSeconds kills a sleep 600 task: Failed/DeadlineExceeded, the
# container stops (SIGTERM, SIGKILL after the grace period).
source "$(dirname "$0")/lib.sh"
start_berthd
berth apply -f "$BERTH_SOURCE_DIR/examples/deadline/task.yaml" >/dev/null
berth wait task/too-slow --for=condition=Failed --timeout=60s || fail "not failed"
[ "$(jget too-slow .status.reason)" = DeadlineExceeded ] || fail "reason $(jget too-slow .status.reason)"
wait_until 30 '! containers_of too-slow | has running' || fail "container still running"
n=$(containers_of too-slow | wc -l)
[ "$n" = 1 ] || fail "expected 1 container, found $n"
stop_berthd
log "PASS"
