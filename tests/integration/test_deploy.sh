#!/usr/bin/env bash
# Deploy from a Workflow, on the build-test-deploy example: the Service runs
# berth-demo:v1 (busybox tagged, there is no registry), the release Workflow
# builds, tests and deploys berth-demo:v2 and succeeds once every replica runs
# it; the deploy step's result is the image. A second run deploys an image
# that cannot be pulled: the step fails with RolloutFailed after the Service's
# progressDeadlineSeconds while the v2 replicas keep serving.
source "$(dirname "$0")/lib.sh"

docker image inspect busybox:latest >/dev/null 2>&1 || skip "busybox:latest is not present"
docker tag busybox:latest berth-demo:v1
docker tag busybox:latest berth-demo:v2
CLEANUP_LAST='docker rmi berth-demo:v1 berth-demo:v2 >/dev/null 2>&1 || true'
start_berthd

EX="$BERTH_SOURCE_DIR/examples/build-test-deploy"

# obj KIND NAME PATH: a field (dotted path; list indexes as numbers; keys may hold '/').
obj() {
  berth get "$1" "$2" -o json | python3 -c "
import json,sys
o=json.load(sys.stdin)
for p in sys.argv[1].split('.'):
    o=o[int(p)] if isinstance(o,list) else (o.get(p) if isinstance(o,dict) else None)
print('' if o is None else o)" "$3"
}
condition() { # NAME TYPE: "status reason" of a Service condition
  berth get service "$1" -o json | python3 -c "
import json,sys
for c in json.load(sys.stdin).get('status',{}).get('conditions',[]):
    if c['type']==sys.argv[1]: print(c['status'], c['reason'])" "$2"
}
ports() {
  berth get service web-app -o json | python3 -c "
import json,sys
for r in json.load(sys.stdin).get('status',{}).get('replicaStatuses',[]):
    for p in r.get('hostPorts',{}).values(): print(p)"
}
# images of the running replicas, one per line, sorted
replica_images() {
  local ids
  ids=$(docker ps -q --filter "$(cluster_filter)" --filter label=berth.name=web-app)
  [ -n "$ids" ] || return 0
  docker inspect --format '{{.Config.Image}}' $ids | sort
}
step() { # WORKFLOW FIELD: a field of the deploy step's status
  obj workflow "$1" "status.steps.2.$2"
}

# --- the Service on v1 ----------------------------------------------------------------
berth apply -f "$EX/service.yaml" >/dev/null || fail "apply service"
berth wait service/web-app --for=condition=Available --timeout=60s ||
  fail "web-app not Available: $(berth get service web-app -o yaml)"
wait_until 30 '[ "$(condition web-app Progressing)" = "True NewRevisionAvailable" ]' ||
  fail "web-app not rolled out: $(berth get service web-app -o yaml)"
[ "$(replica_images | tr '\n' ' ')" = "berth-demo:v1 berth-demo:v1 " ] || fail "v1 replicas: $(replica_images)"
gen_before=$(obj service web-app metadata.generation)

# --- build → test → deploy v2 -----------------------------------------------------------
t0=$SECONDS
berth apply -f "$EX/workflow.yaml" | has 'workflow/release created' || fail "apply workflow"
berth wait workflow/release --for=condition=Succeeded --timeout=60s ||
  fail "release did not succeed: $(berth get workflow release -o yaml) $(berth get service web-app -o yaml)"
log "release succeeded $((SECONDS - t0))s after apply"
[ "$(obj service web-app spec.template.image)" = berth-demo:v2 ] || fail "image: $(obj service web-app spec.template.image)"
[ "$(obj service web-app metadata.annotations.berth/deployed-by)" = default/release ] ||
  fail "annotation: $(berth get service web-app -o json)"
gen=$(obj service web-app metadata.generation)
[ "$gen" = $((gen_before + 1)) ] || fail "generation $gen_before -> $gen"
# Succeeded means rolled out: every running replica runs v2, no v1 is left.
[ "$(replica_images | tr '\n' ' ')" = "berth-demo:v2 berth-demo:v2 " ] || fail "replicas after the deploy: $(replica_images)"
[ "$(condition web-app Progressing)" = "True NewRevisionAvailable" ] || fail "Progressing: $(condition web-app Progressing)"
for p in $(ports); do curl -sf "http://127.0.0.1:$p/" | has "web-app replica" || fail "no answer on $p"; done
[ "$(step release name)" = deploy ] && [ "$(step release phase)" = Succeeded ] &&
  [ "$(step release service)" = web-app ] && [ "$(step release image)" = berth-demo:v2 ] &&
  [ "$(step release serviceGeneration)" = "$gen" ] && [ -z "$(step release task)" ] ||
  fail "deploy step status: $(berth get workflow release -o json)"
curl -sf --unix-socket "$T/berth.sock" \
  http://localhost/apis/berth/v1/namespaces/default/workflows/release/results >"$T/results.json" ||
  fail "results endpoint"
python3 - "$T/results.json" <<'PY' || fail "results: $(cat "$T/results.json")"
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
assert steps["build"]["result"] == "v2", steps
assert steps["test"]["result"] == "tests passed", steps
assert steps["deploy"]["result"] == "berth-demo:v2", steps
PY
berth describe workflow release | has -E '^ +deploy: +berth-demo:v2$' || fail "describe: $(berth describe workflow release)"

# --- a broken image: RolloutFailed, the v2 replicas keep serving --------------------------
# The manifest again, on v2 with a short progressDeadlineSeconds (not part of the
# revision: no rollout).
sed -e 's/image: berth-demo:v1/image: berth-demo:v2/' -e 's/^spec:/spec:\n  progressDeadlineSeconds: 5/' \
  "$EX/service.yaml" >"$T/service.yaml"
berth apply -f "$T/service.yaml" | has 'service/web-app configured' || fail "apply service with a short deadline"
wait_until 10 '[ "$(obj service web-app status.observedGeneration)" = "$(obj service web-app metadata.generation)" ]' ||
  fail "deadline change not observed"
[ "$(condition web-app Progressing)" = "True NewRevisionAvailable" ] || fail "the apply started a rollout: $(berth get service web-app -o yaml)"
sed -e 's/name: release$/name: release-nope/' -e 's/value: v2/value: nope/' "$EX/workflow.yaml" >"$T/nope.yaml"
t0=$SECONDS
berth apply -f "$T/nope.yaml" >/dev/null || fail "apply release-nope"
berth wait workflow/release-nope --for=condition=Failed --timeout=45s ||
  fail "release-nope did not fail: $(berth get workflow release-nope -o yaml) $(berth get service web-app -o yaml)"
log "release-nope failed $((SECONDS - t0))s after apply"
[ "$(step release-nope reason)" = RolloutFailed ] || fail "deploy step: $(berth get workflow release-nope -o json)"
step release-nope message | has 'ProgressDeadlineExceeded\|made no progress' ||
  fail "message: $(step release-nope message)"
[ "$(obj workflow release-nope status.reason)" = StepFailed ] || fail "workflow reason"
obj workflow release-nope status.message | has '^step deploy failed: RolloutFailed: service web-app: ' ||
  fail "workflow message: $(obj workflow release-nope status.message)"
[ "$(step release-nope image)" = berth-demo:nope ] || fail "image recorded: $(step release-nope image)"
[ "$(obj service web-app spec.template.image)" = berth-demo:nope ] || fail "service image"
[ "$(condition web-app Progressing)" = "False ProgressDeadlineExceeded" ] || fail "Progressing: $(condition web-app Progressing)"
[ "$(condition web-app Available)" = "True MinimumReplicasAvailable" ] || fail "not Available while the rollout is stuck"
[ "$(replica_images | tr '\n' ' ')" = "berth-demo:v2 berth-demo:v2 " ] || fail "replicas of the stuck rollout: $(replica_images)"
served=0
for p in $(ports); do curl -sf "http://127.0.0.1:$p/" >/dev/null && served=$((served + 1)); done
[ $served -ge 2 ] || fail "only $served replicas serve during the stuck rollout"
# The first run stays as it was.
[ "$(obj workflow release status.phase)" = Succeeded ] || fail "release changed: $(obj workflow release status.phase)"

berth delete workflow/release workflow/release-nope service/web-app >/dev/null || fail "delete"
wait_until 30 '! berth get service web-app >/dev/null 2>&1 && [ -z "$(docker ps -aq --filter "$(cluster_filter)")" ]' ||
  fail "left behind: $(docker ps -a --filter "$(cluster_filter)" --format '{{.Names}}')"
stop_berthd
log "PASS"
