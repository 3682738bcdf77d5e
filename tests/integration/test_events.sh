#!/usr/bin/env bash
# Events (docs/reference/event.md): a Task's lifecycle is told in order
# (Created, Started, Completed; Created, Started, BackOff ... Failed when
# its retries run out), a repeat counts on one Event (BackOff x2), a stop at
# the deadline says Killing and DeadlineExceeded, `berth describe` ends with
# them, `berth events --for ... --types Warning` selects, -w follows, and
# with --event-ttl 3s they are gone a few seconds later.
source "$(dirname "$0")/lib.sh"

# Reasons of the Events of task $1, oldest first, on one line.
reasons() {
  berth events --for "task/$1" --no-headers | awk '{ print $3 }' | tr '\n' ' ' | sed 's/ $//'
}
# Field $3 of the Event of task $1 with reason $2, from the API.
event_field() {
  berth get events -o json | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
e = [i for i in items if i["involvedObject"]["name"] == sys.argv[1] and i["reason"] == sys.argv[2]]
print(e[0].get(sys.argv[3], "") if e else "")' "$1" "$2" "$3"
}

start_berthd
cat >"$T/ok.yaml" <<'EOF'
apiVersion: berth/v1
kind: Task
metadata:
  name: ok
spec:
  image: busybox:latest
  command: [sh, -c, 'echo done']
  network: none
EOF
cat >"$T/slow.yaml" <<'EOF'
apiVersion: berth/v1
kind: Task
metadata:
  name: slow
spec:
  image: busybox:latest
  command: [sh, -c, 'trap "exit 143" TERM; sleep 60 & wait']
  network: none
  activeDeadlineSeconds: 2
EOF

# -w follows what is recorded from now on.
berth events --for task/ok -w >"$T/watch.out" 2>&1 &
watch_pid=$!
CLEANUP_FIRST='kill $watch_pid 2>/dev/null || true'

# A success: in order, and nothing else.
berth apply -f "$T/ok.yaml" >/dev/null
berth wait task/ok --for=condition=Succeeded --timeout=60s >/dev/null || fail "ok did not succeed"
wait_until 10 '[ "$(reasons ok)" = "Created Started Completed" ]' ||
  fail "events of ok: '$(reasons ok)'"
berth events --for task/ok | has -E '^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$' ||
  fail "berth events header: $(berth events --for task/ok)"
berth events --for task/ok | has -E ' Normal +Completed +task/ok +exit code 0$' ||
  fail "Completed row: $(berth events --for task/ok)"
wait_until 10 'grep -q Completed "$T/watch.out"' || fail "-w did not print Completed: $(cat "$T/watch.out")"
grep -q Started "$T/watch.out" || fail "-w did not print Started: $(cat "$T/watch.out")"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
CLEANUP_FIRST=

# A failure with retries: every attempt is told, the two BackOffs count on
# one Event, and Failed ends it.
berth apply -f "$BERTH_SOURCE_DIR/examples/retry/task.yaml" >/dev/null
berth wait task/flaky --for=condition=Failed --timeout=90s >/dev/null || fail "flaky did not fail"
expected="Created Started BackOff Created Started Created Started Failed"
wait_until 10 '[ "$(reasons flaky | tr " " "\n" | sort | tr "\n" " ")" = "$(echo $expected | tr " " "\n" | sort | tr "\n" " ")" ]' ||
  fail "events of flaky: '$(reasons flaky)'"
r=$(reasons flaky)
[ "${r%% *}" = Created ] || fail "flaky does not start with Created: $r"
[ "${r##* }" = Failed ] || fail "flaky does not end with Failed: $r"
[ "$(event_field flaky BackOff count)" = 2 ] || fail "BackOff count $(event_field flaky BackOff count)"
[ "$(event_field flaky BackOff type)" = Warning ] || fail "BackOff type"
event_field flaky Failed message | has 'BackoffLimitExceeded: exit code 3 after 3 attempts' ||
  fail "Failed message: $(event_field flaky Failed message)"
event_field flaky BackOff source | has "'component': 'berthd'" || fail "source: $(event_field flaky BackOff source)"

# Only the warnings.
w=$(berth events --for task/flaky --types Warning --no-headers | awk '{ print $3 }' | tr '\n' ' ')
[ "$w" = "BackOff Failed " ] || fail "--types Warning: '$w'"
n=$(berth events --for task/flaky --types Normal --no-headers | wc -l)
[ "$n" = 6 ] || fail "--types Normal: $n rows"

# describe ends with them, a repeat with its count.
berth describe task flaky >"$T/describe.out"
sed -n '/^Events:/,$p' "$T/describe.out" | has -E '^  Warning +BackOff +[0-9]+s \(x2 over [0-9]+s\) +berthd +an attempt failed' ||
  fail "describe: $(cat "$T/describe.out")"
sed -n '/^Events:/,$p' "$T/describe.out" | has -E '^  Warning +Failed ' || fail "describe: Failed"
sed -n '/^Events:/,$p' "$T/describe.out" | tail -n1 | has Failed || fail "describe: not oldest first"

# A stop at the deadline.
berth apply -f "$T/slow.yaml" >/dev/null
berth wait task/slow --for=condition=Failed --timeout=60s >/dev/null || fail "slow did not fail"
wait_until 10 'reasons slow | has "Killing DeadlineExceeded Failed\|DeadlineExceeded Killing Failed"' ||
  fail "events of slow: '$(reasons slow)'"
event_field slow Killing message | has 'sending SIGTERM to container .* (attempt 1): DeadlineExceeded' ||
  fail "Killing: $(event_field slow Killing message)"

# get events: the columns of kubectl get events, OBJECT as kind/name.
berth get events | head -n1 | has -E '^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$' || fail "get events header"
berth get ev -o wide | head -n1 | has -E '^NAME +LAST SEEN .* COUNT +FIRST SEEN +SOURCE +MESSAGE$' ||
  fail "get events -o wide header: $(berth get ev -o wide | head -n1)"
stop_berthd

# TTL: Events go a few seconds after --event-ttl (their lease's window and
# the store's reaper), without anyone deleting them.
start_berthd --event-ttl 3s
berth delete task ok >/dev/null
berth apply -f "$T/ok.yaml" >/dev/null
berth wait task/ok --for=condition=Succeeded --timeout=60s >/dev/null || fail "ok did not succeed again"
uid=$(jget ok .metadata.uid)
count_new() {
  berth get events -o json | python3 -c '
import json, sys
print(sum(1 for i in json.load(sys.stdin)["items"] if i["involvedObject"].get("uid") == sys.argv[1]))' "$uid"
}
wait_until 10 '[ "$(count_new)" -ge 3 ]' || fail "no events for the new ok: $(count_new)"
start=$SECONDS
wait_until 20 '[ "$(count_new)" = 0 ]' || fail "events of ok still there after $((SECONDS - start))s"
[ $((SECONDS - start)) -ge 1 ] || fail "events expired at once"
berth describe task ok | sed -n '/^Events:/,$p' | has -x 'Events:       <none>' || fail "describe after TTL"
stop_berthd
log "PASS"
