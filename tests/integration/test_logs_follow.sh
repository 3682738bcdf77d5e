#!/usr/bin/env bash
# berth logs -f streams a running task's output as it comes and returns when
# the container ends; --tail and --timestamps shape it.
source "$(dirname "$0")/lib.sh"
start_berthd
cat >"$T/ticker.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: ticker}
spec:
  image: busybox:latest
  command: [sh, -c, 'for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.5; done; echo bye >&2']
  network: none
YAML
berth apply -f "$T/ticker.yaml" >/dev/null
berth wait task/ticker --for=condition=Running --timeout=60s || fail "not running"
start=$SECONDS
timeout 60 "$BERTH" logs -f task/ticker >"$T/follow.out" || fail "logs -f failed"
[ $((SECONDS - start)) -ge 1 ] || fail "logs -f returned before the container ended"
expected=$(printf 'tick 1\ntick 2\ntick 3\ntick 4\ntick 5\nbye')
[ "$(cat "$T/follow.out")" = "$expected" ] || fail "followed output: $(cat "$T/follow.out")"
berth wait task/ticker --for=condition=Succeeded --timeout=60s || fail "not succeeded"
[ "$(berth logs --tail 2 task/ticker | tr '\n' ' ')" = "tick 5 bye " ] || fail "tail 2: $(berth logs --tail 2 task/ticker)"
berth logs --timestamps task/ticker >"$T/stamped.out" || fail "logs --timestamps"
head -n1 "$T/stamped.out" | has -E '^20[0-9-]+T[0-9:.]+Z tick 1$' ||
  fail "timestamps: $(head -n1 "$T/stamped.out")"
stop_berthd
log "PASS"
