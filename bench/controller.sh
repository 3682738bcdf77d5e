#!/usr/bin/env bash
# The controller's own ceiling, measured apart from dockerd: berthd (SQLite
# store) runs N trivial Tasks (busybox:latest, command `true`) against
# bench/fake-engine.c, an in-memory Engine API on a unix socket that answers
# at once and emits /events at once. Nothing in berthd is bypassed: the Tasks
# go through `berth apply` (files of 1,000, requests of 500), the reconciler, the container
# cache and its event stream, the store and the watch cache, as against
# dockerd.
#
# Measures, from the apply's start until a watch of the namespace
# (?watch=true&fieldSelector=status.phase=Succeeded) has seen every Task
# Succeeded:
#   lifecycles/s      N / that time
#   berthd CPU        utime+stime from /proc/PID/stat, before and after, per
#                     lifecycle in ms
#   berthd peak RSS   VmHWM
#   engine CPU        the fake engine's, per lifecycle, over the same window
# and, in the same run, a baseline: bench/engine-lifecycles.c, 8 threads (as
# berthd has 8 reconcile workers; as many as --workers, at most 64) making only the Engine API calls berthd
# makes for such a Task (image inspect, create, start, inspect) against a
# fresh fake engine — the rate if the controller cost nothing. Checks that
# every Task Succeeded and that the engine saw exactly N creates and N starts
# (no name conflicts, no restarts), and that berthd and the engine exit
# cleanly; exits non-zero otherwise. Last line:
#   berth 760/s baseline 4808/s ratio 0.16 (berth/baseline; 10000 tasks)
#
#   bench/controller.sh [tasks, default 10000] [build dir, default build/release]
# Environment: RUN_MS (how long each fake container runs; default 0, exits at
# once), PERF_DATA=FILE (records `perf record $PERF_ARGS` of berthd over the
# window; PERF_ARGS defaults to "-F 499 -g", try "--call-graph dwarf"),
# TIMEOUT (seconds to wait for all Succeeded, default 600), BERTHD_ARGS (more
# berthd flags, e.g. "--workers 32"; the baseline client uses as many threads
# as --workers says, default 8), ENGINE_ARGS (more flags for the fake engine
# berthd talks to, e.g. "--image alpine:3.19" to see the Tasks fail).
# Needs no dockerd. tests/integration/test_controller_bench.sh runs it small.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
bin=${2:-build/release}
run_ms=${RUN_MS:-0}
read -r -a berthd_args <<<"${BERTHD_ARGS:-}"
workers=$(sed -n 's/.*--workers[= ]\([0-9]*\).*/\1/p' <<<"${BERTHD_ARGS:-}")
workers=${workers:-8}
timeout_s=${TIMEOUT:-600}
if [ ! -x "$bin/bench/fake-engine" ] || [ ! -x "$bin/bench/engine-lifecycles" ]; then
  echo "controller.sh: build $bin first (fake-engine, engine-lifecycles)" >&2
  exit 2
fi

fe=$(mktemp -d /tmp/berth-fake-engine.XXXXXX)
fe_pid=
watch_pid=
perf_pid=
bench_cleanup_extra() {
  [ -z "$perf_pid" ] || kill -INT "$perf_pid" 2>/dev/null || true
  [ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null || true
  [ -z "$fe_pid" ] || kill "$fe_pid" 2>/dev/null || true
  rm -rf "$fe"
}
trap bench_cleanup_extra EXIT # bench_berthd's trap calls it too

# fake_start NAME [flags]: a fake engine on $fe/NAME.sock; its pid in fe_pid.
fake_start() {
  local name=$1
  shift
  "$bin/bench/fake-engine" --run-ms "$run_ms" "$@" "$fe/$name.sock" 2>>"$fe/$name.log" &
  fe_pid=$!
  for _ in $(seq 1 100); do
    [ -S "$fe/$name.sock" ] && curl -sf --unix-socket "$fe/$name.sock" http://d/_ping >/dev/null && return 0
    sleep 0.05
  done
  echo "controller.sh: fake engine did not start: $(cat "$fe/$name.log")" >&2
  exit 1
}
# fake_stop: SIGTERM, and a clean exit (ASan builds report leaks at exit).
fake_stop() {
  local rc=0
  kill "$fe_pid"
  wait "$fe_pid" || rc=$?
  fe_pid=
  [ "$rc" = 0 ] || { echo "controller.sh: fake engine exited with $rc" >&2; tail -n 40 "$fe"/*.log >&2; exit 1; }
}
stat_of() { curl -sf --unix-socket "$fe/$1.sock" http://d/fake/stats; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# --- baseline: the Engine API calls alone -------------------------------------------
fake_start base
b0=$(ticks "$fe_pid")
base_line=$("$bin/bench/engine-lifecycles" -n "$n" -c "$((workers > 64 ? 64 : workers))" "$fe/base.sock")
b1=$(ticks "$fe_pid")
base_rate=$(awk '{ print $6 }' <<<"$base_line" | tr -d '/s')
base_engine_ms=$(calc '%.3f' "($b1 - $b0) * 1000 / $hz / $n")
fake_stop

# --- berthd against a fresh fake engine -----------------------------------------------
read -r -a engine_args <<<"${ENGINE_ARGS:-}"
fake_start engine ${engine_args[@]+"${engine_args[@]}"}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --docker "unix://$fe/engine.sock" ${berthd_args[@]+"${berthd_args[@]}"}
sock="$tmp/b.sock"

# Files of at most 1,000 documents (a manifest file's limit).
mkdir "$tmp/tasks"
for ((k = 0; k < n; k += 1000)); do
  for ((i = k; i < k + 1000 && i < n; i++)); do
    printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: t-%d, namespace: bench}\nspec: {image: "busybox:latest", command: ["true"]}\n' "$i"
  done >"$tmp/tasks/$((k / 1000)).yaml"
done

# Counts the Tasks that turned Succeeded (each arrives once, as ADDED, when it
# starts to match the selector); the watch runs before the apply.
mkfifo "$tmp/watch"
curl -sfN --unix-socket "$sock" \
  'http://localhost/apis/berth/v1/namespaces/bench/tasks?watch=true&fieldSelector=status.phase%3DSucceeded' \
  >"$tmp/watch" &
watch_pid=$!
exec 3<"$tmp/watch" # now curl's open of the fifo returns, and it connects

if [ -n "${PERF_DATA:-}" ]; then
  # shellcheck disable=SC2086 # PERF_ARGS: several words
  perf record ${PERF_ARGS:--F 499 -g} -o "$PERF_DATA" -p "$pid" >/dev/null 2>"$tmp/perf.log" &
  perf_pid=$!
fi
c0=$(ticks "$pid")
e0=$(ticks "$fe_pid")
start=$(now)
"$bin/berth" apply -f "$tmp/tasks" >"$tmp/apply.out"
applied=$(now)
rc=0
# grep, not mawk: mawk fills its whole input buffer before it looks at a line.
seen=$(timeout "$timeout_s" grep -m "$n" -c '^{"type":"ADDED"' <&3) || rc=$?
done_t=$(now)
c1=$(ticks "$pid")
e1=$(ticks "$fe_pid")
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=
exec 3<&-
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  perf_pid=
fi
rss_mb=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")

if [ "$rc" != 0 ] || [ "${seen:-0}" != "$n" ]; then
  echo "controller.sh: ${seen:-0} of $n Tasks Succeeded within ${timeout_s}s (rc $rc); by phase:" >&2
  "$bin/berth" get tasks -n bench 2>&1 | awk 'NR > 1 { print $2 }' | sort | uniq -c >&2 || true
  tail -n 20 "$tmp/berthd.log" >&2
  exit 1
fi
[ "$(grep -c ' created$' "$tmp/apply.out")" = "$n" ] ||
  { echo "controller.sh: apply did not create $n Tasks" >&2; exit 1; }

# Exactly one container per Task, created once and started once.
stats=$(stat_of engine)
python3 - "$n" "$stats" <<'PY'
import json, sys
n, s = int(sys.argv[1]), json.loads(sys.argv[2])
want = {"creates": n, "conflicts": 0, "createErrors": 0, "starts": n, "restarts": 0,
        "containers": n, "exited": n}
bad = {k: (s[k], v) for k, v in want.items() if s[k] != v}
if bad:
    sys.exit("controller.sh: fake engine saw (got, want) %r" % bad)
PY

# Clean exits (ASan builds report leaks at exit): berthd, then the engine.
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || { echo "controller.sh: berthd exited with $rc" >&2; tail -n 20 "$tmp/berthd.log" >&2; exit 1; }
fake_stop

total=$(calc '%.3f' "$done_t - $start")
rate=$(calc '%.0f' "$n / $total")
cpu_s=$(calc '%.2f' "($c1 - $c0) / $hz")
cpu_ms=$(calc '%.3f' "($c1 - $c0) * 1000 / $hz / $n")
engine_ms=$(calc '%.3f' "($e1 - $e0) * 1000 / $hz / $n")
echo "tasks $n (fake containers run ${run_ms} ms, berthd ${BERTHD_ARGS:-with defaults}, load average $(cut -d' ' -f1-3 /proc/loadavg)): applied in $(calc '%.2f' "$applied - $start")s, all Succeeded after ${total}s"
echo "berthd: ${rate} lifecycles/s, CPU ${cpu_s}s = ${cpu_ms} ms per lifecycle, peak RSS ${rss_mb} MiB"
echo "fake engine CPU per lifecycle: ${engine_ms} ms under berthd, ${base_engine_ms} ms under the baseline client"
echo "baseline (engine-lifecycles, $((workers > 64 ? 64 : workers)) threads, berthd's Engine API calls only): ${base_rate} lifecycles/s"
echo "berth ${rate}/s baseline ${base_rate}/s ratio $(calc '%.2f' "$rate / $base_rate") (berth/baseline; $n tasks)"
