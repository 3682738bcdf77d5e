#!/usr/bin/env bash
# berth top tasks and the stats subresource (docs/monitoring.md, "berth
# top"): running Tasks with their memory and pids, one Docker call per
# container every 2 s however many requests ask (the debug log counts the
# calls), a Service's replicas, and RBAC: only objects the caller may get.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is needed"
SOCK="$T/berth.sock"
start_berthd
api() { curl -sf --unix-socket "$SOCK" "http://localhost$1"; }
samples() { grep -c 'container stats sampled' "$T/berthd.log" || true; }

cat >"$T/tasks.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: sleeper}
spec:
  image: busybox:latest
  command: [sleep, '30']
  network: none
---
apiVersion: berth/v1
kind: Task
metadata: {name: hog}
spec:
  image: busybox:latest
  # 48 MiB in the container's tmpfs: memory that is not file cache.
  command: [sh, -c, 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; sleep 30']
  network: none
---
apiVersion: berth/v1
kind: Task
metadata: {name: other, namespace: team-b}
spec:
  image: busybox:latest
  command: [sleep, '30']
  network: none
YAML
berth apply -f "$T/tasks.yaml" >/dev/null
for t in sleeper hog; do
  berth wait "task/$t" --for=condition=Running --timeout=60s || fail "$t not running"
done
berth -n team-b wait task/other --for=condition=Running --timeout=60s || fail "other not running"
sleep 1 # dd has filled its 48 MiB

log "berth top tasks"
berth top tasks >"$T/top.out" || fail "berth top tasks: $(cat "$T/top.out")"
cat "$T/top.out" >&2
head -n1 "$T/top.out" | has -E '^NAME +CPU% +MEMORY +PIDS +NET I/O +BLOCK I/O$' ||
  fail "header: $(head -n1 "$T/top.out")"
for t in sleeper hog; do
  has -E "^$t +[0-9.]+% +[0-9.]+[KMG]?i?B / [0-9.]+[KMG]i?B +[1-9][0-9]* +- +" <"$T/top.out" ||
    fail "no row for $t: $(cat "$T/top.out")"
done
! has '^other ' <"$T/top.out" || fail "top shows another namespace's task"
berth top tasks -A | has -E '^team-b +other +' || fail "top -A misses team-b/other"

log "stats subresource: memory and pids from Docker"
api /apis/berth/v1/namespaces/default/tasks/hog/stats >"$T/hog.json" || fail "GET hog/stats"
python3 - "$T/hog.json" <<'PY' || fail "hog stats: $(cat "$T/hog.json")"
import json, sys
e = json.load(open(sys.argv[1]))["items"]
assert len(e) == 1 and e[0]["name"] == "hog", e
e = e[0]
assert e["memory"]["usageBytes"] >= 40 * 1024 * 1024, e  # the 48 MiB in /dev/shm
assert e["memory"]["limitBytes"] >= e["memory"]["usageBytes"], e
assert e["pids"] >= 1, e
assert e["network"] is None, e  # network: none
assert e["cpuPercent"] is not None and e["cpuPercent"] >= 0, e
assert len(e["container"]) == 12, e
PY

log "a sample is reused for 2 s: one Docker call for many requests"
sleep 2.5 # the samples above are stale now
before=$(samples)
api /apis/berth/v1/namespaces/default/tasks/sleeper/stats >"$T/s1.json" || fail "GET 1"
api /apis/berth/v1/namespaces/default/tasks/sleeper/stats >"$T/s2.json" || fail "GET 2"
after=$(samples)
[ $((after - before)) = 1 ] || fail "two requests within 2 s made $((after - before)) Docker calls"
ts() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["items"][0]["timestamp"])' "$1"; }
[ "$(ts "$T/s1.json")" = "$(ts "$T/s2.json")" ] || fail "the second request was sampled again"
# Concurrent requests for one container share the call in flight.
sleep 2.5
before=$(samples)
pids=()
for _ in 1 2 3 4; do
  api /apis/berth/v1/namespaces/default/tasks/sleeper/stats >/dev/null &
  pids+=($!)
done
wait "${pids[@]}" # not berthd's
after=$(samples)
[ $((after - before)) = 1 ] || fail "four concurrent requests made $((after - before)) Docker calls"
# Several containers are sampled side by side: about 1 s, not 1 s each.
sleep 2.5
start=$(date +%s%N)
api '/apis/berth/v1/tasks?stats=true' >"$T/all.json" || fail "GET ?stats=true"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$T/all.json")" = 3 ] ||
  fail "?stats=true across namespaces: $(cat "$T/all.json")"
[ "$ms" -lt 2500 ] || fail "three containers took ${ms} ms"

log "errors"
code=$(curl -s -o "$T/err.json" -w '%{http_code}' --unix-socket "$SOCK" \
  http://localhost/apis/berth/v1/namespaces/default/tasks/nosuch/stats)
[ "$code" = 404 ] || fail "stats of a missing task answered $code"
berth delete task/sleeper --wait --timeout 60s >/dev/null || fail "delete sleeper"
code=$(curl -s -o "$T/err.json" -w '%{http_code}' --unix-socket "$SOCK" \
  'http://localhost/apis/berth/v1/workflows?stats=true')
[ "$code" = 400 ] || fail "stats of workflows answered $code"

log "services: one line per replica"
cat >"$T/svc.yaml" <<'YAML'
apiVersion: berth/v1
kind: Service
metadata: {name: web}
spec:
  replicas: 2
  template:
    image: busybox:latest
    command: [sleep, '300']
    network: none
YAML
berth apply -f "$T/svc.yaml" >/dev/null
for _ in $(seq 1 60); do
  [ "$(berth top services 2>/dev/null | awk '$1 == "web"' | wc -l)" = 2 ] && break
  sleep 1
done
berth top services >"$T/svc.out" || fail "top services"
head -n1 "$T/svc.out" | has -E '^NAME +REPLICA +CPU%' || fail "services header: $(cat "$T/svc.out")"
[ "$(awk '$1 == "web" { print $2 }' "$T/svc.out" | sort | tr '\n' ' ')" = "0 1 " ] ||
  fail "replicas: $(cat "$T/svc.out")"

log "RBAC: only what the caller may get"
cat >"$T/rbac.yaml" <<'YAML'
apiVersion: berth/v1
kind: Role
metadata: {name: task-reader, namespace: team-b}
spec:
  rules:
    - verbs: [get, list]
      resources: [tasks]
---
apiVersion: berth/v1
kind: RoleBinding
metadata: {name: carol-reads, namespace: team-b}
spec:
  roleRef: {kind: Role, name: task-reader}
  subjects:
    - {kind: User, name: carol}
YAML
berth apply -f "$T/rbac.yaml" >/dev/null || fail "apply rbac"
token=$(berth token create carol-top --user carol --ttl 1h) || fail "token create"
berth --token "$token" top tasks -A >"$T/carol.out" || fail "carol's top -A: $(cat "$T/carol.out")"
[ "$(awk 'NR > 1 { print $1 "/" $2 }' "$T/carol.out")" = team-b/other ] ||
  fail "carol's top -A: $(cat "$T/carol.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  --unix-socket "$SOCK" http://localhost/apis/berth/v1/namespaces/default/tasks/hog/stats)
[ "$code" = 403 ] || fail "carol's stats of default/hog answered $code"
stop_berthd
log "PASS"
