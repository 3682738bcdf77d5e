#!/usr/bin/env bash
# The main job: set up this machine, start berthd on the embedded SQLite store
# (unless one already answers), apply examples/hello/ and show the result.
#
#   scripts/run.sh
#
# berthd keeps running afterwards (socket unix:///run/berth/berth.sock, data in
# /var/lib/berth, log in /run/berth/berthd.log); use build/release/berth.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --preset release
bin=build/release
export BERTH_SERVER=unix:///run/berth/berth.sock
mkdir -p /run/berth
if ! "$bin/berth" version >/dev/null 2>&1; then
  echo "run: starting berthd" >&2
  nohup "$bin/berthd" --listen "$BERTH_SERVER" --data-dir /var/lib/berth \
    >/run/berth/berthd.log 2>&1 &
  echo $! >/run/berth/berthd.pid
  for _ in $(seq 1 100); do "$bin/berth" version >/dev/null 2>&1 && break; sleep 0.1; done
fi
"$bin/berth" apply -f examples/hello/
"$bin/berth" wait task/hello --for=condition=Succeeded --timeout=60s
"$bin/berth" get tasks
"$bin/berth" logs task/hello
