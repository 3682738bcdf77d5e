#!/usr/bin/env bash
# ttlSecondsAfterFinished removes the Task and its container after it finishes.
source "$(dirname "$0")/lib.sh"
start_berthd
berth apply -f "$BERTH_SOURCE_DIR/examples/cleanup/task.yaml" >/dev/null
berth wait task/short-lived --for=condition=Succeeded --timeout=60s || fail "not succeeded"
wait_until 30 '! berth get task short-lived >/dev/null 2>&1' || fail "task not removed by TTL"
wait_until 30 '[ -z "$(containers_of short-lived)" ]' || fail "container not removed"
stop_berthd
log "PASS"
