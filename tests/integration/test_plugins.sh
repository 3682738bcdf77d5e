#!/usr/bin/env bash
# Plugins (docs/plugins.md) and the docker-exec executor: the example
# notifier plugin builds out of tree with its own CMake project against the
# ABI header as `cmake --install` installs it, berthd
# loads it from --plugin-dir and a Notifier of its type gets events; a plugin
# of another ABI major and one whose init fails are refused with one log line
# while berthd runs on; docker-exec Tasks run in a running container, report
# exit codes, show output via `berth logs`, and a deadline kills the exec's
# process tree.
source "$(dirname "$0")/lib.sh"
command -v cmake >/dev/null && command -v cc >/dev/null || skip "cmake and cc are needed"

# ---- build: the example out of tree, and two plugins berthd must refuse ----
mkdir -p "$T/src" "$T/plugins"
cp "$(build_example hello-notifier)" "$T/plugins/"
bad() { # bad NAME MAJOR INIT_RESULT: a notifier plugin built from inline C
  cat >"$T/src/$1.c" <<C
#include "berth-plugin.h"
static int init(const struct berth_host *h, void **ctx) { (void)h; *ctx = 0; return $3; }
static int deliver(void *c, const char *a, const char *b, const char *o, const char *j, unsigned long n,
                   const char *cf, char *e, unsigned long es) { (void)c,(void)a,(void)b,(void)o,(void)j,(void)n,(void)cf,(void)e,(void)es; return 0; }
static const struct berth_notifier_ops ops = {.deliver = (void *)deliver};
static const struct berth_plugin p = {.abi_major = $2, .abi_minor = 0, .name = "$1",
                                      .type = BERTH_PLUGIN_NOTIFIER, .init = init, .notifier = &ops};
const struct berth_plugin *berth_plugin_descriptor(void) { return &p; }
C
  cc -shared -fPIC -I"$BERTH_SOURCE_DIR/plugins" -o "$T/plugins/$1.so" "$T/src/$1.c" || fail "cannot build $1"
}
bad wrong-abi 2 0
bad init-fails 1 -1
printf 'not an elf' >"$T/plugins/garbage.so"

export HELLO_NOTIFIER_FILE="$T/hello.log"
start_berthd --plugin-dir "$T/plugins" --allow-docker-exec
grep -q "plugin $T/plugins/wrong-abi.so refused: ABI 2.0, berthd speaks 1.x" "$T/berthd.log" ||
  fail "no refusal line for the wrong ABI"
grep -q "plugin $T/plugins/init-fails.so refused: init failed" "$T/berthd.log" ||
  fail "no refusal line for the failing init"
grep -q "plugin $T/plugins/garbage.so refused: dlopen" "$T/berthd.log" || fail "no refusal line for garbage.so"
grep -q "plugin loaded name=hello-notifier" "$T/berthd.log" || fail "hello-notifier was not loaded"
[ "$(grep -c 'refused:' "$T/berthd.log")" = 3 ] || fail "expected exactly 3 refusal lines"

# ---- a Notifier of the plugin's type gets the event --------------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Notifier
metadata: {name: hello}
spec:
  selector: {matchLabels: {team: hello}}
  on: [Failed]
  type: hello-notifier
  hello-notifier: {file: "$T/hello-config.log"}
---
apiVersion: berth/v1
kind: Task
metadata: {name: hello-fails, labels: {team: hello}}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}
YAML
berth wait task/hello-fails --for=condition=Failed --timeout=60s || fail "hello-fails did not fail"
# The Notifier's own setting (spec.hello-notifier.file) wins over the env.
wait_until 30 '[ -s "$T/hello-config.log" ]' || fail "the plugin's file never received the event"
grep -q "default/hello Failed " "$T/hello-config.log" || fail "unexpected line: $(cat "$T/hello-config.log")"
grep -q '"hello-fails"' "$T/hello-config.log" || fail "the event JSON does not name the task"
log "notifier plugin: ok"
# ---- docker-exec: a command inside a running container ----------------
TARGET=berth-it-exec-$$
docker run -d --name "$TARGET" --label berth.test=plugins --label "app=exec-$$" busybox sleep 300 >/dev/null
CLEANUP_LAST="docker rm -f $TARGET >/dev/null 2>&1 || true; ${CLEANUP_LAST:-}"

berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: exec-ok}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'echo hello from exec; echo on stderr >&2']
---
apiVersion: berth/v1
kind: Task
metadata: {name: exec-three}
spec:
  executor: {type: docker-exec, container: {labels: {app: exec-$$}}}
  command: [sh, -c, 'exit 3']
---
apiVersion: berth/v1
kind: Task
metadata: {name: exec-none}
spec:
  executor: {type: docker-exec, container: {labels: {app: no-such-$$}}}
  command: ['true']
---
apiVersion: berth/v1
kind: Task
metadata: {name: exec-slow}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'sleep 100; echo never']
  activeDeadlineSeconds: 2
YAML
berth wait task/exec-ok --for=condition=Succeeded --timeout=60s || fail "exec-ok did not succeed"
[ "$(jget exec-ok .status.exitCode)" = 0 ] || fail "exec-ok exit code $(jget exec-ok .status.exitCode)"
berth logs task/exec-ok | has "hello from exec" || fail "berth logs misses the exec's output: $(berth logs task/exec-ok 2>&1)"
berth logs task/exec-ok | has "on stderr" || fail "berth logs misses the exec's stderr"

berth wait task/exec-three --for=condition=Failed --timeout=60s || fail "exec-three did not fail"
[ "$(jget exec-three .status.exitCode)" = 3 ] || fail "exec-three exit code $(jget exec-three .status.exitCode), want 3"

berth wait task/exec-none --for=condition=Failed --timeout=60s || fail "exec-none did not fail"
[ "$(jget exec-none .status.reason)" = ExecTargetNotFound ] || fail "exec-none reason $(jget exec-none .status.reason)"
jget exec-none .status.message | has "exactly one" || fail "exec-none message $(jget exec-none .status.message)"

wait_until 20 'docker exec "$TARGET" ps | grep -q "sleep 100"' || fail "the slow exec never ran"
berth wait task/exec-slow --for=condition=Failed --timeout=60s || fail "exec-slow did not fail"
[ "$(jget exec-slow .status.reason)" = DeadlineExceeded ] || fail "exec-slow reason $(jget exec-slow .status.reason)"
if docker exec "$TARGET" ps | grep -q "sleep 100"; then
  docker exec "$TARGET" ps >&2
  fail "a sleep 100 of the killed exec is left in the container"
fi

# Env from a Secret reaches the exec; one naming a missing Secret waits for it.
SECRET_VALUE="exec-s3cret-$$"
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: exec-secret}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'test "\$TOKEN" = "$SECRET_VALUE" && echo "plain=\$PLAIN token ok"']
  env:
  - {name: PLAIN, value: yes}
  - name: TOKEN
    valueFrom: {secretKeyRef: {name: exec-token, key: token}}
YAML
wait_until 20 '[ "$(jget exec-secret .status.phase)" = Pending ]' || fail "exec-secret not Pending"
sleep 1
[ "$(jget exec-secret .status.phase)" = Pending ] || fail "exec-secret ran without its Secret: $(jget exec-secret .status.phase)"
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Secret
metadata: {name: exec-token}
stringData: {token: "$SECRET_VALUE"}
YAML
berth wait task/exec-secret --for=condition=Succeeded --timeout=60s ||
  fail "exec-secret did not succeed: $(jget exec-secret .status.message)"
berth logs task/exec-secret | has "plain=yes token ok" || fail "exec-secret output: $(berth logs task/exec-secret 2>&1)"
grep -q "$SECRET_VALUE" "$T/berthd.log" && fail "the Secret's value is in berthd's log"
log "docker-exec: ok"
stop_berthd
log "PASS"
