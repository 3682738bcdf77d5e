#!/usr/bin/env bash
# A missing image with imagePullPolicy Never fails clearly, never crashes.
# An image found present once is remembered (the next Task makes no image
# inspect), and forgotten when a create finds it gone (the Task then pulls).
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

# ---- the image memory ----------------------------------------------------------
IMG="berth-it-mem-$$:1"
CLEANUP_LAST="docker rmi $IMG >/dev/null 2>&1"
docker tag busybox:latest "$IMG" || fail "docker tag"
image_inspects() {
  curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics |
    sed -n 's/^berth_docker_requests_total{operation="image_inspect",code_class="\([24]xx\)"} //p' |
    awk '{n += $1} END {print n + 0}'
}
mem_task() { # name policy
  cat <<YAML | berth apply -f - >/dev/null
apiVersion: berth/v1
kind: Task
metadata: {name: $1}
spec: {image: "$IMG", imagePullPolicy: $2, command: ["true"], network: none}
YAML
}
mem_task mem-first Never
berth wait task/mem-first --for=condition=Succeeded --timeout=60s || fail "mem-first did not succeed"
n1=$(image_inspects)
mem_task mem-second IfNotPresent
berth wait task/mem-second --for=condition=Succeeded --timeout=60s || fail "mem-second did not succeed"
n2=$(image_inspects)
[ "$n2" = "$n1" ] || fail "the second Task of a known image inspected it ($n1 -> $n2 image inspects)"
docker rmi "$IMG" >/dev/null || fail "docker rmi"
mem_task mem-gone IfNotPresent
berth wait task/mem-gone --for=condition=Failed --timeout=120s || fail "mem-gone not failed"
[ "$(jget mem-gone .status.reason)" = ImagePullFailed ] || fail "mem-gone reason $(jget mem-gone .status.reason)"
# Forgotten at the create's 404, inspected again, then pulled (offline: fails).
jget mem-gone .status.message | has "pull image $IMG" || fail "mem-gone did not pull: $(jget mem-gone .status.message)"
[ "$(image_inspects)" -gt "$n2" ] || fail "a gone image was not inspected again"
[ -z "$(containers_of mem-gone)" ] || fail "mem-gone has a container"
stop_berthd
log "PASS"
