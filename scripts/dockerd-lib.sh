# Starting and restarting the dockerd the tests use, shared by
# scripts/setup.sh and tests/integration/lib.sh (source it; bash).
#
# DOCKERD_FLAGS: the flags every dockerd we start gets. No bridge network:
# containers get loopback only (docs/internals/testing.md); live-restore keeps
# containers running across a dockerd restart, which tests exercise.
DOCKERD_FLAGS=(--bridge=none --iptables=false --ip-masq=false --live-restore)

# docker_answers [SECONDS]: whether the engine ($DOCKER_HOST or the default)
# answers `docker info` within SECONDS (default 10). Exit status 124: it hung.
docker_answers() {
  timeout "${1:-10}" docker info --format '{{.ServerVersion}}' >/dev/null 2>&1
}

# dockerd_start PIDFILE LOGFILE [ARGS...]: starts dockerd with ARGS (default
# DOCKERD_FLAGS), records its pid in PIDFILE and waits up to 60 s until it
# answers. Returns 1 if it did not.
dockerd_start() {
  local pidfile=$1 logfile=$2
  shift 2
  [ $# -gt 0 ] || set -- dockerd "${DOCKERD_FLAGS[@]}"
  nohup "$@" >>"$logfile" 2>&1 &
  local pid=$! _ rc=1
  # Written once it answers: a dockerd whose own --pidfile is PIDFILE
  # refuses to start while that names a running process (itself).
  for _ in $(seq 1 300); do
    if docker_answers 2; then rc=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "$pid" >"$pidfile"
  return $rc
}

# dockerd_restart_hung PIDFILE: the dockerd PIDFILE names does not answer
# (deadlocked, or stopped): kill -9 it and start it again with the very
# command line it had (read from /proc, so a private dockerd keeps its
# --host, --data-root, ...), then wait until it answers. Says what it does on
# stderr. Returns 1 if PIDFILE names no running dockerd or it did not come
# back.
dockerd_restart_hung() {
  local pidfile=$1 pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  local -a cmd=()
  mapfile -d '' -t cmd <"/proc/$pid/cmdline"
  [ ${#cmd[@]} -gt 0 ] || return 1
  printf '!!! dockerd (pid %s) does not answer docker info: kill -9 and restart: %s\n' \
    "$pid" "${cmd[*]}" >&2
  kill -KILL "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # dockerd refuses to start while its --pidfile names a process: it is gone.
  dockerd_start "$pidfile" "$(dirname "$pidfile")/dockerd.log" "${cmd[@]}" || {
    printf '!!! dockerd did not come back after the restart (log: %s)\n' \
      "$(dirname "$pidfile")/dockerd.log" >&2
    return 1
  }
  printf '!!! dockerd restarted (pid %s)\n' "$(cat "$pidfile")" >&2
}
