#!/usr/bin/env bash
# Listeners: plain HTTP serves the API only on a loopback address and only
# with --insecure-http (no encryption, no authentication); berthd refuses
# anything else at start with exit status 2 and a message that says why;
# https:// is refused until TLS is built. The loopback listener answers the
# API next to the unix socket.
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
refuse "HTTPS is not built yet" --listen "https://127.0.0.1:$port"
refuse "want unix:///PATH or http://127.0.0.1:PORT" --listen "ftp://x"

start_berthd --listen "http://127.0.0.1:$port" --insecure-http
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "no /healthz over HTTP"
berth --server "http://127.0.0.1:$port" get tasks >/dev/null || fail "berth over HTTP"
berth get tasks >/dev/null || fail "berth over the unix socket"
log "ok"
