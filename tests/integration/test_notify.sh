#!/usr/bin/env bash
# Notifiers (docs/notifications.md) against a webhook receiver on 127.0.0.1
# (notify_server.py): examples/notify-webhook's failing Task makes exactly
# one delivery, signed with the Secret's key (checked with Python's hmac);
# the next run of that name succeeding makes a Recovered one, also when
# berthd was restarted in between (kill -9, and a clean stop: the failure is
# remembered in the store) and, on etcd, when another replica took over as
# leader in between (at the end, skipped without etcd); a delivery retrying
# while the receiver is down when berthd gets SIGTERM is handed over in the
# store and sent once, with the same delivery id, after the restart; a receiver
# that answers 500 once gets one retry, with the same delivery id, about a
# second later; an exec Notifier's program gets the delivery's JSON on its
# standard input (and one outside --notifier-exec-dir is refused); 20
# failing Tasks give the delivery latency (printed: p50 and p99 from the
# container's exit, and from the Event's time, to the request's arrival);
# 1,000 failures for a closed port leave berthd's memory flat while the
# Notifier's queue stays bounded (status.dropped, the metric).
source "$(dirname "$0")/lib.sh"
# Freed memory is held back by AddressSanitizer (256 MiB by default): with
# a small quarantine the resident size says what berthd keeps.
export ASAN_OPTIONS="${ASAN_OPTIONS}:quarantine_size_mb=16"

REQ="$T/requests.jsonl"
python3 "$BERTH_SOURCE_DIR/tests/integration/notify_server.py" --port-file "$T/port" --log "$REQ" &
srv_pid=$!
CLEANUP_FIRST='kill $srv_pid 2>/dev/null || true'
wait_until 10 '[ -s "$T/port" ]' || fail "the test server did not start"
PORT=$(cat "$T/port")
touch "$REQ"
# An SMTP sink, where Python still has smtpd (it left in 3.12).
MAIL="$T/mail.jsonl"
SMTP_PORT=
if python3 -W ignore -c 'import smtpd' 2>/dev/null; then
  python3 "$BERTH_SOURCE_DIR/tests/integration/smtp_sink.py" --port-file "$T/smtp-port" --log "$MAIL" &
  smtp_pid=$!
  CLEANUP_FIRST='kill $srv_pid $smtp_pid 2>/dev/null || true'
  wait_until 10 '[ -s "$T/smtp-port" ]' || fail "the SMTP sink did not start"
  SMTP_PORT=$(cat "$T/smtp-port")
fi

# Requests whose path starts with $1, as "code event delivery" lines.
reqs() {
  python3 - "$REQ" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith(sys.argv[2]):
        h = r["headers"]
        print(r["code"], h.get("x-berth-event", "-"), h.get("x-berth-delivery", "-"))
EOF
}
nreqs() { reqs "$1" | wc -l; }
# Field $2 (a dotted path) of notifier $1's JSON.
nget() {
  berth get notifier "$1" -o json | python3 -c '
import json, sys
o = json.load(sys.stdin)
for p in sys.argv[1].split("."):
    o = o.get(p) if isinstance(o, dict) else None
print("" if o is None else o)' "$2"
}

mkdir -p "$T/exec"
cat >"$T/exec/record.sh" <<EOF
#!/bin/sh
cat >"$T/exec-\$BERTH_DELIVERY.json"
echo "recorded \$BERTH_EVENT for \$BERTH_NOTIFIER"
EOF
chmod 755 "$T/exec/record.sh"
start_berthd --notifier-exec-dir "$T/exec"

# ---- the example: one signed delivery ------------------------------------
mkdir "$T/example"
cp "$BERTH_SOURCE_DIR"/examples/notify-webhook/*.yaml "$T/example/"
sed -i "s|http://127.0.0.1:8080/|http://127.0.0.1:$PORT/|" "$T/example/notifier.yaml"
grep -q "127.0.0.1:$PORT/hooks/berth" "$T/example/notifier.yaml" || fail "example URL not rewritten"
KEY=$(sed -n 's/^  hmac: //p' "$T/example/secret.yaml")
[ -n "$KEY" ] || fail "no hmac key in the example's Secret"
berth apply -f "$T/example" >/dev/null
berth wait task/nightly-load --for=condition=Failed --timeout=60s >/dev/null || fail "nightly-load did not fail"
wait_until 10 '[ "$(nreqs /hooks/berth)" -ge 1 ]' || fail "no delivery for nightly-load"
sleep 2 # a second delivery would have come by now
[ "$(nreqs /hooks/berth)" = 1 ] || fail "expected one delivery, got: $(reqs /hooks/berth)"
# The signature, as docs/notifications.md tells receivers to check it.
check_delivery() { # path event object
  python3 - "$REQ" "$KEY" "$1" "$2" "$3" <<'EOF' || fail "delivery check: $1 $2 $3"
import hashlib, hmac, json, re, sys
log, key, path, event, name = sys.argv[1:]
rs = [json.loads(l) for l in open(log)]
rs = [r for r in rs if r["path"] == path and r["headers"].get("x-berth-event") == event]
assert len(rs) == 1, f"{len(rs)} {event} deliveries to {path}"
r = rs[0]
h = r["headers"]
want = "sha256=" + hmac.new(key.encode(), r["body"].encode(), hashlib.sha256).hexdigest()
assert hmac.compare_digest(h["x-berth-signature"], want), (h["x-berth-signature"], want)
assert h["content-type"] == "application/json", h
assert re.fullmatch(r"[0-9a-f]{32}", h["x-berth-delivery"]), h
b = json.loads(r["body"])
assert b["kind"] == "Notification" and b["outcome"] == event and b["id"] == h["x-berth-delivery"], b
assert b["object"]["kind"] == "Task" and b["object"]["name"] == name, b["object"]
assert b["object"]["labels"] == {"team": "data"}, b["object"]
assert b["notifier"] == {"namespace": "default", "name": "data-team"}, b["notifier"]
print(f"{event}: signed, id {b['id']}, object phase {b['object']['status']['phase']}")
EOF
}
check_delivery /hooks/berth Failed nightly-load
reqs /hooks/berth | has '^200 Failed ' || fail "Failed delivery: $(reqs /hooks/berth)"
log "one signed Failed delivery"

# ---- Recovered: the next run of that name succeeds -------------------------
berth delete task nightly-load >/dev/null
wait_until 30 '! berth get task nightly-load >/dev/null 2>&1' || fail "nightly-load not deleted"
sed "s/exit 3/exit 0/" "$T/example/task.yaml" >"$T/task-ok.yaml"
berth apply -f "$T/task-ok.yaml" >/dev/null
berth wait task/nightly-load --for=condition=Succeeded --timeout=60s >/dev/null || fail "nightly-load did not succeed"
wait_until 10 '[ "$(nreqs /hooks/berth)" -ge 2 ]' || fail "no Recovered delivery: $(reqs /hooks/berth)"
check_delivery /hooks/berth Recovered nightly-load
wait_until 5 '[ "$(nget data-team status.delivered)" = 2 ]' || fail "delivered: $(nget data-team status)"
[ "$(nget data-team status.lastDelivery.event)" = Recovered ] || fail "lastDelivery: $(nget data-team status)"
[ "$(nget data-team status.lastDelivery.code)" = 200 ] || fail "lastDelivery code"
curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics |
  has '^berth_notifications_total{notifier="default/data-team",result="sent"} 2$' ||
  fail "metrics: $(curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics | grep notification)"
log "Recovered"

# ---- Recovered across restarts: the last outcome is in the store ------------
metric() { # socket name: the metric's value (0 when absent)
  curl -sf --unix-socket "$1" http://localhost/metrics | awk -v m="$2" '$1 == m { v = $2 } END { print v + 0 }'
}
# restart_case NAME HOW: Task NAME fails, berthd restarts (HOW: kill9 or
# stop), NAME is applied again and succeeds: exactly one Recovered.
restart_case() {
  local name=$1 how=$2 path=/restart/$1 writes
  cat >"$T/$name.yaml" <<EOF
apiVersion: berth/v1
kind: Notifier
metadata: {name: $name}
spec:
  selector: {matchLabels: {case: $name}}
  on: [Failed, Recovered]
  type: webhook
  webhook: {url: "http://127.0.0.1:$PORT$path"}
---
apiVersion: berth/v1
kind: Task
metadata: {name: $name, labels: {case: $name}}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}
EOF
  writes=$(metric "$T/berth.sock" berth_notifier_outcome_writes_total)
  berth apply -f "$T/$name.yaml" >/dev/null
  berth wait "task/$name" --for=condition=Failed --timeout=60s >/dev/null || fail "$name did not fail"
  wait_until 10 "[ \"\$(nreqs $path)\" -ge 1 ]" || fail "$name: no Failed delivery"
  if [ "$how" = kill9 ]; then
    # Written (the writer is a moment behind the delivery), then killed.
    wait_until 10 "[ \"\$(metric $T/berth.sock berth_notifier_outcome_writes_total)\" -gt $writes ]" ||
      fail "$name: the outcome was not written"
    kill9_berthd
  else
    stop_berthd # a clean stop writes what is queued
  fi
  local loads
  loads=$(grep -c 'notifier outcomes loaded count=[1-9]' "$T/berthd.log" || true)
  start_berthd --notifier-exec-dir "$T/exec"
  wait_until 10 "[ \$(grep -c 'notifier outcomes loaded count=[1-9]' $T/berthd.log) -gt $loads ]" ||
    fail "$name: no outcomes loaded after the restart"
  berth delete task "$name" >/dev/null
  wait_until 30 "! berth get task $name >/dev/null 2>&1" || fail "$name not deleted"
  sed "s/'exit 1'/'exit 0'/" "$T/$name.yaml" | berth apply -f - >/dev/null
  berth wait "task/$name" --for=condition=Succeeded --timeout=60s >/dev/null || fail "$name did not succeed"
  wait_until 10 "[ \"\$(nreqs $path)\" -ge 2 ]" || fail "$name: no Recovered delivery: $(reqs $path)"
  sleep 2 # a third delivery would have come by now
  [ "$(reqs $path | awk '{ print $1, $2 }' | paste -sd,)" = "200 Failed,200 Recovered" ] ||
    fail "$name: deliveries: $(reqs $path)"
  log "Recovered after a restart ($how)"
}
restart_case flip-kill kill9
restart_case flip-stop stop

# ---- a delivery retrying at a clean stop is handed over ---------------------
# How many keys under notify-data/pending/ the store holds (the last row of
# each key in the SQLite log is not a delete), berthd stopped.
pending_keys() {
  python3 - "$T/berth.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select count(*) from log l where key like '%/notify-data/pending/%' "
                 "and deleted = 0 and rev = (select max(rev) from log where key = l.key)").fetchone()[0])
EOF
}
# The receiver is down (503) while the flag file exists: the Failed
# delivery is retrying when berthd gets SIGTERM; it is stored, then sent by
# the restarted berthd once the receiver is up: exactly one 200, with the
# id of the failed attempts, and nothing left in the store.
touch "$REQ.handover"
cat >"$T/handover.yaml" <<EOF
apiVersion: berth/v1
kind: Notifier
metadata: {name: handover}
spec:
  selector: {matchLabels: {case: handover}}
  on: [Failed]
  type: webhook
  webhook: {url: "http://127.0.0.1:$PORT/down-while/handover/hook", maxAttempts: 10}
---
apiVersion: berth/v1
kind: Task
metadata: {name: handover, labels: {case: handover}}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}
EOF
berth apply -f "$T/handover.yaml" >/dev/null
berth wait task/handover --for=condition=Failed --timeout=60s >/dev/null || fail "handover did not fail"
wait_until 20 '[ "$(nreqs /down-while/handover/)" -ge 2 ]' ||
  fail "handover: no retries: $(reqs /down-while/handover/)"
handed=$(grep -c 'notifications handed over count=' "$T/berthd.log" || true)
stop_berthd
[ "$(grep -c 'notifications handed over count=1 ' "$T/berthd.log")" -gt "$handed" ] ||
  fail "handover: not handed over: $(grep notifications "$T/berthd.log" | tail -3)"
[ "$(pending_keys)" = 1 ] || fail "handover: $(pending_keys) pending keys in the store, not 1"
if reqs /down-while/handover/ | has -v '^503 '; then
  fail "handover: a delivery got through: $(reqs /down-while/handover/)"
fi
rm "$REQ.handover"
start_berthd --notifier-exec-dir "$T/exec"
wait_until 20 'reqs /down-while/handover/ | has "^200 "' ||
  fail "handover: not sent after the restart: $(reqs /down-while/handover/)"
sleep 2 # a second one would have come by now
python3 - "$REQ" <<'EOF' || fail "handover: $(reqs /down-while/handover/)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
rs = [r for r in rs if r["path"] == "/down-while/handover/hook"]
codes = [r["code"] for r in rs]
assert codes.count(200) == 1 and codes[-1] == 200 and set(codes[:-1]) == {503}, codes
ids = {r["headers"]["x-berth-delivery"] for r in rs}
assert len(ids) == 1, ids
assert json.loads(rs[-1]["body"])["id"] in ids
print(f"handed over: {len(codes) - 1} failed attempts, then one delivery, id {ids.pop()}")
EOF
has 'notifications handed over queued count=1 in_flight=' "$T/berthd.log" || fail "handover: not queued again"
wait_until 5 '[ "$(nget handover status.delivered)" = 1 ]' || fail "handover status: $(nget handover status)"
[ "$(nget handover status.lastDelivery.attempts)" -ge 3 ] || fail "handover attempts: $(nget handover status)"
[ "$(metric "$T/berth.sock" 'berth_notifier_handovers_total{direction="restored"}')" = 1 ] ||
  fail "handover metric: $(curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics | grep handovers)"
stop_berthd # berthd holds the database: read it stopped
[ "$(pending_keys)" = 0 ] || fail "handover: $(pending_keys) pending keys left in the store"
start_berthd --notifier-exec-dir "$T/exec"
log "a delivery retrying at a clean stop was handed over: sent once after the restart"

# ---- a 500 once: one retry, the same delivery ------------------------------
cat >"$T/more.yaml" <<EOF
apiVersion: berth/v1
kind: Notifier
metadata: {name: flaky}
spec:
  selector: {matchLabels: {team: flaky}}
  on: [Failed]
  type: webhook
  webhook: {url: "http://127.0.0.1:$PORT/fail-once/flaky", maxAttempts: 3}
---
apiVersion: berth/v1
kind: Notifier
metadata: {name: pager}
spec:
  selector: {matchLabels: {team: ops}}
  on: [Failed]
  type: exec
  exec: {command: $T/exec/record.sh}
---
apiVersion: berth/v1
kind: Task
metadata: {name: flaky-task, labels: {team: flaky}}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}
---
apiVersion: berth/v1
kind: Task
metadata: {name: ops-task, labels: {team: ops}}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 2']}
EOF
if [ -n "$SMTP_PORT" ]; then
  cat >>"$T/more.yaml" <<EOF
---
apiVersion: berth/v1
kind: Notifier
metadata: {name: mail}
spec:
  selector: {matchLabels: {team: ops}}
  on: [Failed]
  type: smtp
  smtp: {url: "smtp://127.0.0.1:$SMTP_PORT", from: berth@example.com, to: [ops@example.com, oncall@example.com], startTLS: false}
EOF
fi
berth apply -f "$T/more.yaml" >/dev/null
wait_until 30 '[ "$(nreqs /fail-once/flaky)" -ge 2 ]' || fail "no retry: $(reqs /fail-once/flaky)"
python3 - "$REQ" <<'EOF' || fail "retry: $(reqs /fail-once/flaky)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
rs = [r for r in rs if r["path"] == "/fail-once/flaky"]
assert [r["code"] for r in rs] == [500, 200], [r["code"] for r in rs]
ids = {r["headers"]["x-berth-delivery"] for r in rs}
assert len(ids) == 1, ids
gap = rs[1]["t"] - rs[0]["t"]
assert 0.9 <= gap <= 3, gap
print(f"retried after {gap:.2f}s with the same id")
EOF
wait_until 5 '[ "$(nget flaky status.lastDelivery.attempts)" = 2 ]' || fail "flaky status: $(nget flaky status)"
[ "$(nget flaky status.lastDelivery.result)" = Sent ] || fail "flaky result: $(nget flaky status)"
nget flaky status.lastError | has ': 500 ' || fail "flaky lastError: $(nget flaky status)"
log "retried once"

# ---- exec: the program reads the delivery ----------------------------------
wait_until 30 'ls "$T"/exec-*.json >/dev/null 2>&1' || fail "the exec notifier ran nothing"
python3 - "$T"/exec-*.json <<'EOF' || fail "exec input: $(cat "$T"/exec-*.json)"
import json, sys
assert len(sys.argv) == 2, sys.argv
b = json.load(open(sys.argv[1]))
assert b["outcome"] == "Failed" and b["event"]["reason"] == "Failed", b
assert b["object"]["name"] == "ops-task" and b["object"]["status"]["exitCode"] == 2, b["object"]
assert b["notifier"]["name"] == "pager", b
EOF
wait_until 5 'grep -q "notifier program output: recorded Failed for default/pager" "$T/berthd.log"' ||
  fail "exec output not logged"
cat >"$T/outside.yaml" <<'EOF'
apiVersion: berth/v1
kind: Notifier
metadata: {name: outside}
spec: {on: [Failed], type: exec, exec: {command: /bin/sh, args: [-c, 'echo pwned']}}
EOF
if berth apply -f "$T/outside.yaml" >"$T/outside.out" 2>&1; then fail "exec outside the dir accepted"; fi
has 'spec.exec.command: /bin/sh is outside the directories exec notifiers may run programs from' "$T/outside.out" ||
  fail "refusal: $(cat "$T/outside.out")"
has 'Invalid' "$T/outside.out" || fail "not 422 Invalid: $(cat "$T/outside.out")"
log "exec"
if [ -n "$SMTP_PORT" ]; then
  wait_until 20 '[ -s "$MAIL" ]' || fail "no mail: $(nget mail status)"
  python3 - "$MAIL" <<'EOF' || fail "mail: $(cat "$MAIL")"
import json, sys
ms = [json.loads(l) for l in open(sys.argv[1])]
assert len(ms) == 1, ms
m = ms[0]
assert m["from"] == "berth@example.com" and m["to"] == ["ops@example.com", "oncall@example.com"], m
d = m["data"]
assert "Subject: [berth] Failed: Task default/ops-task: Error: exit code 2" in d, d
assert "X-Berth-Event: Failed" in d and "Object:    Task default/ops-task" in d, d
EOF
  log "mail"
else
  log "no smtpd module in this Python: the smtp type is not tried"
fi

# ---- latency: 20 failing Tasks ---------------------------------------------
{
  cat <<EOF
apiVersion: berth/v1
kind: Notifier
metadata: {name: lat}
spec:
  selector: {matchLabels: {team: lat}}
  on: [Failed]
  type: webhook
  webhook: {url: "http://127.0.0.1:$PORT/lat"}
EOF
  for i in $(seq 0 19); do
    printf -- "---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: lat-%d, labels: {team: lat}}\n" "$i"
    printf "spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}\n"
  done
} >"$T/lat.yaml"
berth apply -f "$T/lat.yaml" >/dev/null
wait_until 60 '[ "$(nreqs /lat)" -ge 20 ]' || fail "latency deliveries: $(nreqs /lat) of 20"
ids=$(docker ps -aq --filter "$(cluster_filter)" --filter label=berth.kind=Task)
docker inspect $ids >"$T/containers.json"
python3 - "$REQ" "$T/containers.json" <<'EOF' || fail "latency"
import calendar, json, re, sys
def at(ts):  # RFC 3339 with any fraction -> seconds
    y, mo, d, h, mi, s, frac = re.match(
        r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", ts).groups()
    return calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s))) + \
        float("0." + (frac or "0"))
finished = {}
for c in json.load(open(sys.argv[2])):
    name = c["Config"]["Labels"].get("berth.name", "")
    if name.startswith("lat-"):
        finished[name] = at(c["State"]["FinishedAt"])
rows = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] != "/lat":
        continue
    b = json.loads(r["body"])
    name = b["object"]["name"]
    ev = at(b["event"]["lastTimestamp"])
    rows.append((name, finished[name], ev, r["t"]))
names = sorted(n for n, *_ in rows)
assert names == sorted(f"lat-{i}" for i in range(20)), names  # exactly one each
for name, fin, ev, t in sorted(rows):
    print(f"latency {name}: container finished {fin:.3f} event {ev:.3f} arrived {t:.3f} "
          f"-> {1000 * (t - fin):.0f} ms from exit, {1000 * (t - ev):.0f} ms from event")
def pct(xs, p):  # nearest rank
    xs = sorted(xs)
    return xs[max(0, -(-p * len(xs) // 100) - 1)]
for what, xs in (("container exit", [1000 * (t - f) for _, f, _, t in rows]),
                 ("event time", [1000 * (t - e) for _, _, e, t in rows])):
    print(f"webhook latency from {what}: p50 {pct(xs, 50):.0f} ms, p99 {pct(xs, 99):.0f} ms "
          f"(n={len(xs)})")
EOF

log "latency measured"

# ---- 1,000 failures for a closed port ---------------------------------------
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/flood-setup.yaml" <<EOF
apiVersion: berth/v1
kind: Notifier
metadata: {name: flood}
spec:
  selector: {matchLabels: {flood: "yes"}}
  on: [Failed]
  type: webhook
  webhook: {url: "http://127.0.0.1:$closed/closed", timeoutSeconds: 1, maxAttempts: 2}
---
apiVersion: berth/v1
kind: Task
metadata: {name: flood-root}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}
EOF
berth apply -f "$T/flood-setup.yaml" >/dev/null
berth wait task/flood-root --for=condition=Failed --timeout=60s >/dev/null || fail "flood-root did not fail"
# 1,000 Tasks that fail at once, with no container: their dependency failed.
python3 - >"$T/flood.yaml" <<'EOF'
print("\n---\n".join(
    f"apiVersion: berth/v1\nkind: Task\nmetadata: {{name: flood-{i}, labels: {{flood: \"yes\"}}}}\n"
    f"spec: {{image: busybox:latest, network: none, command: [sh, -c, 'exit 0'], "
    f"dependsOn: [flood-root]}}" for i in range(1000)))
EOF
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$BERTHD_PID/status"; }
rss_before=$(rss)
berth apply -f "$T/flood.yaml" >/dev/null
log "1,000 Tasks applied"
wait_until 60 '[ "$(nget flood status.dropped)" -ge 500 ]' ||
  fail "flood: $(nget flood status) ($(berth get tasks --no-headers | grep -c Failed) failed)"
wait_until 60 '[ "$(berth get tasks --no-headers | grep -c " Failed ")" -ge 1020 ]' ||
  fail "flood tasks: $(berth get tasks --no-headers | grep -c " Failed ") failed"
rss_mid=$(rss)
log "1,000 Tasks failed"
sleep 6 # the Notifier keeps failing; nothing more should be kept
rss_after=$(rss)
dropped=$(nget flood status.dropped)
failures=$(nget flood status.failures)
log "flood: dropped=$dropped failures=$failures rss before=${rss_before}kB settled=${rss_mid}kB 6s later=${rss_after}kB"
[ "$dropped" -ge 700 ] && [ "$dropped" -le 1000 ] || fail "dropped $dropped"
[ "$failures" -ge 5 ] || fail "failures $failures: $(nget flood status)"
nget flood status.lastError | has "POST http://127.0.0.1:$closed/closed: " || fail "lastError: $(nget flood status)"
[ $((rss_after - rss_mid)) -lt 20480 ] || fail "memory grew while dropping: ${rss_mid}kB -> ${rss_after}kB"
[ "$rss_after" -lt 786432 ] || fail "berthd RSS ${rss_after}kB over 768 MiB"
curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics |
  has "^berth_notifications_dropped_total{notifier=\"default/flood\"} $dropped\$" ||
  fail "dropped metric: $(curl -sf --unix-socket "$T/berth.sock" http://localhost/metrics | grep dropped_total)"
berth get notifiers | head -n1 | has -E '^NAME +TYPE +LAST +SENT +DELIVERED +FAILURES +DROPPED +AGE$' ||
  fail "get notifiers: $(berth get notifiers)"

stop_berthd

# ---- Recovered across a leader change (etcd) --------------------------------
if etcd_up; then
  start_ha_pair nf
  cat >"$T/ha.yaml" <<EOF
apiVersion: berth/v1
kind: Notifier
metadata: {name: ha}
spec:
  on: [Failed, Recovered]
  type: webhook
  webhook: {url: "http://127.0.0.1:$PORT/ha"}
---
apiVersion: berth/v1
kind: Task
metadata: {name: ha-flip}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'exit 1']}
EOF
  on a apply -f "$T/ha.yaml" >/dev/null
  on a wait task/ha-flip --for=condition=Failed --timeout=60s >/dev/null || fail "ha-flip did not fail"
  wait_until 10 '[ "$(nreqs /ha)" -ge 1 ]' || fail "ha: no Failed delivery"
  wait_until 10 '[ "$(metric "$T/a.sock" berth_notifier_outcome_writes_total)" -ge 1 ]' ||
    fail "ha: the outcome was not written"
  kill -KILL "$pid_a"
  wait "$pid_a" 2>/dev/null || true
  wait_until 30 'grep -q "became leader id=nf-b" "$T/berthd-b.log"' || fail "b did not take over"
  wait_until 5 'grep -q "notifier outcomes loaded count=1 " "$T/berthd-b.log"' || fail "b loaded no outcome"
  on b delete task ha-flip >/dev/null
  wait_until 30 '! on b get task ha-flip >/dev/null 2>&1' || fail "ha-flip not deleted"
  sed "s/'exit 1'/'exit 0'/" "$T/ha.yaml" | on b apply -f - >/dev/null
  on b wait task/ha-flip --for=condition=Succeeded --timeout=60s >/dev/null || fail "ha-flip did not succeed"
  wait_until 10 '[ "$(nreqs /ha)" -ge 2 ]' || fail "ha: no Recovered delivery: $(reqs /ha)"
  sleep 2
  [ "$(reqs /ha | awk '{ print $1, $2 }' | paste -sd,)" = "200 Failed,200 Recovered" ] ||
    fail "ha: deliveries: $(reqs /ha)"
  stop_replica "$pid_b"
  log "Recovered after a leader change"
else
  log "no etcd at $ETCD_URL: the leader change is not tried"
fi
log "PASS"
