#!/usr/bin/env bash
# Image build steps (examples/build-and-test): berthd builds the app image
# from a directory inside its --build-root through the Engine API, the next
# step runs the image's test suite and keeps its JUnit report as a file
# output, onExit reports; the build's output is the step's log and the image
# ID its result. A broken Dockerfile fails the step with BuildFailed and the
# daemon's message. A context outside the build root, also through a
# symbolic link, is refused at apply (422) and nothing is stored.
source "$(dirname "$0")/lib.sh"
root="$T/build-root"
mkdir -p "$root"
cp -r "$BERTH_SOURCE_DIR/examples/build-and-test/app" "$root/app"
CLEANUP_LAST='docker rmi -f berth-example-app:1.0 berth-example-app:latest berth-it-broken:1 >/dev/null 2>&1 || true'
start_berthd --build-root "$root"

sed "s|/srv/berth/examples/build-and-test/app|$root/app|" \
  "$BERTH_SOURCE_DIR/examples/build-and-test/workflow.yaml" >"$T/workflow.yaml"
berth apply -f "$T/workflow.yaml" >/dev/null || fail "apply build-and-test"
berth wait workflow/build-and-test --for=condition=Succeeded --timeout 180s ||
  fail "build-and-test: $(berth get workflow build-and-test -o json)"
image=$(wfq build-and-test 'step("build")["image"]')
[ "$(docker image inspect --format '{{.Id}}' berth-example-app:1.0)" = "$image" ] ||
  fail "image $image is not berth-example-app:1.0"
berth logs workflow/build-and-test --step build >"$T/build.log" || fail "logs --step build"
has "COPY app.sh test.sh /app/" "$T/build.log" || fail "build log: $(cat "$T/build.log")"
berth cp workflow/build-and-test:test/junit "$T/junit.xml" || fail "cp junit"
has 'failures="0"' "$T/junit.xml" || fail "junit: $(cat "$T/junit.xml")"
[ "$(berth logs task/build-and-test-test)" = "3 tests, 0 failures (version 1.0)" ] ||
  fail "test: $(berth logs task/build-and-test-test)"
berth logs task/build-and-test-onexit | has -x "build-and-test Succeeded: image $image; failures: \[\]" ||
  fail "onExit: $(berth logs task/build-and-test-onexit)"

log "a broken Dockerfile"
mkdir "$root/broken"
printf 'FROM busybox:latest\nRUN echo about to fail && exit 3\n' >"$root/broken/Dockerfile"
cat >"$T/broken.yaml" <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: broken}
spec:
  steps:
    - name: image
      build: {context: $root/broken, tags: ["berth-it-broken:1"]}
YAML
berth apply -f "$T/broken.yaml" >/dev/null || fail "apply broken"
berth wait workflow/broken --for=condition=Failed --timeout 120s ||
  fail "broken: $(berth get workflow broken -o json)"
[ "$(wfq broken 'step("image")["reason"]')" = BuildFailed ] || fail "reason: $(wfq broken 'step("image")')"
wfq broken 'step("image")["message"]' | has "returned a non-zero code: 3" ||
  fail "message: $(wfq broken 'step("image")["message"]')"
berth logs workflow/broken --step image | has "about to fail" || fail "broken build's log"

log "contexts outside the build root"
ln -s /etc "$root/escape"
for context in /tmp "$root/../" "$root/escape"; do
  sed "s|context: $root/broken|context: $context|; s|name: broken|name: outside|" "$T/broken.yaml" >"$T/outside.yaml"
  berth apply -f "$T/outside.yaml" >"$T/out.txt" 2>&1 && fail "context $context accepted"
  has "spec.steps\[0\].build.context" "$T/out.txt" && has "outside the directories berthd may build from" "$T/out.txt" ||
    fail "context $context: $(cat "$T/out.txt")"
done
berth get workflow outside >/dev/null 2>&1 && fail "a refused Workflow was stored"
log "ok"
