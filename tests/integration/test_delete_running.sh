#!/usr/bin/env bash
# Deleting a running task removes its container before the object goes away.
source "$(dirname "$0")/lib.sh"
start_berthd
cat >"$T/sleeper.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: sleeper}
spec: {image: "busybox:latest", command: [sleep, "600"], network: none}
YAML
berth apply -f "$T/sleeper.yaml" >/dev/null
berth wait task/sleeper --for=condition=Running --timeout=60s || fail "not running"
containers_of sleeper | has running || fail "no running container"
berth delete task sleeper --timeout=60s || fail "delete"
[ -z "$(containers_of sleeper)" ] || fail "container left: $(containers_of sleeper)"
berth get task sleeper >/dev/null 2>&1 && fail "task still there"
stop_berthd
log "PASS"
