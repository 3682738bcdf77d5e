#!/usr/bin/env bash
# Server-Sent Events (docs/monitoring.md, "Live streams (SSE)"): a watch on
# tasks with Accept: text/event-stream, cut off in the middle of the changes
# and resumed with Last-Event-ID, loses nothing and repeats nothing (compared
# with an NDJSON watch); idle streams get heartbeats; an expired
# Last-Event-ID is an "error" event; a followed log arrives one event per
# line, then "end". On etcd, where one batch of an apply shares a revision,
# only its last event carries the id, so a client cut off inside it gets
# all of it again. And `berth get tasks -w` (the NDJSON watch) shows a
# Task's phases in order.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is needed"
export T BERTH
CHECK="$BERTH_SOURCE_DIR/tests/integration/sse_check.py"
SOCK="$T/berth.sock"
start_berthd --sse-heartbeat 500ms

log "SSE watch: resume with Last-Event-ID"
python3 "$CHECK" resume "$SOCK" default || fail "resume"

log "berth get tasks -w: Pending, Running, Succeeded in order"
timeout 60 "$BERTH" get tasks -w >"$T/watch.out" 2>"$T/watch.err" &
watch_pid=$!
sleep 1
cat >"$T/phases.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: phases}
spec:
  image: busybox:latest
  command: [sh, -c, 'sleep 2']
  network: none
YAML
berth apply -f "$T/phases.yaml" >/dev/null
berth wait task/phases --for=condition=Succeeded --timeout=60s || fail "phases did not succeed"
sleep 1
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
# The PHASE column of every row of the task, repeats folded.
phases=$(awk '$1 == "phases" { print $2 }' "$T/watch.out" | uniq | tr '\n' ' ')
[ "$phases" = "Pending Running Succeeded " ] || fail "phases seen by get -w: '$phases'
$(cat "$T/watch.out")"

log "SSE log: one event per line, then end"
# dockerd 20.10 ends a followed log without the last line when it has no
# newline (docker logs -f does the same): the followed Task ends its output
# with one, and the unfinished line is read after the Task ended.
cat >"$T/lines.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: lines}
spec:
  image: busybox:latest
  command: [sh, -c, 'sleep 1; printf "one\ntwo\n10%%\r20%%\n\nlast\n"']
  network: none
---
apiVersion: berth/v1
kind: Task
metadata: {name: unfinished}
spec:
  image: busybox:latest
  command: [sh, -c, 'printf "first\r\nno newline at the end"']
  network: none
YAML
berth apply -f "$T/lines.yaml" >/dev/null
berth wait task/lines --for=condition=Running --timeout=60s || fail "lines not running"
python3 "$CHECK" log "$SOCK" default lines "?follow=true" '["one","two","10%\n20%","","last"]' ||
  fail "followed log"
berth wait task/unfinished --for=condition=Succeeded --timeout=60s || fail "unfinished"
python3 "$CHECK" log "$SOCK" default unfinished "" '["first","no newline at the end"]' ||
  fail "log with an unfinished line"

log "SSE watch: an expired Last-Event-ID"
# The history starts where the cache's first list was: after a restart the
# revisions before it are gone.
old_rev=$(curl -sf --unix-socket "$SOCK" http://localhost/apis/berth/v1/namespaces/default/tasks |
  python3 -c 'import json,sys; print(int(json.load(sys.stdin)["metadata"]["resourceVersion"]) - 1)')
stop_berthd
start_berthd --sse-heartbeat 500ms
python3 "$CHECK" expired "$SOCK" default "$old_rev" || fail "expired"
# NDJSON keeps its 410 before the stream.
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" \
  "http://localhost/apis/berth/v1/namespaces/default/tasks?watch=true&resourceVersion=$old_rev")
[ "$code" = 410 ] || fail "NDJSON watch from an expired revision answered $code"
stop_berthd

# ---- on etcd: a batch shares one revision; ids only where it ends ---------------
etcd_up || { log "SKIP etcd part: no etcd at $ETCD_URL"; log "PASS"; exit 0; }
prefix=$(unique_prefix)
CLEANUP_LAST='etcd_delete_prefix "$prefix"'
start_replica e --store "etcd://${ETCD_URL#http://}" --prefix "$prefix" --leader-elect=false
BERTH_SERVER="unix://$T/e.sock" python3 "$CHECK" batch "$T/e.sock" default 20 || fail "batch"
log "PASS"
