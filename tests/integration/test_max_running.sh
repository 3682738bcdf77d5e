#!/usr/bin/env bash
# berthd --max-running 5: 5 blockers fill the slots, then 45 short Tasks
# (35 of priority 0 applied first, then 10 of priority 10) wait Pending with
# condition Queued; describe shows a queued Task's position; all 50
# succeed, at no instant do more than 5 of their containers run (Docker's
# own StartedAt/FinishedAt), also across a kill -9 and restart of berthd
# while the queue moves, and every priority-10 Task starts before every
# priority-0 one. --max-running 0 (and garbage) is refused at start.
source "$(dirname "$0")/lib.sh"

# Bad values: refused before anything starts, naming the flag.
for bad in 0 -3 abc 1000001; do
  rc=0
  "$BERTHD" --store "sqlite:$T/bad.db" --data-dir "$T/bad" --listen "unix://$T/bad.sock" \
    --max-running "$bad" >"$T/bad.out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "--max-running $bad: exit $rc, want 2: $(cat "$T/bad.out")"
  has -e "invalid --max-running '$bad'" "$T/bad.out" || fail "--max-running $bad: $(cat "$T/bad.out")"
  [ ! -e "$T/bad.sock" ] || fail "--max-running $bad: berthd listened"
done

start_berthd --max-running 5

task() { # name priority seconds
  cat <<YAML
---
apiVersion: berth/v1
kind: Task
metadata: {name: $1}
spec: {image: "busybox:latest", network: none, priority: $2, command: [sleep, "$3"]}
YAML
}
{ for i in 0 1 2 3 4; do task "block-$i" 0 10; done; } >"$T/block.yaml"
berth apply -f "$T/block.yaml" >/dev/null || fail "apply blockers"
wait_until 30 '[ "$(docker ps -q --filter "$(cluster_filter)" | wc -l)" = 5 ]' ||
  fail "the blockers do not run: $(docker ps -a --filter "$(cluster_filter)")"

{
  for i in $(seq -w 0 34); do task "low-$i" 0 1; done
  for i in $(seq -w 0 9); do task "high-$i" 10 1; done
} >"$T/many.yaml"
berth apply -f "$T/many.yaml" >/dev/null || fail "apply 45 Tasks"

# All 45 wait: Pending, Queued True (MaxRunning), no container of theirs.
queued() {
  berth get tasks -o json | python3 -c '
import json, sys
n = 0
for t in json.load(sys.stdin)["items"]:
    st = t.get("status", {})
    c = [c for c in st.get("conditions", []) if c["type"] == "Queued"]
    if st.get("phase") == "Pending" and c and c[0]["status"] == "True" and c[0]["reason"] == "MaxRunning":
        n += 1
print(n)'
}
wait_until 20 '[ "$(queued)" = 45 ]' || fail "queued: $(queued) of 45"
[ "$(docker ps -aq --filter "$(cluster_filter)" | wc -l)" = 5 ] || fail "a queued Task has a container"
curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics >"$T/metrics.txt" || fail "metrics"
for m in "berth_tasks_running 5" "berth_tasks_queued 45" "berth_tasks_max_running 5"; do
  has -x "$m" "$T/metrics.txt" || fail "metrics: no $m: $(grep berth_tasks_ "$T/metrics.txt")"
done
berth describe task low-34 >"$T/describe.txt" || fail "describe"
cat "$T/describe.txt" >&2
has -E "Queued +True +MaxRunning +waiting for a run slot: at most 5 Tasks run at once \(berthd --max-running\)" "$T/describe.txt" ||
  fail "describe shows no Queued condition"
# Last by priority (0), age and name among the 45: position 45; the first
# priority-10 Task is next.
has -E "Position: +45 of 45 queued \(all namespaces\)" "$T/describe.txt" || fail "position of low-34"
berth describe task high-0 | has -E "Position: +1 of 45 queued" || fail "position of high-0"
berth describe task block-0 | has -E "^Queue:" && fail "a running Task shows a queue position"

# A crash while the queue moves: the new berthd counts the 5 Tasks that run
# (containers, status Running) before it admits anybody, and queues the
# waiting ones again in order.
berth wait task/high-0 --for=condition=Succeeded --timeout 60s >/dev/null || fail "high-0"
kill9_berthd
start_berthd --max-running 5
for i in $(seq -w 0 9); do
  berth wait "task/high-$i" --for=condition=Succeeded --timeout 60s >/dev/null || fail "high-$i"
done
for i in $(seq -w 0 34); do
  berth wait "task/low-$i" --for=condition=Succeeded --timeout 60s >/dev/null || fail "low-$i"
done
berth get task low-00 -o json | python3 -c '
import json, sys
c = {c["type"]: c for c in json.load(sys.stdin)["status"]["conditions"]}
sys.exit(0 if c["Queued"]["status"] == "False" and c["Queued"]["reason"] == "Admitted" else 1)' ||
  fail "Queued is not False/Admitted once it ran: $(berth get task low-00 -o json)"

peak=$(max_overlap)
log "at most $peak Task containers ran at once"
[ "$peak" -le 5 ] || fail "$peak containers ran at once with --max-running 5"
[ "$peak" -ge 3 ] || fail "only $peak containers ran at once: no parallelism"

docker inspect $(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.kind=Task) >"$T/inspect.json"
python3 - "$T/inspect.json" <<'PY' || fail "a priority-0 Task started before a priority-10 one"
import calendar, json, re, sys
def ns(ts):
    y, mo, d, h, mi, s, frac = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts).groups()
    return (calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s))) * 10**9 +
            int((frac or "0").ljust(9, "0")[:9]))
starts = {c["Config"]["Labels"]["berth.name"]: ns(c["State"]["StartedAt"]) for c in json.load(open(sys.argv[1]))}
if len(starts) != 50: sys.exit("%d containers" % len(starts))
high = [v for k, v in starts.items() if k.startswith("high-")]
low = [v for k, v in starts.items() if k.startswith("low-")]
print("last priority-10 start %s, first priority-0 start %s" % (max(high), min(low)), file=sys.stderr)
sys.exit(0 if max(high) < min(low) else 1)
PY
stop_berthd
log "PASS"
