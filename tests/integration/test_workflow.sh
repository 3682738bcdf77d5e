#!/usr/bin/env bash
# The Workflow example end to end: examples/workflow/etl.yaml runs as a DAG
# (extract → double, square → report), each step is one Task with one
# container, results flow from step to step and are served by the results
# endpoint and describe, report starts only after both of its dependencies
# finished, and deleting the Workflow removes it, its Tasks, their containers
# and its results.
source "$(dirname "$0")/lib.sh"
start_berthd

results() {
  curl -s --unix-socket "$T/berth.sock" -o "$T/results.json" -w '%{http_code}' \
    http://localhost/apis/berth/v1/namespaces/default/workflows/etl/results
}

out=$(berth apply -f "$BERTH_SOURCE_DIR/examples/workflow/etl.yaml")
[ "$out" = "workflow/etl created" ] || fail "apply said: $out"
berth wait workflow/etl --for=condition=Succeeded --timeout 60s ||
  fail "etl did not succeed: $(berth get workflow etl -o json)"

berth get workflow etl -o json >"$T/etl.json"
python3 - "$T/etl.json" <<'PY' || fail "status: $(cat "$T/etl.json")"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
errs = []
if st.get("phase") != "Succeeded": errs.append("phase %r" % st.get("phase"))
if st.get("progress") != "4/4": errs.append("progress %r" % st.get("progress"))
if st.get("reason") != "Completed": errs.append("reason %r" % st.get("reason"))
if not st.get("startTime") or not st.get("completionTime"): errs.append("no start/completion time")
steps = st.get("steps") or []
names = [s.get("name") for s in steps]
if names != ["extract", "double", "square", "report"]: errs.append("steps %r" % names)
for s in steps:
    if s.get("phase") != "Succeeded": errs.append("step %s phase %r" % (s.get("name"), s.get("phase")))
    if s.get("task") != "etl-" + s.get("name", ""): errs.append("step %s task %r" % (s.get("name"), s.get("task")))
    if s.get("exitCode") != 0: errs.append("step %s exitCode %r" % (s.get("name"), s.get("exitCode")))
    if not str(s.get("result", "")).endswith("workflows-data/default/etl/step-" + s.get("name", "")):
        errs.append("step %s result key %r" % (s.get("name"), s.get("result")))
for e in errs: print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY

code=$(results)
[ "$code" = 200 ] || fail "results endpoint answered $code: $(cat "$T/results.json")"
python3 - "$T/results.json" <<'PY' || fail "results: $(cat "$T/results.json")"
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
want = {"extract": "42", "double": "84", "square": "1764",
        "report": "etl on 2026-11-27: double=84 square=1764"}
errs = []
if set(steps) != set(want): errs.append("steps %r" % sorted(steps))
for k, v in want.items():
    e = steps.get(k, {})
    if e.get("result") != v: errs.append("%s result %r, want %r" % (k, e.get("result"), v))
    if e.get("truncated") is not False: errs.append("%s truncated %r" % (k, e.get("truncated")))
    if e.get("exitCode") != 0: errs.append("%s exitCode %r" % (k, e.get("exitCode")))
for e in errs: print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
# stderr is not part of a result, but the step's logs have it.
berth logs task/etl-extract | has -x 'rows for 2026-11-27' || fail "extract logs lack its stderr line"

# Exactly one container per step, and report ran strictly after both of its
# dependencies had finished (docker's nanosecond timestamps).
for s in extract double square report; do
  n=$(containers_of "etl-$s" | wc -l)
  [ "$n" = 1 ] || fail "step $s has $n containers: $(containers_of "etl-$s")"
done
ids=$(for s in double square report; do
  docker ps -aq --filter "$(cluster_filter)" --filter "label=berth.name=etl-$s"
done)
docker inspect $ids >"$T/inspect.json"
python3 - "$T/inspect.json" <<'PY' || fail "report did not wait for double and square"
import json, re, sys
def ns(ts):  # 2026-11-27T23:11:47.123456789Z
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts)
    import calendar
    y, mo, d, h, mi, s, frac = m.groups()
    sec = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    return sec * 10**9 + int((frac or "0").ljust(9, "0")[:9])
c = {x["Config"]["Labels"]["berth.name"]: x["State"] for x in json.load(open(sys.argv[1]))}
start = ns(c["etl-report"]["StartedAt"])
for dep in ("etl-double", "etl-square"):
    fin = ns(c[dep]["FinishedAt"])
    print("%s finished %s, report started %s (+%.3fs)" % (dep, c[dep]["FinishedAt"],
          c["etl-report"]["StartedAt"], (start - fin) / 1e9), file=sys.stderr)
    if not start > fin:
        sys.exit(1)
PY

tasks=$(berth get tasks -l berth.workflow=etl -o name | sort | tr '\n' ' ')
[ "$tasks" = "task/etl-double task/etl-extract task/etl-report task/etl-square " ] ||
  fail "tasks of the workflow: $tasks"
berth get task etl-square -o json | python3 -c '
import json,sys
o=json.load(sys.stdin)["metadata"]
assert o["labels"].get("berth.workflow") == "etl" and o["labels"].get("berth.step") == "square", o
assert any(r.get("kind") == "Workflow" and r.get("name") == "etl" for r in o.get("ownerReferences", [])), o
' || fail "step task labels/owner: $(berth get task etl-square -o json)"

berth describe workflow etl >"$T/describe.txt" || fail "describe"
has -x 'Results:' "$T/describe.txt" || fail "describe lacks Results: $(cat "$T/describe.txt")"
has -E '^ +extract: +42$' "$T/describe.txt" || fail "describe lacks extract result"
has -E '^ +square: +1764$' "$T/describe.txt" || fail "describe lacks square result"
has -E '^ +report: +etl on 2026-11-27: double=84 square=1764$' "$T/describe.txt" ||
  fail "describe lacks report result: $(cat "$T/describe.txt")"

# A finished Workflow never runs again: a changed spec only moves observedGeneration.
sed 's/2026-11-27/2026-11-28/' "$BERTH_SOURCE_DIR/examples/workflow/etl.yaml" >"$T/etl-next.yaml"
berth apply -f "$T/etl-next.yaml" | has 'workflow/etl configured' || fail "re-apply with a new parameter"
wait_until 20 '[ "$(berth get workflow etl -o json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"status\"][\"observedGeneration\"])")" = 2 ]' ||
  fail "observedGeneration did not follow: $(berth get workflow etl -o json)"
[ "$(berth get workflow etl -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["phase"])')" = Succeeded ] ||
  fail "a finished workflow changed phase"
[ "$(docker ps -aq --filter "$(cluster_filter)" | wc -l)" = 4 ] || fail "a finished workflow ran again"

t0=$SECONDS
berth delete workflow etl >/dev/null || fail "delete"
gone() {
  ! berth get workflow etl >/dev/null 2>&1 &&
    [ -z "$(berth get tasks -l berth.workflow=etl -o name 2>/dev/null)" ] &&
    [ -z "$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.kind=Task)" ] &&
    [ "$(results)" = 404 ]
}
wait_until 30 gone || fail "not all gone 30s after delete: workflow $(berth get workflows 2>&1),
tasks $(berth get tasks 2>&1), containers $(docker ps -a --filter "$(cluster_filter)" --format '{{.Names}}'),
results $(results)"
log "workflow, tasks, containers and results gone $((SECONDS - t0))s after delete"

# The submit example: a generated name per run, a parameter overridden.
berth submit "$BERTH_SOURCE_DIR/examples/workflow/submit.yaml" -p day=2026-12-01 --wait --timeout 90s \
  >"$T/submit.out" || fail "submit: $(cat "$T/submit.out")"
run=$(sed -n 's|^workflow/\(etl-[a-z0-9]\{5\}\) submitted$|\1|p' "$T/submit.out")
[ -n "$run" ] || fail "submit output: $(cat "$T/submit.out")"
berth logs "workflow/$run" | has "$run on 2026-12-01: 42 rows" || fail "submit logs: $(berth logs "workflow/$run")"
berth submit "$BERTH_SOURCE_DIR/examples/workflow/submit.yaml" >"$T/submit2.out" || fail "second submit"
run2=$(sed -n 's|^workflow/\(etl-[a-z0-9]\{5\}\) submitted$|\1|p' "$T/submit2.out")
[ -n "$run2" ] && [ "$run2" != "$run" ] || fail "second submit: $(cat "$T/submit2.out")"
berth wait "workflow/$run2" --for=condition=Succeeded --timeout=90s || fail "second run"
stop_berthd

# The result keys themselves are gone from the store, not just hidden behind
# the 404 of a missing Workflow (berthd holds the SQLite file exclusively
# while it runs, so look after it stopped).
left=$(python3 - "$T/berth.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
pat = '%/workflows-data/default/etl/%'
ever = db.execute("select count(distinct key) from log where key like ?", (pat,)).fetchone()[0]
rows = db.execute("""select key from log l where key like ?
  and rev = (select max(rev) from log where key = l.key) and deleted = 0""", (pat,)).fetchall()
print("" if ever == 4 and not rows else "%d result keys written, live: %s" % (ever, [r[0] for r in rows]))
PY
)
[ -z "$left" ] || fail "result keys in the store after delete: $left"
log "PASS"
