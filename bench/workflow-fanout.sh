#!/usr/bin/env bash
# What a fan-out costs on top of the engine: N items at parallelism P, run twice:
#   engine  N container lifecycles straight against the Engine API with curl,
#           P in flight: create, start, wait, read stdout (berth reads each
#           child's stdout for the step's result, so the baseline does too)
#   berth   one Workflow, one step `withItems: [0, ..., N-1]`, `parallelism: P`,
#           from `berth apply` until `berth wait --for=condition=Succeeded`
# Removal is counted on neither side: berth keeps the children's containers
# until the Workflow is deleted, so both sides remove theirs after the clock.
# Prints both times and their ratio, engine / berth (>= 1 means berth is
# faster), as the last line:
#   berth 11.9s engine 11.2s ratio 0.94 (engine/berth; 50 items, parallelism 8)
#
#   bench/workflow-fanout.sh [items, default 50] [parallelism, default 8] [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
par=${2:-8}
bin=${3:-build/release}
sock=/var/run/docker.sock
label="berth-bench=workflow-fanout-$$"
. bench/lib.sh
bench_cleanup_extra() {
  local ids
  ids=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}
bench_berthd "$bin" "sqlite:%TMP%/berth.db"

now() { date +%s.%N; }

# --- engine: N lifecycles, P in flight ------------------------------------------------
# One item: prints "ITEM OUTPUT"; the logs are a multiplexed stream (strip the
# 8-byte frame header).
lifecycle() {
  local body id status out
  body="{\"Image\":\"busybox:latest\",\"Cmd\":[\"sh\",\"-c\",\"echo $1\"],\"Labels\":{\"${label%%=*}\":\"${label#*=}\"},\"HostConfig\":{\"NetworkMode\":\"none\"}}"
  id=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' -d "$body" \
    http://localhost/v1.41/containers/create | sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/')
  curl -sf --unix-socket "$sock" -X POST "http://localhost/v1.41/containers/$id/start" >/dev/null
  status=$(curl -sf --unix-socket "$sock" -X POST "http://localhost/v1.41/containers/$id/wait")
  out=$(curl -sf --unix-socket "$sock" "http://localhost/v1.41/containers/$id/logs?stdout=1" |
    tail -c +9 | tr -d '\n')
  case "$status" in *'"StatusCode":0'*) ;; *) out="exit:$status" ;; esac
  echo "$1 $out"
}
export -f lifecycle
export sock label
start=$(now)
seq 0 $((n - 1)) | xargs -P "$par" -I{} bash -c 'lifecycle {}' >"$tmp/engine.out"
engine_s=$(awk -v a="$(now)" -v b="$start" 'BEGIN{print a-b}')
bad=$(awk '$1 != $2' "$tmp/engine.out" | wc -l)
got=$(wc -l <"$tmp/engine.out")
if [ "$bad" != 0 ] || [ "$got" != "$n" ]; then
  echo "engine: $got lifecycles, $bad with a wrong output, want $n" >&2
  exit 1
fi
bench_cleanup_extra

# --- berth: the same fan-out as one Workflow -------------------------------------------
cat >"$tmp/fanout.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: fanout, namespace: bench}
spec:
  parallelism: $par
  steps:
    - name: items
      withItems: [$(seq -s ', ' 0 $((n - 1)))]
      task: {image: busybox:latest, network: none, command: [sh, -c, 'echo {{item}}']}
YAML
start=$(now)
"$bin/berth" apply -f "$tmp/fanout.yaml" >/dev/null
"$bin/berth" wait -n bench workflow/fanout --for=condition=Succeeded --timeout=600s >/dev/null
berth_s=$(awk -v a="$(now)" -v b="$start" 'BEGIN{print a-b}')
curl -sf --unix-socket "$tmp/b.sock" \
  "http://localhost/apis/berth/v1/namespaces/bench/workflows/fanout/results" |
  python3 -c 'import json,sys
got = json.loads(json.load(sys.stdin)["steps"]["items"]["result"])
want = [str(i) for i in range(int(sys.argv[1]))]
sys.exit(0 if got == want else "berth result %r, want %r" % (got, want))' "$n"

# Delete the Workflow and wait until its containers are gone.
"$bin/berth" delete -n bench workflow fanout >/dev/null
cluster=$(cat "$tmp/cluster")
for _ in $(seq 1 600); do
  [ -z "$(docker ps -aq --filter "label=berth.cluster=$cluster")" ] && break
  sleep 0.2
done

printf 'berth %.2fs engine %.2fs ratio %.2f (engine/berth; %d items, parallelism %d)\n' \
  "$berth_s" "$engine_s" "$(awk -v a="$engine_s" -v b="$berth_s" 'BEGIN{print a/b}')" "$n" "$par"
