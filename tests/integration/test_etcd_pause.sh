#!/usr/bin/env bash
# etcd stops answering (SIGSTOP) for 20 s while berthd works: berthd neither
# crashes nor busy-loops (its CPU time grows by less than 2 s), an API write
# fails with 503 ServiceUnavailable and the store's message, the leader steps
# down before its lease could expire, and after SIGCONT everything converges.
# Needs the pid of an etcd this test run started (scripts/test.sh exports it).
source "$(dirname "$0")/lib.sh"
pidfile=${BERTH_TEST_ETCD_PIDFILE:-}
if [ -z "$pidfile" ] || [ ! -f "$pidfile" ]; then
  skip "etcd was not started by scripts/test.sh (no BERTH_TEST_ETCD_PIDFILE), cannot pause it"
fi
etcd_pid=$(cat "$pidfile")
if ! kill -0 "$etcd_pid" 2>/dev/null || ! etcd_up; then
  skip "etcd pid $etcd_pid from $pidfile is not running or not answering"
fi
# Whatever happens, etcd runs again afterwards (other tests share it).
CLEANUP_FIRST='kill -CONT "$etcd_pid" 2>/dev/null'
trap 'exit 143' TERM INT
prefix=$(unique_prefix)
CLEANUP_LAST='etcd_delete_prefix "$prefix"'
on() { "$BERTH" --server "unix://$T/a.sock" "$@"; }

start_replica a --store "etcd://${ETCD_URL#http://}" --prefix "$prefix" \
  --leader-lease 6s --leader-renew 2s --leader-retry 1s --leader-id pause-a
pid=$REPLICA_PID
wait_until 30 'grep -q "became leader id=pause-a" "$T/berthd-a.log"' || fail "no leader"

task() {
  cat <<YAML
---
apiVersion: berth/v1
kind: Task
metadata: {name: $1, labels: {suite: pause}}
spec:
  image: busybox:latest
  command: [sh, -c, 'sleep 3; echo done']
  network: none
YAML
}
n=12
for i in $(seq 1 $n); do task "pause-$i"; done >"$T/tasks.yaml"
task pause-late >"$T/late.yaml"
on apply -f "$T/tasks.yaml" >/dev/null || fail "apply"
pause_containers() {
  docker ps -a --filter "$(cluster_filter)" --format '{{.Names}}' | grep -c '^berth\.default\.pause-' || true
}
wait_until 60 '[ "$(pause_containers)" -ge 4 ]' || fail "containers did not start"

cpu0=$(cpu_ticks "$pid")
hz=$(getconf CLK_TCK)
kill -STOP "$etcd_pid"
t0=$SECONDS
log "paused etcd (pid $etcd_pid) with $(pause_containers) containers"

# Writes wait for etcd on the API's writer threads, not on the event loop:
# while one waits, reads from the cache and /healthz still answer at once.
"$BERTH" --server "unix://$T/a.sock" apply -f "$T/late.yaml" >"$T/bg-apply.out" 2>&1 &
bg_apply=$!
sleep 1
kill -0 "$bg_apply" 2>/dev/null || fail "background apply ended early: $(cat "$T/bg-apply.out")"
list=$(timeout 2 curl -sf --unix-socket "$T/a.sock" \
  http://localhost/apis/berth/v1/namespaces/default/tasks) ||
  fail "listing tasks did not answer within 2s while a write waited for etcd"
listed=$(echo "$list" | grep -o '"name":"pause-[0-9]*"' | sort -u | wc -l)
[ "$listed" -ge "$n" ] || fail "the list during the pause has $listed of $n tasks"
timeout 2 "$BERTH" --server "unix://$T/a.sock" get tasks >/dev/null ||
  fail "berth get tasks did not answer within 2s while a write waited for etcd"
health=$(timeout 2 curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/a.sock" \
  http://localhost/healthz) || true
[ "$health" = 200 ] || fail "/healthz answered '$health' while a write waited for etcd"
log "reads answered while a write waited for etcd"

# A write while the store is unreachable: 503 with the store's message.
t_apply=$SECONDS
rc=0
out=$(timeout 40 "$BERTH" --server "unix://$T/a.sock" apply -f "$T/late.yaml" 2>&1) || rc=$?
took=$((SECONDS - t_apply))
log "apply during the pause: rc=$rc after ${took}s: $out"
[ "$rc" != 0 ] || fail "apply succeeded while etcd was paused"
[ "$rc" != 124 ] || fail "apply hung for 40s while etcd was paused"
echo "$out" | grep -Eqi 'ServiceUnavailable|503' || fail "apply error is not a 503: $out"
echo "$out" | grep -qi 'etcd' || fail "apply error does not name the store: $out"
rc=0
wait "$bg_apply" || rc=$?
log "background apply during the pause: rc=$rc: $(cat "$T/bg-apply.out")"

while [ $((SECONDS - t0)) -lt 20 ]; do
  kill -0 "$pid" 2>/dev/null || fail "berthd died while etcd was paused"
  sleep 1
done
cpu1=$(cpu_ticks "$pid")
kill -CONT "$etcd_pid"
CLEANUP_FIRST=
used=$((cpu1 - cpu0))
log "resumed etcd after $((SECONDS - t0))s; berthd used $used ticks (${hz}/s) of CPU meanwhile"
[ "$used" -lt $((2 * hz)) ] || fail "berthd used $used CPU ticks in 20s: busy loop?"
kill -0 "$pid" 2>/dev/null || fail "berthd died"
grep -q "lost leadership id=pause-a" "$T/berthd-a.log" ||
  fail "the leader did not step down while it could not renew its lease"

wait_until 60 '[ "$(grep -c "became leader id=pause-a" "$T/berthd-a.log")" -ge 2 ]' ||
  fail "no leader again after etcd came back"
on apply -f "$T/late.yaml" >/dev/null || fail "apply after etcd came back"
for name in $(seq -f 'pause-%g' 1 $n) pause-late; do
  on wait "task/$name" --for=condition=Succeeded --timeout=120s >/dev/null ||
    fail "$name did not succeed: $(on get task "$name")"
done
dups=$(docker ps -a --filter "$(cluster_filter)" \
  --format '{{.Names}} {{.Label "berth.uid"}}/{{.Label "berth.attempt"}}' |
  awk '$1 ~ /^berth\.default\.pause-/ { print $2 }' | sort | uniq -d)
[ -z "$dups" ] || fail "attempts with two containers: $dups"
log "leadership while etcd was paused:"
grep -E "lost leadership|became leader|controller (started|stopped)" "$T/berthd-a.log" >&2 || true
stop_replica "$pid"
log "PASS"
