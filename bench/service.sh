#!/usr/bin/env bash
# What keeping Services costs, measured against the engine in the same run:
#   start     `berth apply` of a 10-replica Service until condition Available,
#             against 10 raw create + start of the same container straight on
#             the Engine API with 8 in flight (the baseline); prints the ratio
#   rollout   a template change of those 10 replicas with maxSurge 2 until
#             `berth rollout status` returns
#   idle      berthd's CPU while 50 replicas with an exec health check every
#             5 s run healthy for 60 s (Docker runs the checks; berthd only
#             hears the health_status events that change something)
# Prints, as the last lines:
#   start berth 2.10s engine 1.95s ratio 0.93 (10 replicas)
#   rollout 10 replicas maxSurge 2: 6.3s
#   idle cpu 0.02s in 60s (50 replicas, exec checks every 5s)
#
#   bench/service.sh [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
sock=/var/run/docker.sock
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db"
bench_cleanup_extra() {
  local ids
  ids=$(docker ps -aq --filter label=berth-bench=service-baseline 2>/dev/null || true)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}
now() { date +%s.%N; }
# A process that stops on SIGTERM, as a well-behaved service does.
cmd='trap "exit 0" TERM; sleep 3600 & wait'

# --- baseline: 10 raw create + start, 8 in flight -------------------------------------
body=$(python3 -c 'import json,sys; print(json.dumps({"Image": "busybox:latest",
  "Entrypoint": ["sh", "-c", sys.argv[1]], "Labels": {"berth-bench": "service-baseline"},
  "HostConfig": {"NetworkMode": "none"}}))' "$cmd")
create_start() {
  local id
  id=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' -d "$body" \
    "http://localhost/containers/create?name=berth-bench-baseline-$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
  curl -sf --unix-socket "$sock" -X POST "http://localhost/containers/$id/start" >/dev/null
}
export -f create_start
export body sock
t0=$(now)
seq 1 10 | xargs -P 8 -I{} bash -c 'create_start {}'
engine=$(python3 -c "print($(now) - $t0)")
bench_cleanup_extra

# --- berth: apply until Available ---------------------------------------------------
service() { # NAME REPLICAS VALUE EXTRA-SPEC-LINES
  cat <<YAML
apiVersion: berth/v1
kind: Service
metadata: {name: $1}
spec:
  replicas: $2
  template:
    image: busybox:latest
    network: none
    env: [{name: VERSION, value: "$3"}]
    command: [sh, -c, '$cmd']
  updateStrategy: {type: RollingUpdate, maxSurge: 2, maxUnavailable: 0}
$4
YAML
}
service bench 10 v1 "" >"$tmp/v1.yaml"
t0=$(now)
"$bin/berth" apply -f "$tmp/v1.yaml" >/dev/null
"$bin/berth" wait service/bench --for=condition=Available --timeout=120s >/dev/null
berth_s=$(python3 -c "print($(now) - $t0)")

# --- rollout of 10 with maxSurge 2 ----------------------------------------------------
service bench 10 v2 "" >"$tmp/v2.yaml"
t0=$(now)
"$bin/berth" apply -f "$tmp/v2.yaml" >/dev/null
"$bin/berth" rollout status service/bench --timeout=300s >/dev/null
rollout_s=$(python3 -c "print($(now) - $t0)")
"$bin/berth" delete service/bench >/dev/null

# --- idle: 50 replicas with exec checks ------------------------------------------------
service idle 50 v1 "  healthCheck: {exec: {command: [\"true\"]}, intervalSeconds: 5}" >"$tmp/idle.yaml"
"$bin/berth" apply -f "$tmp/idle.yaml" >/dev/null
"$bin/berth" rollout status service/idle --timeout=300s >/dev/null
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
c0=$(ticks)
sleep 60
idle=$(python3 -c "print('%.2f' % (($(ticks) - $c0) / $hz))")

python3 -c "print('start berth %.2fs engine %.2fs ratio %.2f (10 replicas)' % ($berth_s, $engine, $engine / $berth_s))"
python3 -c "print('rollout 10 replicas maxSurge 2: %.1fs' % $rollout_s)"
echo "idle cpu ${idle}s in 60s (50 replicas, exec checks every 5s)"
