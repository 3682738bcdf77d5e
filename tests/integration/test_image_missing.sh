#!/usr/bin/env bash
# A missing image with imagePullPolicy Never fails clearly, never crashes.
source "$(dirname "$0")/lib.sh"
start_berthd
cat >"$T/missing.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: missing}
spec: {image: "busybox:nosuch", imagePullPolicy: Never, network: none}
YAML
berth apply -f "$T/missing.yaml" >/dev/null
berth wait task/missing --for=condition=Failed --timeout=60s || fail "not failed"
[ "$(jget missing .status.reason)" = ImagePullFailed ] || fail "reason $(jget missing .status.reason)"
jget missing .status.message | has 'busybox:nosuch' || fail "message: $(jget missing .status.message)"
[ -z "$(containers_of missing)" ] || fail "a container was created"

# IfNotPresent tries to pull, which fails offline: also a clear status.
sed -e 's/Never/IfNotPresent/' -e 's/name: missing/name: pull-fails/' "$T/missing.yaml" >"$T/pull.yaml"
berth apply -f "$T/pull.yaml" >/dev/null
berth wait task/pull-fails --for=condition=Failed --timeout=120s || fail "pull-fails not failed"
[ "$(jget pull-fails .status.reason)" = ImagePullFailed ] || fail "pull reason"
[ -n "$(jget pull-fails .status.message)" ] || fail "empty pull message"
stop_berthd
log "PASS"
