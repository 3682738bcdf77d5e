#!/usr/bin/env bash
# What a Workflow costs on top of the engine: a chain of N steps, each passing
# its stdout to the next ({{steps.<prev>.outputs.result}}), run twice:
#   engine  the same chain straight against the Engine API with curl: per step
#           create, start, wait, read stdout, remove — the least a tool can do
#   berth   one Workflow applied through berthd, until it is Succeeded
# and prints both times and their ratio (engine / berth) as the last line:
#   berth 6.1s engine 5.8s ratio 0.95 (20 steps)
#
#   bench/workflow-chain.sh [steps, default 20] [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
bin=${2:-build/release}
docker_sock=/var/run/docker.sock
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db"

now() { date +%s.%N; }
engine() { # METHOD PATH [BODY]
  curl -sf --unix-socket "$docker_sock" -X "$1" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "http://localhost/v1.41$2"
}

# Engine: step i prints (previous value + 1); stdout via the logs endpoint
# (a multiplexed stream: strip the 8-byte frame header).
start=$(now)
value=0
for i in $(seq 1 "$n"); do
  body="{\"Image\":\"busybox:latest\",\"Cmd\":[\"sh\",\"-c\",\"echo \$(( $value + 1 ))\"],\"HostConfig\":{\"NetworkMode\":\"none\"}}"
  id=$(engine POST /containers/create "$body" | sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/')
  engine POST "/containers/$id/start" >/dev/null
  engine POST "/containers/$id/wait" >/dev/null
  value=$(engine GET "/containers/$id/logs?stdout=1" | tail -c +9 | tr -d '\n')
  engine DELETE "/containers/$id" >/dev/null
done
engine_s=$(awk -v a="$(now)" -v b="$start" "BEGIN{print a-b}")
[ "$value" = "$n" ] || { echo "engine chain ended with '$value', want $n" >&2; exit 1; }

# berth: the same chain as one Workflow.
{
  printf 'apiVersion: berth/v1\nkind: Workflow\nmetadata: {name: chain, namespace: bench}\nspec:\n  steps:\n'
  printf '    - name: s1\n      task: {image: busybox:latest, network: none, command: [sh, -c, "echo 1"]}\n'
  for i in $(seq 2 "$n"); do
    printf '    - name: s%d\n      dependsOn: [s%d]\n' "$i" $((i - 1))
    printf '      task: {image: busybox:latest, network: none, command: [sh, -c, "echo $(( {{steps.s%d.outputs.result}} + 1 ))"]}\n' $((i - 1))
  done
} >"$tmp/chain.yaml"
start=$(now)
"$bin/berth" apply -f "$tmp/chain.yaml" >/dev/null
"$bin/berth" wait -n bench workflow/chain --for=condition=Succeeded --timeout=600s >/dev/null
berth_s=$(awk -v a="$(now)" -v b="$start" "BEGIN{print a-b}")
last=$(curl -sf --unix-socket "$tmp/b.sock" \
  "http://localhost/apis/berth/v1/namespaces/bench/workflows/chain/results" |
  python3 -c "import json,sys; print(json.load(sys.stdin)['steps']['s$n']['result'])")
[ "$last" = "$n" ] || { echo "berth chain ended with '$last', want $n" >&2; exit 1; }
"$bin/berth" delete -n bench workflow chain >/dev/null

printf 'berth %.2fs engine %.2fs ratio %.2f (%d steps)\n' "$berth_s" "$engine_s" \
  "$(awk -v a="$engine_s" -v b="$berth_s" "BEGIN{print a/b}")" "$n"
