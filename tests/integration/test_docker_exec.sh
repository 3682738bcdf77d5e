#!/usr/bin/env bash
# docker-exec Tasks (docs/reference/task.md, "Executors"): every attempt's
# output is kept in its own file under <data-dir>/exec-logs, which
# `berth logs` serves per attempt (capped at 8 MiB, with a note), with --tail,
# and with -f (plain and SSE) until the exec ends; after a kill -9 of berthd the running attempt's exec
# is adopted (its exit code, the same attempt, no second exec), one that
# ended while berthd was down too, and a deadline still kills an adopted
# exec; deleting a Task removes its files, and files of Tasks gone while
# berthd was down are removed at its start.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is needed"
SOCK="$T/berth.sock"
LOGS="$T/exec-logs"

TARGET=berth-it-dexec-$$
docker run -d --name "$TARGET" --label berth.test=docker-exec busybox sleep 600 >/dev/null
CLEANUP_LAST="docker rm -f $TARGET >/dev/null 2>&1 || true; ${CLEANUP_LAST:-}"
start_berthd --allow-docker-exec

uid_of() { jget "$1" .metadata.uid; }
# How many processes of the target run a command line matching $1.
procs() { docker exec "$TARGET" ps | grep -c -- "$1" || true; }

# ---- (a) attempts of a retried Task each have their own output --------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: retried}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'n=\$(cat /tmp/n-$$ 2>/dev/null || echo 0); n=\$((n+1)); echo \$n >/tmp/n-$$; echo "run \$n"; echo "err \$n" >&2; [ \$n -ge 2 ]']
  restartPolicy: OnFailure
  backoffLimit: 2
  backoff: {initialSeconds: 0}
YAML
berth wait task/retried --for=condition=Succeeded --timeout=60s || fail "retried did not succeed"
[ "$(jget retried .status.attempts)" = 2 ] || fail "retried: $(jget retried .status.attempts) attempts, want 2"
# stdout and stderr arrive in either order: compared sorted.
a1=$(berth logs --attempt 1 task/retried | sort)
a2=$(berth logs --attempt 2 task/retried | sort)
latest=$(berth logs task/retried | sort)
[ "$a1" = "$(printf 'err 1\nrun 1')" ] || fail "attempt 1 output: '$a1'"
[ "$a2" = "$(printf 'err 2\nrun 2')" ] || fail "attempt 2 output: '$a2'"
[ "$latest" = "$a2" ] || fail "the latest attempt's output: '$latest'"
[ "$(berth logs --tail 1 --attempt 1 task/retried)" = "$(berth logs --attempt 1 task/retried | tail -n 1)" ] ||
  fail "--tail 1 of attempt 1: $(berth logs --tail 1 --attempt 1 task/retried)"
[ "$(berth logs --tail 1 --attempt 1 task/retried | wc -l)" = 1 ] || fail "--tail 1: not one line"
berth logs --attempt 3 task/retried >"$T/a3.out" 2>&1 && fail "attempt 3 answered: $(cat "$T/a3.out")"
has "no attempt 3" "$T/a3.out" || fail "attempt 3: $(cat "$T/a3.out")"
RETRIED_UID=$(uid_of retried)
[ -f "$LOGS/$RETRIED_UID/1.log" ] && [ -f "$LOGS/$RETRIED_UID/2.log" ] || fail "no files in $LOGS/$RETRIED_UID"
[ "$(stat -c %a "$LOGS/$RETRIED_UID")" = 700 ] || fail "directory mode $(stat -c %a "$LOGS/$RETRIED_UID")"
[ "$(stat -c %a "$LOGS/$RETRIED_UID/1.log")" = 600 ] || fail "file mode $(stat -c %a "$LOGS/$RETRIED_UID/1.log")"
# A chatty command: its file stops at 8 MiB and says so; the command runs on.
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: chatty}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'head -c 9437184 /dev/zero | tr "\\0" x; echo; echo after the flood']
YAML
berth wait task/chatty --for=condition=Succeeded --timeout=60s || fail "chatty did not succeed"
chatty_file="$LOGS/$(uid_of chatty)/1.log"
size=$(stat -c %s "$chatty_file")
[ "$size" -gt 8388608 ] && [ "$size" -lt 8388800 ] || fail "chatty's file has $size bytes"
berth logs --tail 1 task/chatty | has "output truncated" || fail "no truncation note: $(berth logs --tail 1 task/chatty | head -c 300)"
berth logs task/chatty | has "after the flood" && fail "past the cap was kept"
log "(a) per-attempt output: ok"

# ---- (b) logs -f prints lines as they come, ends with the exec ---------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: ticker}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'for i in 1 2 3 4; do echo "tick \$i"; sleep 1; done']
YAML
wait_until 30 '[ "$(jget ticker .status.phase)" = Running ]' || fail "ticker not running"
timeout 60 "$BERTH" logs -f task/ticker >"$T/follow.out" 2>&1 &
follow_pid=$!
curl -sN -m 60 --unix-socket "$SOCK" -H 'Accept: text/event-stream' \
  "http://localhost/apis/berth/v1/namespaces/default/tasks/ticker/log?follow=true" >"$T/sse.out" &
sse_pid=$!
wait_until 20 'has "tick 1" "$T/follow.out"' || fail "logs -f printed nothing: $(cat "$T/follow.out")"
# Seen while the exec runs, before its end.
has "tick 4" "$T/follow.out" && fail "logs -f printed only at the end"
kill -0 "$follow_pid" 2>/dev/null || fail "logs -f ended while the exec ran"
rc=0
wait "$follow_pid" || rc=$?
[ "$rc" = 0 ] || fail "logs -f exited $rc: $(cat "$T/follow.out")"
[ "$(cat "$T/follow.out")" = "$(printf 'tick 1\ntick 2\ntick 3\ntick 4')" ] || fail "logs -f: $(cat "$T/follow.out")"
wait "$sse_pid" || fail "the SSE stream failed"
for i in 1 2 3 4; do has -x "data: tick $i" "$T/sse.out" || fail "SSE misses tick $i: $(cat "$T/sse.out")"; done
has -x "event: end" "$T/sse.out" || fail "SSE has no end event: $(cat "$T/sse.out")"
has -x 'data: {"attempt":1}' "$T/sse.out" || fail "SSE end data: $(cat "$T/sse.out")"
berth wait task/ticker --for=condition=Succeeded --timeout=30s || fail "ticker did not succeed"
log "(b) follow: ok"

# ---- (c), (d): kill -9 of berthd while execs run ------------------------------
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: survivor}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'echo before; sleep 15; echo done; exit 3']
---
apiVersion: berth/v1
kind: Task
metadata: {name: short}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'sleep 2; exit 4']
---
apiVersion: berth/v1
kind: Task
metadata: {name: overdue}
spec:
  executor: {type: docker-exec, container: {name: $TARGET}}
  command: [sh, -c, 'sleep 107']
  activeDeadlineSeconds: 7
YAML
for t in survivor short overdue; do
  wait_until 30 '[ "$(jget $t .status.phase)" = Running ] && [ -n "$(jget $t .status.containerID)" ]' ||
    fail "$t not running"
done
wait_until 10 'berth logs task/survivor 2>/dev/null | has before' || fail "survivor printed nothing"
survivor_exec=$(jget survivor .status.containerID)
kill9_berthd
# short's exec ends while berthd is down.
wait_until 20 '[ "$(procs "sleep 2")" = 0 ]' || fail "short's exec still runs"
[ "$(procs "sleep 15")" != 0 ] || fail "survivor's exec did not survive berthd"
start_berthd --allow-docker-exec

berth wait task/short --for=condition=Failed --timeout=60s || fail "short did not fail"
[ "$(jget short .status.exitCode)" = 4 ] || fail "short: exit code $(jget short .status.exitCode) ($(jget short .status.reason)), want 4"
[ "$(jget short .status.attempts)" = 1 ] || fail "short: $(jget short .status.attempts) attempts"

# The restart found survivor running: it is adopted, not lost.
[ "$(jget survivor .status.phase)" = Running ] || fail "survivor: $(jget survivor .status.phase) $(jget survivor .status.reason) after the restart"
berth wait task/survivor --for=condition=Failed --timeout=60s || fail "survivor did not end"
[ "$(jget survivor .status.reason)" != ContainerLost ] || fail "survivor was lost"
[ "$(jget survivor .status.exitCode)" = 3 ] || fail "survivor: exit code $(jget survivor .status.exitCode), want 3"
# The same attempt's exec ended: no second attempt, no second exec.
[ "$(jget survivor .status.attempts)" = 1 ] || fail "survivor: $(jget survivor .status.attempts) attempts"
berth events --for task/survivor --no-headers | has "adopted exec ${survivor_exec:0:12} (attempt 1)" ||
  fail "no Adopted event: $(berth events --for task/survivor --no-headers)"
[ "$(berth events --for task/survivor --no-headers | grep -c 'started exec.*(attempt 1)')" = 1 ] ||
  fail "attempt 1 started twice: $(berth events --for task/survivor --no-headers)"
out=$(berth logs --attempt 1 task/survivor)
echo "$out" | has -x before || fail "survivor's output before the restart: $out"
echo "$out" | has "berthd restarted while this exec ran" || fail "no note of the restart: $out"

# A follower that goes away while the exec runs: its stream ends with it.
timeout 2 "$BERTH" logs -f task/overdue >"$T/gone.out" 2>&1 || true
berth wait task/overdue --for=condition=Failed --timeout=60s || fail "overdue did not fail"
[ "$(jget overdue .status.reason)" = DeadlineExceeded ] || fail "overdue: $(jget overdue .status.reason)"
wait_until 10 '[ "$(procs "sleep 107")" = 0 ]' || fail "the adopted overdue exec was not killed"
log "(c)(d) adoption after kill -9: ok"

# ---- (e) deletion removes the files; a restart removes those of gone Tasks ----
berth delete task/retried >/dev/null
wait_until 30 '[ ! -e "$LOGS/$RETRIED_UID" ]' || fail "the files of retried are left: $(ls -R "$LOGS")"
[ -d "$LOGS/$(uid_of ticker)" ] || fail "ticker's files went too"
stop_berthd
mkdir -p "$LOGS/0123456789abcdef0123456789abcdef"
echo stale >"$LOGS/0123456789abcdef0123456789abcdef/1.log"
start_berthd --allow-docker-exec
wait_until 10 '[ ! -e "$LOGS/0123456789abcdef0123456789abcdef" ]' || fail "the files of a gone Task were kept"
[ "$(berth logs task/ticker | wc -l)" = 4 ] || fail "ticker's output after the restart: $(berth logs task/ticker)"
stop_berthd
log "PASS"
