#!/usr/bin/env bash
# The Workflow examples, end to end. examples/pipeline: extract → transform →
# load share the Workflow's workspace volume, transform's file output reaches
# load through {{steps.transform.outputs.files.summary}} and `berth cp`
# downloads it, load's when is true, onExit reports the outcome; the volume
# goes with the Workflow. examples/fan-out: withParam over a generated list
# runs one Task per item (<wf>-<step>-<index>), at most parallelism at once,
# and the join sees the children's results as a JSON array in index order.
source "$(dirname "$0")/lib.sh"
start_berthd

log "pipeline"
berth apply -f "$BERTH_SOURCE_DIR/examples/pipeline/pipeline.yaml" >/dev/null || fail "apply pipeline"
berth wait workflow/pipeline --for=condition=Succeeded --timeout 90s ||
  fail "pipeline did not succeed: $(berth get workflow pipeline -o json)"
[ "$(berth logs task/pipeline-load)" = "loaded: rows=5 sum=15" ] ||
  fail "load: $(berth logs task/pipeline-load)"
berth cp workflow/pipeline:transform/summary "$T/summary.txt" || fail "berth cp"
[ "$(cat "$T/summary.txt")" = "rows=5 sum=15" ] || fail "summary: $(cat "$T/summary.txt")"
berth cp workflow/pipeline:transform/nope "$T/x" 2>"$T/cp.err" && fail "cp of a missing file worked"
has "nope" "$T/cp.err" || fail "cp error: $(cat "$T/cp.err")"
berth logs workflow/pipeline --step onExit | has -x 'pipeline Succeeded; failures: \[\]' ||
  fail "onExit: $(berth logs workflow/pipeline --step onExit)"
[ "$(wfq pipeline 'step("onExit")["phase"]')" = Succeeded ] || fail "onExit phase"
[ "$(wfq pipeline 'step("load")["phase"]')" = Succeeded ] || fail "load phase"
berth describe workflow pipeline >"$T/describe.txt" || fail "describe"
has -E '^ *onExit +Succeeded +pipeline-onexit' "$T/describe.txt" || fail "describe: $(cat "$T/describe.txt")"
berth get workflow pipeline -o tree >"$T/tree.txt" || fail "tree"
has transform "$T/tree.txt" && has onExit "$T/tree.txt" || fail "tree: $(cat "$T/tree.txt")"
volume=$(wfq pipeline 'o["status"]["workspace"]')
docker volume inspect "$volume" >/dev/null || fail "no workspace volume $volume"
berth delete workflow/pipeline >/dev/null || fail "delete"
wait_until 60 '! docker volume inspect "$volume" >/dev/null 2>&1' || fail "volume $volume left behind"
wait_until 30 '[ -z "$(containers_of pipeline-extract)" ]' || fail "containers left behind"

log "fan-out"
berth apply -f "$BERTH_SOURCE_DIR/examples/fan-out/fan-out.yaml" >/dev/null || fail "apply fan-out"
berth wait workflow/fan-out --for=condition=Succeeded --timeout 90s ||
  fail "fan-out did not succeed: $(berth get workflow fan-out -o json)"
[ "$(berth logs task/fan-out-sum)" = 91 ] || fail "sum: $(berth logs task/fan-out-sum)"
for i in 0 1 2 3 4 5; do
  [ "$(containers_of "fan-out-square-$i" | wc -l)" = 1 ] || fail "item $i: $(containers_of "fan-out-square-$i")"
done
[ -z "$(containers_of fan-out-square-6)" ] || fail "a seventh item ran"
[ "$(wfq fan-out 'step("square")["items"]')" = 6 ] || fail "items: $(wfq fan-out 'step("square")')"
berth describe workflow fan-out | has -E '^ *square +Succeeded +6 items, 6 made' ||
  fail "describe: $(berth describe workflow fan-out)"
curl -sf --unix-socket "$T/berth.sock" \
  http://localhost/apis/berth/v1/namespaces/default/workflows/fan-out/results >"$T/results.json" ||
  fail "results endpoint"
python3 - "$T/results.json" <<'PY' || fail "results: $(cat "$T/results.json")"
import json, sys
r = json.load(open(sys.argv[1]))["steps"]["square"]["result"]
sys.exit(0 if json.loads(r) == ["1", "4", "9", "16", "25", "36"] else 1)
PY
overlap=$(max_overlap fan-out-square-)
[ "$overlap" -le 3 ] || fail "$overlap items ran at once, parallelism is 3"
berth logs workflow/fan-out --step square | has -x '\[square-5\] 36' ||
  fail "logs --step: $(berth logs workflow/fan-out --step square)"
log "ok"
