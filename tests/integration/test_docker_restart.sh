#!/usr/bin/env bash
# Restart dockerd mid-run: berthd reconnects to the events stream and converges:
# a running Task completes, a Service's replicas are adopted (not doubled).
# Needs a dockerd this test run started (scripts/test.sh does, with
# --live-restore so containers survive the restart).
source "$(dirname "$0")/lib.sh"
pidfile=${BERTH_TEST_DOCKERD_PIDFILE:-}
if [ -z "$pidfile" ] || [ ! -f "$pidfile" ]; then
  skip "dockerd was not started by scripts/test.sh, cannot restart it"
fi
start_berthd
cat >"$T/slow.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: outlives-engine-restart}
spec: {image: "busybox:latest", command: [sh, -c, 'sleep 6; echo survived'], network: none}
YAML
berth apply -f "$T/slow.yaml" >/dev/null
berth wait task/outlives-engine-restart --for=condition=Running --timeout=60s || fail "not running"
# A Service too: its replicas are adopted after the restart, never doubled.
cat >"$T/svc.yaml" <<'YAML'
apiVersion: berth/v1
kind: Service
metadata: {name: keeps-running}
spec:
  replicas: 2
  template: {image: "busybox:latest", network: none, command: [sh, -c, 'trap "exit 0" TERM; sleep 3600 & wait']}
YAML
berth apply -f "$T/svc.yaml" >/dev/null
berth rollout status service/keeps-running --timeout=60s >/dev/null || fail "service not rolled out"
replicas_of() { docker ps -a --filter "$(cluster_filter)" --filter label=berth.name=keeps-running -q | sort; }
before=$(replicas_of)

log "restarting dockerd"
old=$(cat "$pidfile")
# The same command line again (a private dockerd keeps its --host, ...).
mapfile -d '' -t dockerd_cmd <"/proc/$old/cmdline"
kill -TERM "$old"
for _ in $(seq 1 150); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
kill -0 "$old" 2>/dev/null && fail "dockerd did not stop"
dockerd_start "$pidfile" "$(dirname "$pidfile")/dockerd.log" "${dockerd_cmd[@]}" ||
  fail "dockerd did not come back"

berth wait task/outlives-engine-restart --for=condition=Succeeded --timeout=90s ||
  fail "task did not complete after the engine restart"
berth rollout status service/keeps-running --timeout=60s >/dev/null || fail "service not available after the restart"
[ "$(replicas_of)" = "$before" ] || fail "replicas not adopted: before $before, after $(replicas_of)"
ready=$(berth get service keeps-running -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["readyReplicas"])')
[ "$ready" = 2 ] || fail "$ready ready replicas: $(berth get service keeps-running -o yaml)"
# And new work runs on the reconnected engine.
sed 's/outlives-engine-restart/after-restart/' "$T/slow.yaml" | sed 's/sleep 6; //' >"$T/after.yaml"
berth apply -f "$T/after.yaml" >/dev/null
berth wait task/after-restart --for=condition=Succeeded --timeout=60s || fail "new task after restart"
stop_berthd
log "PASS"
