#!/usr/bin/env bash
# Services against the real engine, on host networking and loopback ports:
# the web-server example becomes Available and answers on every replica's
# port; a killed replica is restarted and counted; a template change rolls
# with never a moment without a healthy replica (a client polls every 50 ms);
# a broken image stops the rollout while the old replicas keep serving, and
# undo brings the old revision back; scale to 0 and back; kill -9 berthd in
# the middle of a rollout: the rollout completes with exactly `replicas`
# containers; a crashing command backs off with growing delays; the worker
# example drains its queue directory; delete removes every container.
source "$(dirname "$0")/lib.sh"
start_berthd --allow-host-path "$T"

# svc NAME PATH: a field of a Service (dotted path; list indexes as numbers).
svc() {
  berth get service "$1" -o json | python3 -c "
import json,sys
o=json.load(sys.stdin)
for p in sys.argv[1].split('.'):
    o=o[int(p)] if isinstance(o,list) else (o.get(p) if isinstance(o,dict) else None)
print('' if o is None else o)" "$2"
}
# condition NAME TYPE: "status reason" of a condition.
condition() {
  berth get service "$1" -o json | python3 -c "
import json,sys
for c in json.load(sys.stdin).get('status',{}).get('conditions',[]):
    if c['type']==sys.argv[1]: print(c['status'], c['reason'])" "$2"
}
# ports NAME: the host ports of its replicas, one per line.
ports() {
  berth get service "$1" -o json | python3 -c "
import json,sys
for r in json.load(sys.stdin).get('status',{}).get('replicaStatuses',[]):
    for p in r.get('hostPorts',{}).values(): print(p)"
}
running_of() { docker ps --filter "$(cluster_filter)" --filter "label=berth.name=$1" -q | wc -l; }
all_of() { docker ps -a --filter "$(cluster_filter)" --filter "label=berth.name=$1" -q | wc -l; }
rolled_out() { # NAME REPLICAS
  [ "$(svc "$1" status.updatedReplicas)" = "$2" ] && [ "$(svc "$1" status.availableReplicas)" = "$2" ] &&
    [ "$(svc "$1" status.replicas)" = "$2" ] && [ "$(condition "$1" Progressing)" = "True NewRevisionAvailable" ]
}

# --- the example: Available, every replica answers --------------------------------
sed 's/18080, to: 18099/18180, to: 18189/' "$BERTH_SOURCE_DIR/examples/web-server/service.yaml" >"$T/web.yaml"
berth apply -f "$T/web.yaml" >/dev/null || fail "apply web"
berth wait service/web --for=condition=Available --timeout=60s || fail "web not Available: $(berth get service web -o yaml)"
wait_until 30 'rolled_out web 2' || fail "web not rolled out: $(berth get service web -o yaml)"
berth get services | has -E '^web +2/2 +2 +2 +0 ' || fail "get services: $(berth get services)"
mapfile -t web_ports < <(ports web)
[ "${#web_ports[@]}" = 2 ] && [ "${web_ports[0]}" != "${web_ports[1]}" ] || fail "ports: ${web_ports[*]}"
for p in "${web_ports[@]}"; do
  curl -sf "http://127.0.0.1:$p/" | has "hello from replica" || fail "no answer on $p"
done
berth describe service web | has -E 'Running +Healthy' || fail "describe: $(berth describe service web)"

# --- a killed replica is restarted and counted ------------------------------------
victim=$(svc web status.replicaStatuses.0.containerID)
docker kill "$victim" >/dev/null
wait_until 30 '[ "$(svc web status.restarts)" -ge 1 ] && [ "$(svc web status.readyReplicas)" = 2 ]' ||
  fail "killed replica not back: $(berth get service web -o yaml)"
[ "$(running_of web)" = 2 ] || fail "$(running_of web) containers after the restart"

# --- a rolling update never leaves zero healthy replicas ---------------------------
poll() {
  local misses=0 worst=0 ok p
  while [ ! -e "$T/stop-poll" ]; do
    ok=0
    for p in $(seq 18180 18189); do
      curl -sf -m 0.3 "http://127.0.0.1:$p/" >/dev/null 2>&1 && { ok=1; break; }
    done
    if [ $ok = 1 ]; then misses=0; else misses=$((misses + 1)); fi
    [ $misses -gt $worst ] && worst=$misses
    sleep 0.05
  done
  echo "$worst" >"$T/poll.out"
}
poll &
poller=$!
sed -i 's/hello from replica/v2 from replica/' "$T/web.yaml"
berth apply -f "$T/web.yaml" | has configured || fail "apply v2"
berth rollout status service/web --timeout=120s >"$T/rollout.out" || fail "rollout v2: $(cat "$T/rollout.out")"
touch "$T/stop-poll"
wait "$poller"
worst=$(cat "$T/poll.out")
log "rolling update: at most $worst consecutive polls without any healthy replica"
[ "$worst" -lt 2 ] || fail "$worst consecutive polls found no healthy replica during the rollout"
for p in $(ports web); do curl -sf "http://127.0.0.1:$p/" | has "v2 from replica" || fail "v1 still on $p"; done
[ "$(svc web status.updateRevision)" = 2 ] || fail "updateRevision $(svc web status.updateRevision)"

# --- a broken image: the rollout stops, the old replicas keep serving, undo -------------
sed -e 's/image: busybox:latest/image: berth-test-missing:nope/' -e 's/^spec:/spec:\n  progressDeadlineSeconds: 5/' \
  "$T/web.yaml" >"$T/broken.yaml"
berth apply -f "$T/broken.yaml" >/dev/null || fail "apply broken"
wait_until 30 '[ "$(condition web Progressing)" = "False ProgressDeadlineExceeded" ]' ||
  fail "no ProgressDeadlineExceeded: $(berth get service web -o yaml)"
berth get service web -o json | has ImagePullFailed || fail "no ImagePullFailed: $(berth get service web -o yaml)"
[ "$(condition web Available)" = "True MinimumReplicasAvailable" ] || fail "not Available during the broken rollout"
for p in $(ports web); do curl -sf "http://127.0.0.1:$p/" >/dev/null && break; done || fail "old replicas do not serve"
rc=0; berth rollout status service/web --timeout=10s >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "rollout status of a stuck rollout exited $rc"
berth rollout undo service/web >/dev/null || fail "undo"
wait_until 60 'rolled_out web 2' || fail "undo did not roll out: $(berth get service web -o yaml)"
for p in $(ports web); do curl -sf "http://127.0.0.1:$p/" | has "v2 from replica" || fail "undo: $p"; done
berth rollout history service/web | has -E '^4 ' || fail "history: $(berth rollout history service/web)"

# --- scale to 0 and back -----------------------------------------------------------------
berth scale service/web --replicas 0 >/dev/null || fail "scale 0"
wait_until 30 '[ "$(all_of web)" = 0 ]' || fail "scale 0 left $(all_of web) containers"
berth scale service/web --replicas 3 >/dev/null || fail "scale 3"
wait_until 60 'rolled_out web 3' || fail "scale 3: $(berth get service web -o yaml)"
[ "$(running_of web)" = 3 ] || fail "$(running_of web) containers after scale 3"

# --- kill -9 berthd during a rollout: it completes, exactly 3 containers ------------------
sed -i 's/v2 from replica/v3 from replica/' "$T/web.yaml"
sed -i 's/replicas: 2/replicas: 3/' "$T/web.yaml"
berth apply -f "$T/web.yaml" >/dev/null || fail "apply v3"
wait_until 30 '[ "$(svc web status.updatedReplicas)" -ge 1 ]' || fail "v3 rollout did not start"
kill9_berthd
start_berthd --allow-host-path "$T"
wait_until 90 'rolled_out web 3' || fail "v3 after kill -9: $(berth get service web -o yaml)"
wait_until 30 '[ "$(all_of web)" = 3 ]' || fail "$(all_of web) containers after the rollout: $(docker ps -a --filter "$(cluster_filter)")"
for p in $(ports web); do curl -sf "http://127.0.0.1:$p/" | has "v3 from replica" || fail "v3: $p"; done

# --- a crashing command backs off with growing delays ---------------------------------------
cat >"$T/crash.yaml" <<'YAML'
apiVersion: berth/v1
kind: Service
metadata: {name: crasher}
spec:
  template: {image: busybox:latest, network: none, command: [sh, -c, 'echo dying; exit 3']}
  restartBackoff: {initialSeconds: 1, factor: 2, maxSeconds: 60}
YAML
berth apply -f "$T/crash.yaml" >/dev/null || fail "apply crasher"
delays=()
last=
for _ in $(seq 1 3); do
  wait_until 30 '[ -n "$(svc crasher status.replicaStatuses.0.nextRestartTime)" ] && [ "$(svc crasher status.replicaStatuses.0.restarts)" != "$last" ]' ||
    fail "no back-off: $(berth get service crasher -o yaml)"
  last=$(svc crasher status.replicaStatuses.0.restarts)
  delays+=("$(berth get service crasher -o json | python3 -c '
import json,sys,calendar,time
r=json.load(sys.stdin)["status"]["replicaStatuses"][0]
t=lambda s: calendar.timegm(time.strptime(s,"%Y-%m-%dT%H:%M:%SZ"))
print(t(r["nextRestartTime"]) - t(r["lastExitTime"]))')")
done
log "crash-loop delays: ${delays[*]}"
[ "${delays[0]}" -lt "${delays[2]}" ] || fail "delays do not grow: ${delays[*]}"
[ "$(svc crasher status.replicaStatuses.0.state)" = CrashLoopBackOff ] || [ "$(svc crasher status.replicaStatuses.0.restarts)" -ge 3 ] ||
  fail "state: $(berth get service crasher -o yaml)"
[ "$(svc crasher status.replicaStatuses.0.lastExitCode)" = 3 ] || fail "lastExitCode"
[ "$(condition crasher Degraded | cut -d' ' -f1)" = True ] || fail "not Degraded"
berth logs service/crasher | has dying || fail "logs: $(berth logs service/crasher)"

# --- the worker example drains its queue directory --------------------------------------------
mkdir -p "$T/queue"
sed "s|/var/tmp/berth-queue|$T/queue|" "$BERTH_SOURCE_DIR/examples/worker/service.yaml" >"$T/worker.yaml"
berth apply -f "$T/worker.yaml" >/dev/null || fail "apply worker"
berth wait service/worker --for=condition=Available --timeout=60s || fail "worker: $(berth get service worker -o yaml)"
for i in 1 2 3; do echo "job $i" >"$T/queue/$i.job"; done
wait_until 30 '[ "$(ls "$T/queue/done" 2>/dev/null | wc -l)" = 3 ]' || fail "queue not drained: $(ls -R "$T/queue")"
berth logs service/worker | has -x '\[worker-0\] processing 2.job: job 2' || fail "worker logs: $(berth logs service/worker)"
wait_until 30 '[ "$(svc worker status.replicaStatuses.0.health)" = Healthy ]' || fail "worker health: $(berth get service worker -o yaml)"

# --- delete removes every container -------------------------------------------------------
berth delete service/web service/crasher service/worker >/dev/null || fail "delete"
wait_until 30 '[ "$(all_of web)" = 0 ] && [ "$(all_of crasher)" = 0 ] && [ "$(all_of worker)" = 0 ]' ||
  fail "containers left after delete"
wait_until 30 '! berth get service web >/dev/null 2>&1' || fail "web still there"
stop_berthd
log "PASS"
