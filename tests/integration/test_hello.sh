#!/usr/bin/env bash
# The whole path: berth apply → container → status, logs, describe, delete.
source "$(dirname "$0")/lib.sh"
start_berthd

out=$(berth apply -f "$BERTH_SOURCE_DIR/examples/hello/")
[ "$out" = "task/hello created" ] || fail "apply said: $out"
out=$(berth apply -f "$BERTH_SOURCE_DIR/examples/hello/task.yaml")
[ "$out" = "task/hello unchanged" ] || fail "second apply said: $out"

berth wait task/hello --for=condition=Succeeded --timeout=60s || fail "hello did not succeed"
[ "$(jget hello .status.phase)" = Succeeded ] || fail "phase"
[ "$(jget hello .status.exitCode)" = 0 ] || fail "exit code"
[ "$(jget hello .status.reason)" = Completed ] || fail "reason"
[ "$(jget hello .status.attempts)" = 1 ] || fail "attempts"

logs=$(berth logs task/hello)
echo "$logs" | has -x 'hello from berth' || fail "logs lack stdout line: $logs"
echo "$logs" | has -x 'running as 0 in /tmp' || fail "logs lack stderr line: $logs"

berth get tasks | grep -E '^hello +Succeeded +1 +0 ' >/dev/null || fail "get table: $(berth get tasks)"
berth get tasks -o name | has -x task/hello || fail "get -o name"
berth get tasks -l app=demo -o name | has -x task/hello || fail "label selector"
[ -z "$(berth get tasks -l app=other -o name 2>/dev/null)" ] || fail "label selector matched wrongly"
berth get task hello -o yaml | has '^kind: Task' || fail "get -o yaml"

cid=$(jget hello .status.containerID)
[ -n "$cid" ] || fail "no containerID"
berth describe task hello | has "$cid" || fail "describe lacks container id"
docker inspect "$cid" --format '{{index .Config.Labels "berth.name"}}' | has -x hello ||
  fail "container labels"
[ "$(docker inspect "$cid" --format '{{.HostConfig.Memory}}')" = $((64 * 1024 * 1024)) ] ||
  fail "memory limit not applied"

berth delete task hello || fail "delete"
wait_until 30 '[ -z "$(containers_of hello)" ]' || fail "container not removed: $(containers_of hello)"
berth get task hello >/dev/null 2>&1 && fail "task still exists after delete"
stop_berthd
log "PASS"
