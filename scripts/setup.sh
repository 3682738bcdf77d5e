#!/usr/bin/env bash
# Prepares a Debian 12 machine (as root) for building and running berth:
# installs missing packages, builds the given CMake preset, starts dockerd when
# no engine answers, makes the offline busybox image, and (with --etcd) starts
# etcd on loopback. Idempotent: run it as often as you like.
#
#   scripts/setup.sh [--preset debug|asan|release] [--etcd]
#
# Services it starts are recorded in $BERTH_RUN_DIR (default /run/berth-dev):
# dockerd.pid, etcd.pid, so that scripts can stop exactly what they started.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=debug
want_etcd=0
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --etcd) want_etcd=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup: unknown argument $1" >&2; exit 2 ;;
  esac
done

run_dir=${BERTH_RUN_DIR:-/run/berth-dev}
mkdir -p "$run_dir"
log() { printf 'setup: %s\n' "$*" >&2; }

# prometheus only for promtool (it_test_metrics checks /metrics with it): its
# server is never started by the tests; where an init system runs, Debian
# enables the package's own service (stop it if unwanted).
packages=(build-essential cmake pkg-config libcurl4-openssl-dev libyaml-dev libjansson-dev
          libssl-dev libevent-dev libsqlite3-dev zlib1g-dev libglib2.0-dev tzdata libcmocka-dev
          docker.io busybox-static etcd-server curl openssl sslscan python3 git prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

log "building preset $preset"
cmake --preset "$preset" >"$run_dir/build-$preset.log" 2>&1 &&
  cmake --build --preset "$preset" -j"$(nproc)" >>"$run_dir/build-$preset.log" 2>&1 ||
  { tail -n 40 "$run_dir/build-$preset.log" >&2; log "build failed; see $run_dir/build-$preset.log"; exit 1; }

# dockerd_start, dockerd_restart_hung, docker_answers (also used by the tests' lib.sh).
source scripts/dockerd-lib.sh
docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
rc=0
docker_answers 10 || rc=$?
if [ "$rc" = 124 ] && [ -f "$run_dir/dockerd.pid" ]; then
  # Ours, and hung (docs/internals/performance-engine.md): start it afresh.
  dockerd_restart_hung "$run_dir/dockerd.pid" || true
fi
if ! docker_up; then
  log "starting dockerd"
  : >"$run_dir/dockerd.log"
  dockerd_start "$run_dir/dockerd.pid" "$run_dir/dockerd.log" ||
    { log "dockerd did not start; see $run_dir/dockerd.log"; exit 1; }
fi
./scripts/make-test-image.sh busybox:latest

if [ "$want_etcd" = 1 ]; then
  etcd_up() { curl -sf -m 2 -X POST http://127.0.0.1:2379/v3/maintenance/status -d '{}' >/dev/null; }
  if ! etcd_up; then
    log "starting etcd"
    rm -rf "$run_dir/etcd-data"
    nohup etcd --data-dir "$run_dir/etcd-data" \
      --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
      --listen-peer-urls http://127.0.0.1:2380 >"$run_dir/etcd.log" 2>&1 &
    echo $! >"$run_dir/etcd.pid"
    for _ in $(seq 1 100); do etcd_up && break; sleep 0.2; done
    etcd_up || { log "etcd did not start; see $run_dir/etcd.log"; exit 1; }
  fi
fi
log "ready (build/$preset)"
