#!/usr/bin/env bash
# No object grows without bound: step results live under keys of their own,
# not in the Workflow. 12 steps print 200 KB each and one prints 300 KB: the
# results endpoint has them all (the 300 KB one cut to its last 256 KiB and
# marked truncated), the Workflow object stays under 16 KB although the
# results total more than 2.4 MB, and results flow into a dependent step's
# env. Then on etcd: one key per result under
# <prefix>workflows-data/<ns>/<workflow>/, and none left after the delete.
source "$(dirname "$0")/lib.sh"
start_berthd

small=12
{
  cat <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: bulky}
spec:
  steps:
YAML
  # s1..s12: 204800 bytes each, of a letter of their own (a..l), no newline.
  for i in $(seq 1 $small); do
    c=$(echo abcdefghijkl | cut -c"$i")
    cat <<YAML
    - name: s$i
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'head -c 204800 /dev/zero | tr "\\0" $c']}
YAML
  done
  # 307200 bytes: 45056 'A' then 262144 'B'; the result keeps the last 256 KiB.
  # m1, m2: 130000 bytes, passed on in env values: one string of argv or envp
  # can hold at most 128 KiB (the kernel's MAX_ARG_STRLEN), so a 200 KB result
  # cannot reach a process through env whatever berth does.
  cat <<'YAML'
    - name: huge
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'head -c 45056 /dev/zero | tr "\0" A; head -c 262144 /dev/zero | tr "\0" B']}
    - name: m1
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'head -c 130000 /dev/zero | tr "\0" m; echo; echo']}
    - name: m2
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'head -c 129999 /dev/zero | tr "\0" n; echo z']}
    - name: use
      dependsOn: [m1, m2, s1]
      task:
        image: "busybox:latest"
        network: none
        env:
          - {name: ONE, value: '{{steps.m1.outputs.result}}'}
          - {name: TWO, value: '{{ steps.m2.outputs.result }}'}
        command: [sh, -c, 'echo "${#ONE} ${#TWO} $(printf %s "$ONE$TWO" | md5sum | cut -c1-32)"']
YAML
} >"$T/bulky.yaml"
berth apply -f "$T/bulky.yaml" >/dev/null || fail "apply"
berth wait workflow/bulky --for=condition=Succeeded --timeout 60s ||
  fail "bulky did not succeed: $(berth get workflow bulky -o json)"

curl -sf --unix-socket "$T/berth.sock" -o "$T/results.json" \
  http://localhost/apis/berth/v1/namespaces/default/workflows/bulky/results || fail "results endpoint"
curl -sf --unix-socket "$T/berth.sock" -o "$T/bulky.json" \
  http://localhost/apis/berth/v1/namespaces/default/workflows/bulky || fail "get workflow"
want_md5=$( (head -c 130000 /dev/zero | tr '\0' m; head -c 129999 /dev/zero | tr '\0' n; printf z) | md5sum | cut -c1-32)
python3 - "$T/results.json" "$T/bulky.json" "$small" "$want_md5" <<'PY' || fail "results check"
import json, os, sys
steps = json.load(open(sys.argv[1]))["steps"]
wf_size = os.path.getsize(sys.argv[2])
small, md5 = int(sys.argv[3]), sys.argv[4]
errs = []
total = 0
for i in range(1, small + 1):
    e = steps.get("s%d" % i, {})
    r = e.get("result") or ""
    total += len(r)
    if e.get("truncated") is not False: errs.append("s%d truncated %r" % (i, e.get("truncated")))
    if len(r) != 204800: errs.append("s%d length %d" % (i, len(r)))
    if r != chr(96 + i) * 204800: errs.append("s%d content is not its own letter" % i)
h = steps.get("huge", {})
r = h.get("result") or ""
total += len(r)
if h.get("truncated") is not True: errs.append("huge truncated %r" % h.get("truncated"))
if len(r) != 262144: errs.append("huge length %d" % len(r))
if r != "B" * 262144: errs.append("huge does not keep the last 256 KiB")
m1, m2 = steps.get("m1", {}).get("result"), steps.get("m2", {}).get("result")
if m1 != "m" * 130000: errs.append("m1: trailing newlines not removed, or wrong: %r" % (m1 or "")[-5:])
if m2 != "n" * 129999 + "z": errs.append("m2 wrong: %r" % (m2 or "")[-5:])
u = steps.get("use", {}).get("result")
if u != "130000 130000 " + md5: errs.append("use result %r, want %r" % (u, "130000 130000 " + md5))
wf = json.load(open(sys.argv[2]))
st = wf.get("status", {})
if st.get("progress") != "%d/%d" % (small + 4, small + 4): errs.append("progress %r" % st.get("progress"))
if any("result" in s and not s["result"].endswith("/workflows-data/default/bulky/step-" + s["name"])
       for s in st.get("steps", [])):
    errs.append("status.steps[].result is not the result's key: %r" % st.get("steps"))
print("results total %d bytes; the Workflow object is %d bytes" % (total, wf_size), file=sys.stderr)
if total <= 2400000: errs.append("results total only %d bytes" % total)
if wf_size >= 16384: errs.append("Workflow object is %d bytes (>= 16 KiB)" % wf_size)
for e in errs: print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
# The list (what watchers and `berth get` carry) is as small as the object.
size=$(curl -sf --unix-socket "$T/berth.sock" \
  http://localhost/apis/berth/v1/namespaces/default/workflows | wc -c)
[ "$size" -lt 16384 ] || fail "the workflow list is $size bytes"

# A result too long for one argument fails the step that would receive it,
# with the reason, instead of a container that cannot exec.
cat >"$T/toolong.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: toolong}
spec:
  steps:
    - name: big
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'head -c 204800 /dev/zero | tr "\0" x']}
    - name: use
      dependsOn: [big]
      task: {image: "busybox:latest", network: none, args: ['{{steps.big.outputs.result}}']}
YAML
berth apply -f "$T/toolong.yaml" >/dev/null || fail "apply toolong"
berth wait workflow/toolong --for=condition=Failed --timeout 60s || fail "toolong did not fail"
berth get workflow toolong -o json | python3 -c '
import json, sys
st = json.load(sys.stdin)["status"]
use = [s for s in st["steps"] if s["name"] == "use"][0]
assert use["phase"] == "Failed" and use["reason"] == "InvalidTemplate", use
assert use["message"].startswith("args[0]: expands to more than") and "Linux" in use["message"], use
assert "task" not in use, use
assert st["reason"] == "StepFailed" and st["message"].startswith("step use failed: InvalidTemplate"), st
' || fail "toolong status: $(berth get workflow toolong -o json)"
berth describe workflow bulky >"$T/describe.txt" || fail "describe"
has -E '^ +huge: +\.\.\.B+(\.\.\.)?$' "$T/describe.txt" || fail "describe does not mark the cut result: $(grep huge "$T/describe.txt")"
berth delete workflow bulky >/dev/null || fail "delete bulky"
wait_until 30 '! berth get workflow bulky >/dev/null 2>&1' || fail "bulky not deleted"
stop_berthd
remove_berth_containers

# --- the same on etcd: one key per result, removed with the Workflow -------
etcd_up || { log "SKIP etcd part: no etcd at $ETCD_URL"; log "PASS"; exit 0; }
prefix=$(unique_prefix)
CLEANUP_LAST='etcd_delete_prefix "$prefix"'
start_replica e --store "etcd://${ETCD_URL#http://}" --prefix "$prefix" --leader-id it-results
wait_until 30 'grep -q "became leader id=it-results" "$T/berthd-e.log"' || fail "no leader on etcd"
pid_e=$REPLICA_PID
on() { "$BERTH" --server "unix://$T/e.sock" "$@"; }
cat >"$T/three.yaml" <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: trio}
spec:
  steps:
    - name: one
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo 1']}
    - name: two
      dependsOn: [one]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo $(( {{steps.one.outputs.result}} + 1 ))']}
    - name: three
      dependsOn: [two]
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'echo $(( {{steps.two.outputs.result}} + 1 ))']}
YAML
# Keys under <prefix>workflows-data/default/trio/, one per line.
data_keys() {
  local p="${prefix}workflows-data/default/trio/"
  curl -sf -m 5 -X POST "$ETCD_URL/v3/kv/range" -d "{\"key\":\"$(printf %s "$p" | base64 -w0)\",
    \"range_end\":\"$(printf %s "${p%/}0" | base64 -w0)\",\"keys_only\":true}" |
    python3 -c '
import base64, json, sys
for kv in json.load(sys.stdin).get("kvs", []):
    print(base64.b64decode(kv["key"]).decode())'
}
on apply -f "$T/three.yaml" >/dev/null || fail "apply trio"
on wait workflow/trio --for=condition=Succeeded --timeout 60s ||
  fail "trio did not succeed: $(on get workflow trio -o json)"
curl -sf --unix-socket "$T/e.sock" \
  http://localhost/apis/berth/v1/namespaces/default/workflows/trio/results | has '"three":{"result":"3"' ||
  fail "trio results"
keys=$(data_keys) || fail "etcd range"
want=$(printf '%s\n' "${prefix}workflows-data/default/trio/step-one" \
  "${prefix}workflows-data/default/trio/step-three" "${prefix}workflows-data/default/trio/step-two")
[ "$(echo "$keys" | sort)" = "$want" ] || fail "result keys in etcd: $keys"
log "etcd holds the 3 result keys: $(echo "$keys" | tr '\n' ' ')"
on delete workflow trio >/dev/null || fail "delete trio"
wait_until 30 '! on get workflow trio >/dev/null 2>&1 && [ -z "$(data_keys)" ]' ||
  fail "after delete: workflow $(on get workflows 2>&1), keys $(data_keys)"
wait_until 30 '[ -z "$(docker ps -aq --filter "$(cluster_filter)")" ]' ||
  fail "containers left: $(docker ps -a --filter "$(cluster_filter)" --format '{{.Names}}')"
stop_replica "$pid_e"
log "PASS"
