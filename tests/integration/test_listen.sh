#!/usr/bin/env bash
# Listeners: plain HTTP serves the API only on a loopback address and only
# with --insecure-http (no encryption; a token still needed); berthd refuses
# anything else at start with exit status 2 and a message that says why, as
# it does TLS flags that do not fit together (HTTPS itself: test_tls.sh). The
# loopback listener answers the API next to the unix socket.
source "$(dirname "$0")/lib.sh"
port=$((20000 + RANDOM % 20000))

refuse() { # message-part, flags...
  local want=$1; shift
  local rc=0
  "$BERTHD" --store "sqlite:$T/refused.db" --data-dir "$T" "$@" >"$T/refused.txt" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "berthd $* exited $rc: $(cat "$T/refused.txt")"
  has -F "$want" "$T/refused.txt" || fail "berthd $*: $(cat "$T/refused.txt")"
  log "refused: $*"
}
refuse "add --insecure-http" --listen "http://127.0.0.1:$port"
refuse "only on a loopback address" --listen "http://0.0.0.0:$port" --insecure-http
refuse "want unix:///PATH, https://ADDR:PORT or http://127.0.0.1:PORT" --listen "ftp://x"
refuse "and --tls-key go together" --listen "https://127.0.0.1:$port" --tls-cert /x
refuse "applies to https listeners" --listen "unix://$T/x.sock" --client-ca /x
refuse "names the generated certificate" --listen "https://127.0.0.1:$port" \
  --tls-cert /x --tls-key /y --tls-san example.com

start_berthd --listen "http://127.0.0.1:$port" --insecure-http
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "no /healthz over HTTP"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/apis/berth/v1/tasks")
[ "$code" = 401 ] || fail "a request without credentials over HTTP answered $code"
token=$(berth token create ci --user system:admin --ttl 1h) || fail "berth token create"
berth --server "http://127.0.0.1:$port" --token "$token" get tasks >/dev/null ||
  fail "berth over HTTP with a token"
berth get tasks >/dev/null || fail "berth over the unix socket"
log "ok"
