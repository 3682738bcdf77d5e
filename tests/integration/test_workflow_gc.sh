#!/usr/bin/env bash
# A Workflow's children never outlive it:
#  1. ttlSecondsAfterFinished: the finished Workflow goes, and with it its
#     Tasks, their containers and its result keys.
#  2. A Workflow removed behind berth's back (its key deleted straight from
#     etcd, so its finalizer never ran) leaves orphans; berthd notices them
#     through the Tasks' ownerReferences and deletes them and the result keys.
source "$(dirname "$0")/lib.sh"
etcd_up || skip "no etcd at $ETCD_URL"
prefix=$(unique_prefix)
CLEANUP_LAST='etcd_delete_prefix "$prefix"'
start_replica g --store "etcd://${ETCD_URL#http://}" --prefix "$prefix" --leader-id it-gc
wait_until 30 'grep -q "became leader id=it-gc" "$T/berthd-g.log"' || fail "no leader on etcd"
pid_g=$REPLICA_PID
on() { "$BERTH" --server "unix://$T/g.sock" "$@"; }

# Keys under a prefix, one per line.
etcd_keys() {
  curl -sf -m 5 -X POST "$ETCD_URL/v3/kv/range" -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\",
    \"range_end\":\"$(printf %s "${1%/}0" | base64 -w0)\",\"keys_only\":true}" |
    python3 -c '
import base64, json, sys
for kv in json.load(sys.stdin).get("kvs", []):
    print(base64.b64decode(kv["key"]).decode())'
}
workflow() { # NAME TTL
  cat <<YAML
apiVersion: berth/v1
kind: Workflow
metadata: {name: $1}
spec:
  ${2:+ttlSecondsAfterFinished: $2}
  steps:
    - name: first
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo one']}
    - name: second
      dependsOn: [first]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo {{steps.first.outputs.result}} two']}
YAML
}
gone() { # NAME: the workflow, its tasks, result keys and containers are all gone
  ! on get workflow "$1" >/dev/null 2>&1 &&
    [ -z "$(on get tasks -l "berth.workflow=$1" -o name 2>/dev/null)" ] &&
    [ -z "$(etcd_keys "${prefix}workflows-data/default/$1/")" ] &&
    [ -z "$(docker ps -aq --filter "$(cluster_filter)" --filter "label=berth.name=$1-first")" ] &&
    [ -z "$(docker ps -aq --filter "$(cluster_filter)" --filter "label=berth.name=$1-second")" ]
}

# --- 1. TTL ------------------------------------------------------------------
workflow short 2 >"$T/short.yaml"
on apply -f "$T/short.yaml" >/dev/null || fail "apply short"
on wait workflow/short --for=condition=Succeeded --timeout 60s || fail "short did not succeed"
[ "$(etcd_keys "${prefix}workflows-data/default/short/" | wc -l)" = 2 ] || fail "short: 2 result keys expected"
t0=$(date +%s)
wait_until 30 'gone short' || fail "short not collected after its TTL: $(on get workflows 2>&1; on get tasks 2>&1)"
log "TTL 2s: workflow, tasks, containers and results gone $(( $(date +%s) - t0 ))s after it finished"

# --- 2. orphans ----------------------------------------------------------------
workflow orphan "" >"$T/orphan.yaml"
on apply -f "$T/orphan.yaml" >/dev/null || fail "apply orphan"
on wait workflow/orphan --for=condition=Succeeded --timeout 60s || fail "orphan did not succeed"
[ "$(on get tasks -l berth.workflow=orphan -o name | wc -l)" = 2 ] || fail "orphan: 2 tasks expected"
key=$(printf %s "${prefix}workflows/default/orphan" | base64 -w0)
curl -sf -m 5 -X POST "$ETCD_URL/v3/kv/deleterange" -d "{\"key\":\"$key\"}" | has '"deleted":"1"' ||
  fail "could not delete the workflow key in etcd"
wait_until 30 'gone orphan' ||
  fail "orphans left: tasks $(on get tasks -l berth.workflow=orphan -o name 2>&1), keys $(etcd_keys "${prefix}workflows-data/default/orphan/")"
log "a workflow deleted behind berth's back: its tasks, containers and results were collected"

stop_replica "$pid_g"
log "PASS"
