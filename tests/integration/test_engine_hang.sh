#!/usr/bin/env bash
# The Docker engine stops answering (dockerd SIGSTOPped for 20 s) while 30
# Tasks start (docs/internals/performance-engine.md): within 15 s /readyz is
# not ready and names the engine, /metrics says berth_docker_engine_up 0,
# reads (`berth get`) still answer within 1 s, Tasks that wait carry
# condition and Warning Event EngineUnresponsive, and berthd logs the outage
# once (not once per call). After SIGCONT, with nobody's help, /readyz is
# ready again and every Task succeeds with exactly one container per
# attempt, its condition gone.
# SIGSTOPs the dockerd BERTH_TEST_DOCKERD_PIDFILE names (scripts/test.sh
# starts one; never a dockerd this run did not start).
source "$(dirname "$0")/lib.sh"
pidfile=${BERTH_TEST_DOCKERD_PIDFILE:-}
if [ -z "$pidfile" ] || [ ! -f "$pidfile" ]; then
  skip "dockerd was not started by scripts/test.sh, cannot stop it"
fi
dpid=$(cat "$pidfile")
[ "$(cat "/proc/$dpid/comm" 2>/dev/null)" = dockerd ] || skip "$pidfile names no running dockerd"
# Whatever happens, the engine runs again when the test ends.
CLEANUP_FIRST='kill -CONT "$dpid" 2>/dev/null'
N=30
HANG=20

now_ms() { date +%s%3N; }
readyz() { curl -s -m 5 --unix-socket "$T/berth.sock" http://localhost/readyz; }
readyz_code() { curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$T/berth.sock" http://localhost/readyz; }
metric() {
  curl -s -m 5 --unix-socket "$T/berth.sock" http://localhost/metrics | awk -v m="$1" '$1 == m { print $2 }'
}

start_berthd
[ "$(metric berth_docker_engine_up)" = 1 ] || fail "engine not up at start"
[ "$(metric berth_docker_inflight_limit)" = 8 ] || fail "in-flight limit does not start at 8"

task() {
  cat <<EOF
---
apiVersion: berth/v1
kind: Task
metadata: {name: hang-$1}
spec: {image: "busybox:latest", command: [sh, -c, 'echo ok'], network: none}
EOF
}
for i in $(seq 1 $((N - 1))); do task "$i"; done >"$T/tasks.yaml"
berth apply -f "$T/tasks.yaml" >/dev/null
# Mid-start: some Tasks have their container, some are being created; the
# last one comes after the stop, so that a call is sure to hang.
sleep 0.3
kill -STOP "$dpid"
t_stop=$(now_ms)
log "dockerd $dpid stopped"
task $N | berth apply -f - >/dev/null

wait_until 15 '[ "$(readyz_code)" = 503 ]' || fail "/readyz still ready 15s after the engine stopped: $(readyz)"
t_detect=$(now_ms)
body=$(readyz)
log "/readyz after $((t_detect - t_stop)) ms: $body"
echo "$body" | has "docker engine unix://.* not answering for [0-9]*s" || fail "/readyz does not name the engine: $body"
verbose=$(curl -s -m 5 --unix-socket "$T/berth.sock" 'http://localhost/readyz?verbose=1')
echo "$verbose" | has '^\[-\]docker-engine failed: docker engine' || fail "verbose /readyz: $verbose"
[ "$(metric berth_docker_engine_up)" = 0 ] || fail "berth_docker_engine_up is not 0 during the hang"
# The stuck calls were abandoned, and no new one goes out: a probe only.
[ "$(metric berth_docker_inflight_limit)" = 1 ] || fail "in-flight limit not shrunk to a probe"
wait_until 5 '[ "$(metric berth_docker_inflight_calls)" = 0 ]' || fail "calls still in flight during the hang"

# Reads are served from the caches: at once.
t0=$(now_ms)
berth get task hang-1 -o json >/dev/null || fail "berth get task failed during the hang"
berth get tasks >/dev/null || fail "berth get tasks failed during the hang"
took=$(($(now_ms) - t0))
log "berth get (one task, then the list) took ${took} ms during the hang"
[ "$took" -lt 1000 ] || fail "berth get took ${took} ms while the engine hangs"

# Tasks that wait for the engine say so (the reconciles that failed fast).
waiting=
wait_until 10 '
  waiting=$(berth get tasks -o json | python3 -c "
import json, sys
n = 0
for t in json.load(sys.stdin)[\"items\"]:
    for c in t.get(\"status\", {}).get(\"conditions\", []):
        if c[\"type\"] == \"EngineUnresponsive\" and c[\"status\"] == \"True\" and \"not answering\" in c[\"message\"]:
            n += 1
print(n)"); [ "$waiting" -gt 0 ]' || fail "no Task has condition EngineUnresponsive"
log "$waiting Tasks carry condition EngineUnresponsive"
wait_until 10 'berth events --types Warning --no-headers | has EngineUnresponsive' ||
  fail "no Warning Event EngineUnresponsive: $(berth events --no-headers | tail -5)"

# Until the engine comes back: the hang lasts HANG seconds.
left=$((HANG * 1000 - ($(now_ms) - t_stop)))
[ "$left" -le 0 ] || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
[ "$(readyz_code)" = 503 ] || fail "/readyz ready again while the engine is still stopped"
kill -CONT "$dpid"
t_cont=$(now_ms)
log "dockerd $dpid continued after $(((t_cont - t_stop) / 1000)) s"

wait_until 30 '[ "$(readyz_code)" = 200 ]' || fail "/readyz not ready 30s after SIGCONT: $(readyz)"
t_ready=$(now_ms)
succeeded() {
  berth get tasks -o json | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)["items"] if t.get("status", {}).get("phase") == "Succeeded"))'
}
wait_until 120 '[ "$(succeeded)" = $N ]' || fail "$(succeeded)/$N Tasks succeeded 120s after SIGCONT"
t_done=$(now_ms)
log "after SIGCONT: /readyz ready in $((t_ready - t_cont)) ms, all $N Tasks succeeded in $((t_done - t_cont)) ms"
[ "$(metric berth_docker_engine_up)" = 1 ] || fail "berth_docker_engine_up is not 1 after the recovery"

# One container per attempt: every Task made one attempt and has one
# container, named for that attempt; no condition is left.
berth get tasks -o json >"$T/tasks.json"
docker ps -a --filter "$(cluster_filter)" --format '{{.Names}} {{.Label "berth.name"}} {{.Label "berth.attempt"}}' >"$T/containers.txt"
python3 - "$T/tasks.json" "$T/containers.txt" "$N" <<'EOF' || fail "containers do not match attempts"
import collections, json, sys
tasks = json.load(open(sys.argv[1]))["items"]
rows = [l.split() for l in open(sys.argv[2]) if l.strip()]
per = collections.Counter((r[1], r[2]) for r in rows)
n = int(sys.argv[3])
assert len(tasks) == n, len(tasks)
for t in tasks:
    name, st = t["metadata"]["name"], t["status"]
    assert st["attempts"] == 1, (name, st["attempts"])
    assert per[(name, "1")] == 1, (name, per[(name, "1")])
    for c in st.get("conditions", []):
        assert c["type"] != "EngineUnresponsive", (name, c)
assert len(rows) == n, "%d containers for %d tasks" % (len(rows), n)
EOF
# The outage is logged once per minute, not once per call.
lines=$(grep -c 'docker calls fail at once until it answers' "$T/berthd.log" || true)
[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] || fail "$lines log lines about the outage"
grep -q 'docker engine answers again' "$T/berthd.log" || fail "no log line about the recovery"
stop_berthd
log "PASS detect=$((t_detect - t_stop))ms ready_after_cont=$((t_ready - t_cont))ms converged_after_cont=$((t_done - t_cont))ms"
