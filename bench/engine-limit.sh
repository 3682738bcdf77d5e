#!/usr/bin/env bash
# The adaptive in-flight limit of Docker calls on a real engine
# (docs/internals/performance-engine.md): N Tasks (echo, one container each)
# applied at once; reports how long until all succeeded, the limit's path
# (sampled every 0.5 s from /metrics), its adjustments, and the engine's
# create and start latencies (mean, from berth_docker_request_duration).
# Run it against an engine nobody else loads (DOCKER_HOST) for clean numbers.
#
#   bench/engine-limit.sh [N, default 200] [build dir, default build/release] [inflight: auto|N]
# (a fixed N, berthd --docker-inflight N, for comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bin=${2:-build/release}
inflight=${3:-auto}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --leader-elect=false --workers 32 --docker-inflight "$inflight"
metric() {
  curl -s --unix-socket "$tmp/b.sock" http://localhost/metrics |
    awk -v m="$1" '$1 == m { print $2 }'
}
mean() { # mean of histogram series $1 with labels $2
  curl -s --unix-socket "$tmp/b.sock" http://localhost/metrics | awk -v m="$1" -v l="$2" '
    index($1, m "_sum" l) == 1 { s = $2 } index($1, m "_count" l) == 1 { c = $2 }
    END { if (c > 0) printf "%.0f ms (%d calls)", s / c * 1000, c; else print "none" }'
}
succeeded() {
  "$bin/berth" get tasks -o json | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)["items"] if t.get("status", {}).get("phase") == "Succeeded"))'
}

for i in $(seq 1 "$n"); do
  printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: l-%d}\nspec: {image: "busybox:latest", command: [sh, -c, "echo ok"], network: none}\n' "$i"
done >"$tmp/tasks.yaml"
start=$(date +%s%3N)
"$bin/berth" apply -f "$tmp/tasks.yaml" >/dev/null
path=""
while :; do
  path="$path $(metric berth_docker_inflight_limit)"
  [ "$(succeeded)" = "$n" ] && break
  [ $(($(date +%s%3N) - start)) -lt 600000 ] || { echo "not done after 600 s" >&2; exit 1; }
  sleep 0.5
done
took=$(($(date +%s%3N) - start))
echo "tasks:              $n (berthd --workers 32 --docker-inflight $inflight)"
echo "all succeeded in:   $took ms ($(python3 -c "print(round($n * 1000 / $took, 1))") tasks/s)"
echo "limit, every 0.5 s:$path"
echo "limit adjustments:  $(metric berth_docker_inflight_limit_changes_total)"
echo "create latency:     $(mean berth_docker_request_duration_seconds '{operation="create"}')"
echo "start latency:      $(mean berth_docker_request_duration_seconds '{operation="start"}')"
