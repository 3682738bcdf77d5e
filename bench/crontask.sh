#!/usr/bin/env bash
# What scheduling costs: two measurements of a private berthd.
#   skew   N CronTasks on "@every 5s" for D seconds: the delay between each
#          run's scheduled time and its container's start (Docker's
#          State.StartedAt), p50 and p99 — the engine's create + start is
#          most of it
#   idle   M CronTasks scheduled far in the future ("0 0 1 1 *"): berthd's CPU
#          time over 60 s; with one timer per CronTask and no polling it is ~0
# Prints both as the last lines:
#   skew p50 0.41s p99 0.93s (50 crontasks, 120 s, 1180 runs)
#   idle cpu 0.00s in 60s (1000 crontasks)
#
#   bench/crontask.sh [N, default 50] [D, default 120] [M, default 1000] [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
duration=${2:-120}
m=${3:-1000}
bin=${4:-build/release}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db"

# --- skew ------------------------------------------------------------------
for i in $(seq 1 "$n"); do
  cat <<YAML
---
apiVersion: berth/v1
kind: CronTask
metadata: {name: skew-$i}
spec:
  schedule: "@every 5s"
  successfulHistoryLimit: 1000
  taskTemplate:
    spec: {image: "busybox:latest", network: none, command: ["true"]}
YAML
done >"$tmp/skew.yaml"
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
"$bin/berth" apply -f "$tmp/skew.yaml" >/dev/null
t0=$(ticks)
sleep "$duration"
python3 -c "print('berthd cpu during skew: %.2fs of ${duration}s' % (($(ticks) - $t0) / $hz))" >&2
for i in $(seq 1 "$n"); do "$bin/berth" suspend "crontask/skew-$i" >/dev/null; done
"$bin/berth" get tasks -o json >"$tmp/runs.json"
python3 - "$tmp/runs.json" "$(cat "$tmp/cluster")" "$n" "$duration" <<'PY'
import calendar, datetime, json, subprocess, sys, time
runs = json.load(open(sys.argv[1]))["items"]
ids = subprocess.run(["docker", "ps", "-aq", "--filter", "label=berth.cluster=" + sys.argv[2]],
                     capture_output=True, text=True).stdout.split()
started = {}
for chunk in range(0, len(ids), 200):
    out = subprocess.run(["docker", "inspect", "--format",
                          '{{index .Config.Labels "berth.name"}} {{.State.StartedAt}}'] + ids[chunk:chunk + 200],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        name, at = line.split()
        if not at.startswith("0001"):
            started[name] = datetime.datetime.fromisoformat(at[:26].rstrip("Z") + "+00:00").timestamp()
skew = []
for o in runs:
    name = o["metadata"]["name"]
    at = o["metadata"].get("annotations", {}).get("berth/scheduled-time")
    if at and name in started:
        skew.append(started[name] - calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ")))
skew.sort()
if not skew:
    sys.exit("no runs started")
p = lambda q: skew[min(len(skew) - 1, int(q * len(skew)))]
print("skew p50 %.2fs p99 %.2fs (%s crontasks, %s s, %d runs)" % (p(0.5), p(0.99), sys.argv[3], sys.argv[4], len(skew)))
PY

# --- idle --------------------------------------------------------------------
for i in $(seq 1 "$m"); do
  cat <<YAML
---
apiVersion: berth/v1
kind: CronTask
metadata: {name: idle-$i}
spec:
  schedule: "0 0 1 1 *"
  taskTemplate:
    spec: {image: "busybox:latest", command: ["true"]}
YAML
done >"$tmp/idle.yaml"
"$bin/berth" apply -f "$tmp/idle.yaml" >/dev/null
sleep 10 # every CronTask reconciled once, its status written
before=$(ticks)
sleep 60
after=$(ticks)
python3 -c "print('idle cpu %.2fs in 60s (%s crontasks)' % (($after - $before) / $hz, $m))"
