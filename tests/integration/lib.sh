# Shared helpers for the end-to-end scenarios: start a private berthd on a
# temporary SQLite store and socket, drive it with the real berth CLI, and
# clean up (berthd by pid, containers by label) whatever happens.
# Usage: source "$(dirname "$0")/lib.sh" at the top of a test_*.sh script.
set -euo pipefail

: "${BERTHD:?path of berthd}" "${BERTH:?path of berth}"
BERTH_SOURCE_DIR=${BERTH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d /tmp/berth-it.XXXXXX)
export BERTH_SERVER="unix://$T/berth.sock"
BERTHD_PID=
REPLICA_PIDS=()   # extra berthd started with start_replica; cleanup stops them
CLEANUP_FIRST=    # shell code cleanup runs before anything else (e.g. resume etcd)
CLEANUP_LAST=     # shell code cleanup runs once every berthd is gone
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
# One engine bug must not sink a whole run: before each test, the engine
# must answer `docker info` within 10 s; a hung dockerd this run started
# (BERTH_TEST_DOCKERD_PIDFILE) is restarted, loudly. One that is not ours is
# only reported (the test then fails on its own).
source "$BERTH_SOURCE_DIR/scripts/dockerd-lib.sh"
engine_check() {
  local rc=0
  docker_answers 10 || rc=$?
  [ "$rc" = 0 ] && return 0
  if [ "$rc" != 124 ]; then
    log "WARNING: docker engine ${DOCKER_HOST:-(default)} fails docker info (status $rc)"
    return 0
  fi
  local pidfile=${BERTH_TEST_DOCKERD_PIDFILE:-}
  if [ -n "$pidfile" ] && [ -f "$pidfile" ]; then
    log "!!! ENGINE HUNG: docker info did not answer within 10s; restarting the dockerd of $pidfile"
    dockerd_restart_hung "$pidfile" || log "!!! could not restart the hung dockerd of $pidfile"
  else
    log "!!! ENGINE HUNG: docker info did not answer within 10s, and this run did not start it"
  fi
}
engine_check
# ctest reports exit status 77 as "Skipped" (SKIP_RETURN_CODE), not "Passed".
skip() {
  log "SKIP: $*"
  exit 77
}
fail() {
  log "FAIL: $*"
  if [ -f "$T/berthd.log" ]; then
    log "--- last berthd log lines ---"
    tail -n 40 "$T/berthd.log" >&2 || true
  fi
  local f
  for f in "$T"/berthd-*.log; do
    [ -f "$f" ] || continue
    log "--- last lines of $(basename "$f") ---"
    tail -n 25 "$f" >&2 || true
  done
  exit 1
}

# The store identity of this test's berthd (label berth.cluster of its
# containers): tests touch only their own containers, so they can share an
# engine with other berthd instances.
CLUSTER=
cluster_filter() { echo "label=berth.cluster=${CLUSTER:-none}"; }

cluster_of() {
  curl -sf --unix-socket "$1" http://localhost/version |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster"])'
}

remove_berth_containers() {
  [ -n "$CLUSTER" ] || return 0
  local ids
  ids=$(docker ps -aq --filter "$(cluster_filter)") || true
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  # Workflow workspaces, once their containers are gone.
  ids=$(docker volume ls -q --filter "$(cluster_filter)") || true
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1 || true
}

# Docker here runs without a bridge network: containers that serve use the
# host's (admission policy: --allow-host-network). A test of the policy
# itself sets HOST_NETWORK= to start berthd without it.
HOST_NETWORK=${HOST_NETWORK---allow-host-network}
start_berthd() {
  "$BERTHD" --store "sqlite:$T/berth.db" --data-dir "$T" --listen "$BERTH_SERVER" \
    --log-level debug ${HOST_NETWORK:+"$HOST_NETWORK"} "$@" >>"$T/berthd.log" 2>&1 &
  BERTHD_PID=$!
  for _ in $(seq 1 300); do
    if curl -sf --unix-socket "$T/berth.sock" http://localhost/readyz >/dev/null 2>&1; then
      CLUSTER=$(cluster_of "$T/berth.sock")
      [ -n "$CLUSTER" ] || fail "berthd did not report its cluster identity"
      return 0
    fi
    kill -0 "$BERTHD_PID" 2>/dev/null || fail "berthd exited during start"
    sleep 0.1
  done
  fail "berthd not ready after 30s"
}

# Stops berthd with SIGTERM and checks it exits cleanly (ASan reports leaks at exit).
stop_berthd() {
  [ -n "$BERTHD_PID" ] || return 0
  kill -TERM "$BERTHD_PID" 2>/dev/null || true
  local rc=0
  wait "$BERTHD_PID" || rc=$?
  BERTHD_PID=
  [ "$rc" = 0 ] || fail "berthd exited with status $rc after SIGTERM"
}

kill9_berthd() {
  kill -KILL "$BERTHD_PID" 2>/dev/null || true
  wait "$BERTHD_PID" 2>/dev/null || true
  BERTHD_PID=
}

cleanup() {
  local rc=$?
  if [ -n "$CLEANUP_FIRST" ]; then eval "$CLEANUP_FIRST" || true; fi
  local p
  for p in "${REPLICA_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${REPLICA_PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  REPLICA_PIDS=()
  if [ -n "$BERTHD_PID" ]; then
    kill -TERM "$BERTHD_PID" 2>/dev/null || true
    wait "$BERTHD_PID" 2>/dev/null || true
  fi
  remove_berth_containers
  if [ -n "$CLEANUP_LAST" ]; then eval "$CLEANUP_LAST" || true; fi
  if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then rm -rf "$T"; else log "kept $T for inspection"; fi
}
trap cleanup EXIT

berth() { "$BERTH" "$@"; }

# build_example NAME: builds examples/plugins/NAME out of tree as a user
# would — the plugin header installed from this build (cmake --install, its
# plugin-dev component, into $T/prefix), then the example's own CMake
# project against it. Prints the path of NAME.so.
build_example() {
  local src=$T/examples/$1 build=$T/examples/$1-build
  [ -n "${BERTH_BUILD_DIR:-}" ] || fail "BERTH_BUILD_DIR is not set"
  cmake --install "$BERTH_BUILD_DIR" --component plugin-dev --prefix "$T/prefix" >/dev/null ||
    fail "cmake --install of the plugin header failed"
  [ -f "$T/prefix/include/berth/berth-plugin.h" ] || fail "the plugin header was not installed"
  mkdir -p "$src" && cp "$BERTH_SOURCE_DIR/examples/plugins/$1"/* "$src/"
  cmake -S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$T/prefix" >"$T/examples/$1.log" 2>&1 &&
    cmake --build "$build" >>"$T/examples/$1.log" 2>&1 ||
    fail "example $1 did not build: $(tail -20 "$T/examples/$1.log")"
  echo "$build/$1.so"
}

# grep for pipelines: reads all its input. `cmd | grep -q` would exit at the
# first match, and under pipefail cmd's SIGPIPE would then fail the check.
has() { grep "$@" >/dev/null; }

# etcd for the HA tests (scripts/test.sh starts one on loopback).
ETCD_URL=${BERTH_TEST_ETCD_URL:-http://127.0.0.1:2379}
etcd_up() { curl -sf -m 2 -X POST "$ETCD_URL/v3/maintenance/status" -d '{}' >/dev/null 2>&1; }
# A store key prefix of its own, so that runs sharing one etcd never meet.
# Deletes every key under a prefix ending in '/' (its range end: '/' + 1 = '0').
etcd_delete_prefix() {
  local key end
  key=$(printf %s "$1" | base64 -w0)
  end=$(printf %s "${1%/}0" | base64 -w0)
  curl -sf -m 5 -X POST "$ETCD_URL/v3/kv/deleterange" \
    -d "{\"key\":\"$key\",\"range_end\":\"$end\"}" >/dev/null || true
}
unique_prefix() { printf '/berth-it-%s-%s/\n' "$$" "$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"; }

# start_replica NAME [berthd flags...]: one more berthd, on socket $T/NAME.sock,
# logging to $T/berthd-NAME.log; its pid is in $REPLICA_PID afterwards (and in
# REPLICA_PIDS for cleanup). Waits until it answers /readyz.
start_replica() {
  local name=$1; shift
  mkdir -p "$T/$name"
  "$BERTHD" --data-dir "$T/$name" --listen "unix://$T/$name.sock" --log-level debug \
    --allow-host-network "$@" \
    >>"$T/berthd-$name.log" 2>&1 &
  REPLICA_PID=$!
  REPLICA_PIDS+=("$REPLICA_PID")
  for _ in $(seq 1 300); do
    if curl -sf --unix-socket "$T/$name.sock" http://localhost/readyz >/dev/null 2>&1; then
      CLUSTER=$(cluster_of "$T/$name.sock")
      [ -n "$CLUSTER" ] || fail "berthd $name did not report its cluster identity"
      return 0
    fi
    kill -0 "$REPLICA_PID" 2>/dev/null || fail "berthd $name exited during start"
    sleep 0.1
  done
  fail "berthd $name not ready after 30s"
}

# start_ha_pair ID: two replicas on a fresh etcd prefix with short leases (6 s,
# renewed every 2 s: keeps failover tests fast; the defaults take the same code
# path): "a" (id ID-a) leads, "b" (ID-b) follows. Sets prefix, ha (the shared
# flags, to restart a replica), pid_a and pid_b; `on a|b ARGS` runs berth
# against one of them.
start_ha_pair() {
  local id=$1
  etcd_up || skip "no etcd at $ETCD_URL"
  prefix=$(unique_prefix)
  CLEANUP_LAST='etcd_delete_prefix "$prefix"'
  ha=(--store "etcd://${ETCD_URL#http://}" --prefix "$prefix"
      --leader-lease 6s --leader-renew 2s --leader-retry 1s)
  start_replica a "${ha[@]}" --leader-id "$id-a"
  pid_a=$REPLICA_PID
  wait_until 30 "grep -q 'became leader id=$id-a' '$T/berthd-a.log'" || fail "a did not become leader"
  start_replica b "${ha[@]}" --leader-id "$id-b"
  pid_b=$REPLICA_PID
  wait_until 30 "grep -q 'following leader=$id-a' '$T/berthd-b.log'" || fail "b does not follow a"
}
on() { local r=$1; shift; "$BERTH" --server "unix://$T/$r.sock" "$@"; }

# stop_replica PID: SIGTERM and check a clean exit (ASan reports leaks at exit).
stop_replica() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  local keep=() p
  for p in "${REPLICA_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  REPLICA_PIDS=("${keep[@]}")
  [ "$rc" = 0 ] || fail "berthd $pid exited with status $rc after SIGTERM"
}

# CPU time (user + system) of a process in clock ticks, from /proc/PID/stat.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Field of a task through the API, e.g. jget hello .status.phase
jget() {
  berth get task "$1" -o json | python3 -c "
import json,sys
o=json.load(sys.stdin)
for p in sys.argv[1].strip('.').split('.'):
    o=o.get(p) if isinstance(o,dict) else None
print('' if o is None else o)" "$2"
}

# Containers of one task (by its name label), one line each: name state
containers_of() {
  docker ps -a --filter "$(cluster_filter)" --filter "label=berth.name=$1" \
    --format '{{.Names}} {{.State}}'
}

# Waits (bounded) until a shell condition holds.
wait_until() {
  local timeout=$1; shift
  local end=$((SECONDS + timeout))
  while ! eval "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}


# A Python expression over a Workflow's JSON o, printed (lists and objects as
# JSON, None as nothing); step("b") is the status entry of step b, e.g.
#   wfq etl 'o["status"]["phase"]'    wfq etl 'step("b").get("reason")'
wfq() {
  berth get workflow "$1" -o json | python3 -c '
import json, sys
o = json.load(sys.stdin)
def step(n):
    if n == "onExit":
        return o.get("status", {}).get("onExit", {})
    return next((s for s in o.get("status", {}).get("steps", []) if s["name"] == n), {})
v = eval(sys.argv[1])
print("" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else v)' "$2"
}

# The most Task containers of this test's berthd that ran at one instant, by
# Docker's own start and finish times; with a prefix, of the Tasks whose
# names start with it only (e.g. "wide-each-": the children of a step).
max_overlap() {
  local ids
  ids=$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.kind=Task)
  [ -n "$ids" ] || { echo 0; return; }
  docker inspect $ids | python3 -c '
import calendar, json, re, sys
def ns(ts):
    y, mo, d, h, mi, s, frac = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts).groups()
    return (calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s))) * 10**9 +
            int((frac or "0").ljust(9, "0")[:9]))
ev = []
for c in json.load(sys.stdin):
    if not c["Config"]["Labels"].get("berth.name", "").startswith(sys.argv[1]):
        continue
    if c["State"]["StartedAt"].startswith("0001"):
        continue
    ev.append((ns(c["State"]["StartedAt"]), 1))
    ev.append((ns(c["State"]["FinishedAt"]), -1))
n = best = 0
for _, d in sorted(ev, key=lambda e: (e[0], e[1])):
    n += d
    best = max(best, n)
print(best)' "${1:-}"
}

# Task containers of this test's berthd whose Task names start with a
# prefix, one line each: the Task's name.
containers_named() {
  docker ps -a --filter "$(cluster_filter)" --filter label=berth.kind=Task \
    --format '{{.Label "berth.name"}}' | grep "^$1" || true
}
