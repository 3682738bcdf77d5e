#!/usr/bin/env bash
# The whole test suite: set up this machine (packages, dockerd, etcd), build
# with AddressSanitizer + UBSan and run every unit and integration test.
#
#   scripts/test.sh [ctest arguments, e.g. -L unit or -R hello]
#
# Stops the services it started itself when done.
set -euo pipefail
cd "$(dirname "$0")/.."
export BERTH_RUN_DIR=${BERTH_RUN_DIR:-/run/berth-test}
started_before=$(ls "$BERTH_RUN_DIR"/*.pid 2>/dev/null || true)
stop_started() {
  # Stop only what this run started (pid files that did not exist before).
  for f in "$BERTH_RUN_DIR"/etcd.pid "$BERTH_RUN_DIR"/dockerd.pid; do
    [ -f "$f" ] || continue
    case " $started_before " in *" $f "*) continue ;; esac
    kill "$(cat "$f")" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
}
trap stop_started EXIT
./scripts/setup.sh --preset asan --etcd
if [ -f "$BERTH_RUN_DIR/dockerd.pid" ]; then
  # Tests that restart the engine need to know how it was started.
  export BERTH_TEST_DOCKERD_PIDFILE="$BERTH_RUN_DIR/dockerd.pid"
fi
if [ -f "$BERTH_RUN_DIR/etcd.pid" ]; then
  # Tests that pause etcd (SIGSTOP/SIGCONT) need its pid.
  export BERTH_TEST_ETCD_PIDFILE="$BERTH_RUN_DIR/etcd.pid"
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build/asan --output-on-failure --timeout 600 "$@"
