#!/usr/bin/env bash
# Bad input gets a clear error naming file, line and field, and changes nothing.
source "$(dirname "$0")/lib.sh"
start_berthd
cat >"$T/bad.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata:
  name: bad
spec:
  imagee: busybox:latest
YAML
if berth apply -f "$T/bad.yaml" 2>"$T/err"; then fail "invalid manifest accepted"; fi
grep -q "bad.yaml:6:3: spec.imagee: unknown field, did you mean spec.image?" "$T/err" ||
  fail "error text: $(cat "$T/err")"
grep -q "spec.image: required" "$T/err" || fail "missing required error: $(cat "$T/err")"
berth get task bad >/dev/null 2>&1 && fail "invalid task was stored"

# The server validates too (a client that skips local checks).
code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$T/berth.sock" \
  -X POST -H 'Content-Type: application/yaml' --data-binary @"$T/bad.yaml" \
  http://localhost/apis/berth/v1/apply)
[ "$code" = 422 ] || fail "server answered $code"
grep -q '"field"' "$T/resp" || fail "no field details: $(cat "$T/resp")"
stop_berthd
log "PASS"
