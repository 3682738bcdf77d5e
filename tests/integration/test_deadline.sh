#!/usr/bin/env bash
# activeDeadlineSeconds stops a sleep 600 task (SIGTERM, SIGKILL after the
# grace period: busybox sleep as PID 1 ignores SIGTERM). Terminal only when
# stopped: while its container stops the Task shows reason DeadlineExceeded
# and condition Terminating=True; the moment `berth wait --for=condition=Failed`
# returns, no container of the Task is running.
source "$(dirname "$0")/lib.sh"
start_berthd
berth apply -f "$BERTH_SOURCE_DIR/examples/deadline/task.yaml" >/dev/null

cond() { # cond TYPE: "<status> <reason>" of that condition
  berth get task too-slow -o json | python3 -c "
import json,sys
o=json.load(sys.stdin)
c=[c for c in o.get('status',{}).get('conditions',[]) if c['type']==sys.argv[1]]
print(c[0]['status'], c[0]['reason'] if c else '') if c else print('')" "$1"
}

berth wait task/too-slow --for=condition=Terminating --timeout=30s || fail "never Terminating"
[ "$(jget too-slow .status.phase)" = Running ] || fail "phase $(jget too-slow .status.phase) while stopping"
[ "$(jget too-slow .status.reason)" = DeadlineExceeded ] || fail "reason $(jget too-slow .status.reason)"
containers_of too-slow | has running || fail "the container should still be stopping"
[ "$(cond Failed)" != "True DeadlineExceeded" ] || fail "Failed before the container stopped"

berth wait task/too-slow --for=condition=Failed --timeout=60s || fail "not failed"
# At once: nothing of it may run any more.
if containers_of too-slow | has running; then
  containers_of too-slow >&2
  fail "Failed while its container still runs"
fi
[ "$(jget too-slow .status.reason)" = DeadlineExceeded ] || fail "reason $(jget too-slow .status.reason)"
[ "$(jget too-slow .status.exitCode)" = 137 ] || fail "exit code $(jget too-slow .status.exitCode), want 137 (SIGKILL)"
[ "$(cond Terminating)" = "False DeadlineExceeded" ] || fail "Terminating condition: $(cond Terminating)"
n=$(containers_of too-slow | wc -l)
[ "$n" = 1 ] || fail "expected 1 container, found $n"
stop_berthd
log "PASS"
