# shellcheck shell=bash
# Sourced by the bench scripts: a private berthd in a temporary directory.
#
#   bench_berthd BIN STORE [berthd flags...]
# makes $tmp, starts BIN/berthd on unix://$tmp/b.sock with STORE (a
# "%TMP%" in it stands for $tmp), exports BERTH_SERVER, waits until it
# answers and records its cluster id; on exit it stops berthd, removes the
# containers of that cluster, calls bench_cleanup_extra when the script
# defines one, and removes $tmp.

bench_cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local cluster ids
  cluster=$(cat "$tmp/cluster" 2>/dev/null || true)
  if [ -n "$cluster" ]; then
    ids=$(docker ps -aq --filter "label=berth.cluster=$cluster" 2>/dev/null || true)
    # shellcheck disable=SC2086 # one id per word
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  fi
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
  rm -rf "$tmp"
}

bench_berthd() {
  local bin=$1 store=$2
  shift 2
  tmp=$(mktemp -d /tmp/berth-bench.XXXXXX)
  trap bench_cleanup EXIT
  "$bin/berthd" --store "${store//%TMP%/$tmp}" --data-dir "$tmp" \
    --listen "unix://$tmp/b.sock" --allow-host-network "$@" >"$tmp/berthd.log" 2>&1 &
  pid=$!
  export BERTH_SERVER="unix://$tmp/b.sock"
  for _ in $(seq 1 100); do "$bin/berth" version >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf --unix-socket "$tmp/b.sock" http://localhost/version |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster"])' >"$tmp/cluster"
}
