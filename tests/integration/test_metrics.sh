#!/usr/bin/env bash
# /metrics after a few Tasks: the counters moved (reconciles, Docker creates,
# store calls, API requests, the workqueue), a Task run duration was
# observed, and Prometheus' own checker accepts the page (promtool, Debian's
# package prometheus; the scenario is Skipped without it).
source "$(dirname "$0")/lib.sh"
start_berthd

for i in 1 2 3; do
  cat <<EOF
---
apiVersion: berth/v1
kind: Task
metadata:
  name: metrics-$i
spec:
  image: busybox:latest
  imagePullPolicy: IfNotPresent
  command: [sh, -c, "sleep 1; echo done"]
  network: none
EOF
done >"$T/tasks.yaml"
berth apply -f "$T/tasks.yaml" >/dev/null || fail "apply"
for i in 1 2 3; do
  berth wait "task/metrics-$i" --for=condition=Succeeded --timeout=60s || fail "metrics-$i did not succeed"
done
# The run time is observed once the final status is stored, which wait saw.
curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics >"$T/metrics.txt" || fail "scrape"
curl -sf -o /dev/null -w '%{content_type}\n' --unix-socket "$T/berth.sock" \
  http://localhost/metrics | has -x 'text/plain; version=0.0.4; charset=utf-8' ||
  fail "content type"

# metric_sum NAME [LABEL-REGEX]: the sum of the samples of NAME whose labels match.
metric_sum() {
  python3 - "$T/metrics.txt" "$1" "${2:-}" <<'PY'
import re, sys
path, name, labels = sys.argv[1:4]
total, seen = 0.0, False
for line in open(path):
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line.strip())
    if m and m.group(1) == name and re.search(labels, m.group(2) or ''):
        total += float(m.group(3)); seen = True
print(int(total) if seen and total == int(total) else (total if seen else 'none'))
PY
}
positive() { # positive NAME [LABEL-REGEX]
  local v
  v=$(metric_sum "$@")
  [ "$v" != none ] && python3 -c "import sys; sys.exit(0 if float('$v') > 0 else 1)" ||
    fail "$1{${2:-}} is $v, want > 0"
}

positive berth_reconcile_total 'kind="Task"'
positive berth_reconcile_duration_seconds_count 'kind="Task"'
positive berth_docker_requests_total 'operation="create",code_class="2xx"'
positive berth_docker_requests_total 'operation="start",code_class="2xx"'
positive berth_docker_request_duration_seconds_count 'operation="create"'
positive berth_store_requests_total 'op="put",result="ok"'
positive berth_store_request_duration_seconds_count 'op="list"'
positive berth_api_requests_total 'route="apply",code="200"'
positive berth_api_request_duration_seconds_count 'route="get"'
positive berth_workqueue_adds_total
positive berth_workqueue_queue_duration_seconds_count
positive process_resident_memory_bytes
positive process_open_fds
positive process_start_time_seconds
[ "$(metric_sum berth_task_run_duration_seconds_count 'namespace="default"')" = 3 ] ||
  fail "task run durations: $(metric_sum berth_task_run_duration_seconds_count)"
# Each ran at least its one second of sleep.
[ "$(metric_sum berth_task_run_duration_seconds_bucket 'namespace="default",le="1"')" = 0 ] ||
  fail "a run shorter than 1s: $(grep berth_task_run_duration "$T/metrics.txt")"
[ "$(metric_sum berth_objects_phase 'kind="Task",phase="Succeeded"')" = 3 ] || fail "objects by phase"
[ "$(metric_sum berth_objects 'resource="tasks"')" = 3 ] || fail "objects by resource"
[ "$(metric_sum berth_leader)" = 1 ] || fail "leader: $(metric_sum berth_leader)"
[ "$(metric_sum berth_build_info 'version=')" = 1 ] || fail "build info"
[ "$(metric_sum berth_api_watch_streams)" = "$(metric_sum berth_api_watches)" ] || fail "watch gauges differ"
[ "$(metric_sum berth_workqueue_depth)" != none ] || fail "no workqueue depth"
grep -q '^# TYPE berth_notifications_total counter$' "$T/metrics.txt" || fail "no notifications family"
if grep -q '^# TYPE berth_events_written_total' "$T/metrics.txt"; then
  [ "$(metric_sum berth_events_dropped_total)" != none ] || fail "events dropped"
fi

# A scrape is counted once its reply is out: the next one shows it.
scrape() { curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics >"$T/metrics.txt"; }
scrape || fail "scrape 2"
before=$(metric_sum berth_api_requests_total 'route="metrics"')
scrape || fail "scrape 3"
after=$(metric_sum berth_api_requests_total 'route="metrics"')
[ "$before" != none ] && [ "$after" = $((before + 1)) ] || fail "metrics scrapes: $before then $after"

stop_berthd
command -v promtool >/dev/null || skip "promtool not installed (Debian package prometheus)"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.txt" 2>&1 ||
  fail "promtool check metrics: $(cat "$T/promtool.txt")"
log "PASS"
