#!/usr/bin/env bash
# parallelism: 2 — four independent steps of 2 s each run two at a time: at no
# instant do more than two of their containers overlap (docker's own start
# and finish times), waiting steps show Pending, and all four succeed.
source "$(dirname "$0")/lib.sh"
start_berthd
{
  cat <<'YAML'
apiVersion: berth/v1
kind: Workflow
metadata: {name: narrow}
spec:
  parallelism: 2
  steps:
YAML
  for s in w1 w2 w3 w4; do
    cat <<YAML
    - name: $s
      task: {image: "busybox:latest", network: none, command: [sh, -c, 'sleep 2; echo $s']}
YAML
  done
} >"$T/narrow.yaml"
berth apply -f "$T/narrow.yaml" >/dev/null || fail "apply"

# While the first two run, the other two wait: Pending, without a Task.
wait_until 30 '[ "$(docker ps -q --filter "$(cluster_filter)" | wc -l)" -ge 2 ]' ||
  fail "no two steps running: $(berth get workflow narrow -o json)"
berth get workflow narrow -o json >"$T/mid.json"
python3 - "$T/mid.json" <<'PY' || fail "while two run: $(cat "$T/mid.json")"
import json, sys
steps = json.load(open(sys.argv[1]))["status"]["steps"]
ph = [s["phase"] for s in steps]
print("step phases while two run: %s" % ph, file=sys.stderr)
# Steps without dependencies start in spec order, within parallelism.
ok = ph[:2] == ["Running", "Running"] and ph[2:] == ["Pending", "Pending"]
ok = ok and all("task" not in s for s in steps[2:])
sys.exit(0 if ok else 1)
PY
[ -z "$(containers_of narrow-w3)$(containers_of narrow-w4)" ] || fail "w3/w4 started early"

berth wait workflow/narrow --for=condition=Succeeded --timeout 60s ||
  fail "narrow did not succeed: $(berth get workflow narrow -o json)"
[ "$(berth get workflow narrow -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["progress"])')" = 4/4 ] ||
  fail "progress"
for s in w1 w2 w3 w4; do
  [ "$(containers_of "narrow-$s" | wc -l)" = 1 ] || fail "step $s: containers $(containers_of "narrow-$s")"
  berth logs "task/narrow-$s" | has -x "$s" || fail "logs of $s"
done
docker inspect $(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.kind=Task) >"$T/inspect.json"
python3 - "$T/inspect.json" <<'PY' || fail "more than 2 steps overlapped"
import calendar, json, re, sys
def ns(ts):
    y, mo, d, h, mi, s, frac = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts).groups()
    return (calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s))) * 10**9 +
            int((frac or "0").ljust(9, "0")[:9]))
cs = json.load(open(sys.argv[1]))
if len(cs) != 4: sys.exit("%d containers" % len(cs))
events = []
for c in cs:
    a, b = ns(c["State"]["StartedAt"]), ns(c["State"]["FinishedAt"])
    print("%s %s .. %s" % (c["Config"]["Labels"]["berth.name"], c["State"]["StartedAt"],
                           c["State"]["FinishedAt"]), file=sys.stderr)
    events += [(a, 1), (b, -1)]
# A finish sorts before a start at the same instant: touching is not overlapping.
n = peak = 0
for _, d in sorted(events):
    n += d
    peak = max(peak, n)
print("at most %d step containers ran at once" % peak, file=sys.stderr)
sys.exit(0 if peak == 2 else 1)
PY
stop_berthd
log "PASS"
