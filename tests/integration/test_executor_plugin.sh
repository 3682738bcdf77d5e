#!/usr/bin/env bash
# Executor plugins (docs/plugins.md): the example proc-executor builds out of
# tree, berthd loads it, and Tasks of its type run as host processes through
# the plugin ABI — exit codes, output via `berth logs`, a deadline that kills
# the process group, a start the plugin refuses (ExecutorFailed), deletion
# of a running Task, and a kill -9 of berthd: the attempt still running, and
# the one that ended while berthd was down, are adopted with their exit
# codes (no ContainerLost, no second attempt).
source "$(dirname "$0")/lib.sh"
command -v cmake >/dev/null && command -v cc >/dev/null || skip "cmake and cc are needed"
[ "$(id -u)" = 0 ] || skip "the example runs commands as uid 65534: needs root"

mkdir -p "$T/src" "$T/plugins"
cp "$(build_example proc-executor)" "$T/plugins/"
# slow-executor: its start takes 10 s (each attempt ends at once, exit 0);
# old-abi: an executor built for ABI 1.0, which had no executors.
cat >"$T/src/slow.c" <<'C'
#include <stdio.h>
#include <unistd.h>
#include "berth-plugin.h"
static int init(const struct berth_host *h, void **ctx) { *ctx = (void *)h; return 0; }
static int start(void *c, const char *t, int a, char *h, size_t hs, char *e, size_t es)
{ (void)c, (void)t, (void)e, (void)es; sleep(10); snprintf(h, hs, "slow-%d", a); return 0; }
static int observe(void *c, const char *h, int *st, int *ec)
{ (void)c, (void)h; *st = BERTH_EXECUTOR_ENDED; *ec = 0; return 0; }
static int sig(void *c, const char *h, int s) { (void)c, (void)h, (void)s; return 0; }
static const struct berth_executor_ops ops = {.start = start, .observe = observe, .signal = sig};
static const struct berth_plugin p = {.abi_major = 1, .abi_minor = MINOR, .name = NAME,
    .type = BERTH_PLUGIN_EXECUTOR, .init = init, .executor = &ops};
const struct berth_plugin *berth_plugin_descriptor(void) { return &p; }
C
cc -shared -fPIC -I"$BERTH_SOURCE_DIR/plugins" -DMINOR=1 -DNAME='"slow-executor"' -o "$T/plugins/slow.so" "$T/src/slow.c" ||
  fail "cannot build slow.so"
cc -shared -fPIC -I"$BERTH_SOURCE_DIR/plugins" -DMINOR=0 -DNAME='"old-abi"' -o "$T/plugins/old-abi.so" "$T/src/slow.c" ||
  fail "cannot build old-abi.so"
export PROC_EXECUTOR_DIR="$T/proc" PROC_EXECUTOR_UID=65534 PROC_EXECUTOR_GID=65534
MARK="berth-proc-$$"
CLEANUP_FIRST='pkill -f "$MARK" || true'

start_berthd --plugin-dir "$T/plugins"
grep -q "plugin loaded name=proc-executor" "$T/berthd.log" || fail "proc-executor was not loaded"
grep -q "plugin loaded name=slow-executor" "$T/berthd.log" || fail "slow-executor was not loaded"
grep -q "plugin $T/plugins/old-abi.so refused: executor plugins need ABI 1.1 or later" "$T/berthd.log" ||
  fail "no refusal line for the ABI 1.0 executor"

task() { # task NAME SCRIPT [extra spec lines]
  berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: $1}
spec:
  executor: {type: proc-executor}
  command: [sh, -c, '$2']
${3:-}
YAML
}

# ---- exit codes and output ---------------------------------------------
task proc-ok 'echo hello from proc; id -u'
task proc-fails 'echo failing >&2; exit 3'
berth wait task/proc-ok --for=condition=Succeeded --timeout=30s ||
  fail "proc-ok did not succeed: $(jget proc-ok .status.message)"
berth logs task/proc-ok | has "hello from proc" || fail "berth logs: $(berth logs task/proc-ok 2>&1)"
berth logs task/proc-ok | has -x 65534 || fail "the command did not run as 65534"
[ "$(berth logs --tail 1 task/proc-ok)" = 65534 ] || fail "logs --tail 1: $(berth logs --tail 1 task/proc-ok 2>&1)"
berth wait task/proc-fails --for=condition=Failed --timeout=30s || fail "proc-fails did not fail"
[ "$(jget proc-fails .status.exitCode)" = 3 ] || fail "exit code $(jget proc-fails .status.exitCode), not 3"
berth logs task/proc-fails | has failing || fail "stderr missing from the logs"
[ "$(jget proc-fails .status.containerID)" != "" ] || fail "no handle in the status"
berth events --for task/proc-ok | has Started || fail "no Started event"
log "exit codes and output: ok"

# ---- the deadline kills the process group ------------------------------
task proc-deadline "sleep 300 # $MARK-deadline" '  activeDeadlineSeconds: 2'
berth wait task/proc-deadline --for=condition=Failed --timeout=60s || fail "proc-deadline did not fail"
[ "$(jget proc-deadline .status.reason)" = DeadlineExceeded ] ||
  fail "reason $(jget proc-deadline .status.reason)"
wait_until 15 '! pgrep -f "$MARK-deadline" >/dev/null' || fail "the command outlived its deadline"
log "deadline: ok"

# ---- a start the plugin refuses ------------------------------------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: proc-refused}
spec:
  executor: {type: proc-executor}
  args: []
YAML
berth wait task/proc-refused --for=condition=Failed --timeout=30s || fail "proc-refused did not fail"
[ "$(jget proc-refused .status.reason)" = ExecutorFailed ] ||
  fail "reason $(jget proc-refused .status.reason), not ExecutorFailed"
jget proc-refused .status.message | has "needs spec.command" || fail "message: $(jget proc-refused .status.message)"
log "refused start: ok"

# ---- deleting a running Task kills it ------------------------------------
task proc-deleted "sleep 300 # $MARK-deleted"
wait_until 20 '[ "$(jget proc-deleted .status.phase)" = Running ]' || fail "proc-deleted not Running"
wait_until 10 'pgrep -f "$MARK-deleted" >/dev/null' || fail "proc-deleted runs no process"
berth delete task/proc-deleted >/dev/null
wait_until 20 '! pgrep -f "$MARK-deleted" >/dev/null' || fail "the deleted Task's process lives on"
log "delete: ok"

# ---- a plugin whose start takes 10 s delays nothing else -----------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: slow-one}
spec: {executor: {type: slow-executor}, command: ['true']}
---
apiVersion: berth/v1
kind: Task
metadata: {name: beside-docker}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'echo beside']}
YAML
task beside-proc 'echo beside'
berth wait task/beside-docker --for=condition=Succeeded --timeout=30s || fail "beside-docker did not succeed"
berth wait task/beside-proc --for=condition=Succeeded --timeout=30s || fail "beside-proc did not succeed"
[ -z "$(jget slow-one .status.containerID)" ] ||
  fail "slow-one started before the others finished: the test proves nothing"
berth wait task/slow-one --for=condition=Succeeded --timeout=40s || fail "slow-one did not succeed"
[ "$(jget slow-one .status.containerID)" = slow-1 ] || fail "slow-one's handle: $(jget slow-one .status.containerID)"
log "slow plugin: ok"

# ---- a Policy's allowedExecutors -------------------------------------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Policy
metadata: {name: default, namespace: locked}
spec: {allowedExecutors: []}
---
apiVersion: berth/v1
kind: Policy
metadata: {name: default, namespace: open}
spec: {allowedExecutors: [proc-executor]}
YAML
out=$(berth apply -f - 2>&1 <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: refused, namespace: locked}
spec: {executor: {type: proc-executor}, command: ['true']}
YAML
) && fail "a proc-executor Task was admitted in namespace locked"
echo "$out" | has "spec.executor.type: executor proc-executor is not allowed: Policy locked/default allows only docker (allowedExecutors)" ||
  fail "refusal: $out"
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: allowed, namespace: open}
spec: {executor: {type: proc-executor}, command: ['true']}
YAML
berth wait -n open task/allowed --for=condition=Succeeded --timeout=30s || fail "allowed did not succeed"
# A Policy written after the Task, before its attempt: judged at the start too.
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: gate, namespace: late}
spec: {image: busybox:latest, network: none, command: [sleep, '3']}
---
apiVersion: berth/v1
kind: Task
metadata: {name: after-gate, namespace: late}
spec: {executor: {type: proc-executor}, command: ['true'], dependsOn: [gate]}
YAML
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Policy
metadata: {name: default, namespace: late}
spec: {allowedExecutors: [docker-exec]}
YAML
berth wait -n late task/after-gate --for=condition=Failed --timeout=40s || fail "after-gate did not fail"
berth get -n late task after-gate -o json | has "refused by the admission policy: spec.executor.type: executor proc-executor is not allowed" ||
  fail "after-gate: $(berth get -n late task after-gate -o json)"
berth delete -n open task/allowed >/dev/null
log "allowedExecutors: ok"

# ---- kill -9 of berthd: adopted, not lost ---------------------------------
task proc-long "sleep 5; echo late; exit 5 # $MARK-long"
task proc-short "sleep 1; exit 0 # $MARK-short"
wait_until 20 '[ "$(jget proc-long .status.phase)" = Running ] && [ -n "$(jget proc-long .status.containerID)" ] &&
  [ "$(jget proc-short .status.phase)" = Running ] && [ -n "$(jget proc-short .status.containerID)" ]' ||
  fail "the two Tasks are not Running with a handle"
kill9_berthd
sleep 2 # proc-short ends while berthd is down
start_berthd --plugin-dir "$T/plugins"
berth wait task/proc-short --for=condition=Succeeded --timeout=30s ||
  fail "proc-short: $(jget proc-short .status.reason) $(jget proc-short .status.message)"
berth wait task/proc-long --for=condition=Failed --timeout=30s ||
  fail "proc-long: $(jget proc-long .status.phase) $(jget proc-long .status.reason)"
[ "$(jget proc-long .status.exitCode)" = 5 ] || fail "proc-long exit $(jget proc-long .status.exitCode), not 5"
[ "$(jget proc-long .status.attempts)" = 1 ] || fail "proc-long made $(jget proc-long .status.attempts) attempts"
[ "$(jget proc-short .status.attempts)" = 1 ] || fail "proc-short made $(jget proc-short .status.attempts) attempts"
berth logs task/proc-long | has late || fail "proc-long's output: $(berth logs task/proc-long 2>&1)"
grep -q ContainerLost <(berth events) && fail "an attempt was declared lost"
log "restart adoption: ok"

# Forgotten attempts leave no files behind.
berth delete task/proc-ok task/proc-fails task/proc-deadline task/proc-long task/proc-short task/beside-proc >/dev/null
wait_until 20 '[ -z "$(ls "$T/proc")" ]' || fail "files left: $(ls "$T/proc")"
stop_berthd
log "PASS"
