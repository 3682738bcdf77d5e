#!/usr/bin/env bash
# How fast berthd takes in and serves objects, per store backend:
#   1. one `berth apply` of 1,000 Task manifests (seconds, objects/s)
#   2. a list of 10,000 Tasks through the API, served from the watch cache (ms)
# Tasks use a missing image with imagePullPolicy Never, so they fail at once
# without containers: this measures berth, not the engine.
#
#   bench/api-store.sh [sqlite|etcd] [build dir, default build/release]
# etcd: needs etcd on 127.0.0.1:2379 (scripts/setup.sh --etcd); uses its own prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=${2:-build/release}
prefix=/bench-$$-$RANDOM/
case "$backend" in
  sqlite) store="sqlite:%TMP%/berth.db" ;;
  etcd) store="etcd://127.0.0.1:2379" ;;
  *) echo "usage: $0 [sqlite|etcd] [build dir]" >&2; exit 2 ;;
esac
bench_cleanup_extra() {
  if [ "$backend" = etcd ]; then
    curl -sf -X POST http://127.0.0.1:2379/v3/kv/deleterange -d "{\"key\":\"$(printf %s "$prefix" | base64 -w0)\",\"range_end\":\"$(printf %s "${prefix%/}0" | base64 -w0)\"}" >/dev/null || true
  fi
}
. bench/lib.sh
bench_berthd "$bin" "$store" --prefix "$prefix" --leader-elect=false

manifests() { # FIRST LAST
  for i in $(seq "$1" "$2"); do
    printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: t-%d, namespace: bench}\nspec: {image: "busybox:nosuch", imagePullPolicy: Never}\n' "$i"
  done
}
manifests 1 1000 >"$tmp/1000.yaml"
t0=$(date +%s.%N)
"$bin/berth" apply -f "$tmp/1000.yaml" >/dev/null
t1=$(date +%s.%N)
python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); print('%s: apply of 1000 tasks in one berth apply: %.2fs (%.0f objects/s)' % (sys.argv[3], d, 1000/d))" "$t0" "$t1" "$backend"

for k in $(seq 1 9); do
  manifests $((k * 1000 + 1)) $(((k + 1) * 1000)) | "$bin/berth" apply -f - >/dev/null
done
best=999999
for _ in 1 2 3 4 5; do
  ms=$(curl -s -o /dev/null -w '%{time_total}' --unix-socket "$tmp/b.sock" \
    http://localhost/apis/berth/v1/namespaces/bench/tasks | python3 -c 'import sys; print(int(float(sys.stdin.read())*1000))')
  [ "$ms" -lt "$best" ] && best=$ms
done
n=$(curl -s --unix-socket "$tmp/b.sock" http://localhost/apis/berth/v1/namespaces/bench/tasks |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
echo "$backend: list of $n tasks through the API: ${best}ms (best of 5)"
