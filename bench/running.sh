#!/usr/bin/env bash
# Many Tasks running at once (issue 15, part 7): N `sleep 3600` Tasks created
# as one burst through the berth API until every one is Running, against the
# raw Engine API's create + start of N containers at the engine's best
# concurrency, measured in the same run; then berthd's RSS and CPU while they
# all run (idle: ~0), and that deleting every Task removes every container.
# Prints, last:
#   running n=1000 engine 61.2s (c=8) berth 66.0s ratio 0.93
#   while running: rss 41 MB, cpu 0.00s in 10s
#   delete: 1000 tasks gone in 35.1s, containers left 0
#
#   bench/running.sh [N, default 1000] [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
# Memory: each running container costs the host a containerd shim (~8 MB):
# 1,000 need ~8 GB free.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
bin=${2:-build/release}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db"
sock="unix://${BERTH_SERVER#unix://}"
bench_cleanup_extra() {
  local ids
  ids=$(docker ps -aq --filter label=berth.bench=engine 2>/dev/null || true)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}

# The engine's best concurrency for create + start, on a small sample.
best_c=8 best_rate=0
for c in 4 8 16 32; do
  line=$("$bin/bench/engine-ratio" --running --engine-only -n 100 -c "$c" --server "$sock")
  rate=$(sed -n 's/.* \([0-9.]*\)\/s .*/\1/p' <<<"$line")
  echo "engine c=$c: $line" >&2
  if python3 -c "import sys; sys.exit(0 if $rate > $best_rate else 1)"; then
    best_c=$c best_rate=$rate
  fi
done

out=$("$bin/bench/engine-ratio" --running -n "$n" -c "$best_c" --server "$sock")
echo "$out" >&2
read -r engine_s berth_s < <(sed -n 's/.* engine \([0-9.]*\)s berth \([0-9.]*\)s .*/\1 \2/p' <<<"$out")
ratio=$(sed -n 's/.* ratio \([0-9.]*\)$/\1/p' <<<"$out")

ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
sleep 2
t0=$(ticks)
sleep 10
cpu=$(python3 -c "print('%.2f' % (($(ticks) - $t0) / $hz))")
rss=$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$pid/status")
running=$(docker ps -q --filter "label=berth.cluster=$(cat "$tmp/cluster")" | wc -l)

names=$("$bin/berth" get tasks -n bench -o json |
  python3 -c 'import json,sys; print(" ".join(o["metadata"]["name"] for o in json.load(sys.stdin)["items"]))')
d0=$(date +%s%N)
# shellcheck disable=SC2086 # one name per word
"$bin/berth" delete task -n bench $names --timeout 600s >/dev/null
d1=$(date +%s%N)
left=$(docker ps -aq --filter "label=berth.cluster=$(cat "$tmp/cluster")" | wc -l)

echo "running n=$n engine ${engine_s}s (c=$best_c) berth ${berth_s}s ratio $ratio"
echo "while running: $running containers, rss $rss MB, cpu ${cpu}s in 10s"
echo "delete: $n tasks gone in $(python3 -c "print('%.1f' % (($d1 - $d0) / 1e9))")s, containers left $left"
