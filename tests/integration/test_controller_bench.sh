#!/usr/bin/env bash
# bench/controller.sh in a small form, so that it does not rot: berthd runs
# 200 Tasks against the in-memory fake engine (bench/fake-engine.c); every
# Task must end Succeeded, the engine must have seen exactly one create and
# one start per Task (no name conflicts, no restarts), and berthd and the
# engine must exit cleanly (under ASan: no leaks). Twice: containers that
# exit at once (the inspect right after the start finds them exited), and
# containers that run 200 ms (their die event brings the Task back). And
# once where berthd's engine lacks the image: the Tasks fail, and the bench
# must say so and fail. Needs no dockerd.
source "$(dirname "$0")/lib.sh"

bin=$(dirname "$BERTHD")
[ -x "$bin/bench/fake-engine" ] || fail "no $bin/bench/fake-engine: build the target fake-engine"

run() {
  local out rc=0
  out=$(TIMEOUT=120 bash "$BERTH_SOURCE_DIR/bench/controller.sh" 200 "$bin" 2>&1) || rc=$?
  printf '%s\n' "$out" >&2
  [ "$rc" = 0 ] || fail "bench/controller.sh (RUN_MS=${RUN_MS:-0}) exited with $rc"
  printf '%s\n' "$out" | has -E '^berthd: [0-9]+ lifecycles/s, CPU [0-9.]+s = [0-9.]+ ms per lifecycle, peak RSS [0-9]+ MiB$' ||
    fail "no berthd line in the output"
  printf '%s\n' "$out" | has -E '^berth [0-9]+/s baseline [0-9]+/s ratio [0-9.]+ \(berth/baseline; 200 tasks\)$' ||
    fail "no ratio line in the output"
}

log "containers that exit at once"
RUN_MS=0 run
log "containers that run 200 ms (their die event finishes the Tasks)"
RUN_MS=200 run
log "an engine without busybox:latest: the bench fails"
rc=0
out=$(ENGINE_ARGS="--image alpine:3.19" TIMEOUT=15 bash "$BERTH_SOURCE_DIR/bench/controller.sh" 20 "$bin" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "the bench passed with Tasks that cannot run: $out"
printf '%s\n' "$out" | has -E '^controller.sh: 0 of 20 Tasks Succeeded' || fail "no count of Succeeded: $out"
printf '%s\n' "$out" | has -E '^ +20 Failed$' || fail "the Tasks did not fail: $out"
log "PASS"
