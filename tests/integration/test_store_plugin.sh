#!/usr/bin/env bash
# Store plugins (docs/plugins.md, "Store plugins"): the in-memory test plugin
# (tests/plugins/mem-store) builds out of tree with only the public ABI
# header; berthd --plugin-dir DIR --store memstore: keeps everything in it and
# runs a Task to Succeeded. A plugin store that refuses its URL, and a scheme
# nobody registered, stop berthd at start with a message that says why.
source "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || skip "cc is needed"

mkdir -p "$T/plugins"
cc -shared -fPIC -pthread -I"$BERTH_SOURCE_DIR/plugins" -o "$T/plugins/memstore.so" \
  "$BERTH_SOURCE_DIR/tests/plugins/mem-store/mem-store.c" || fail "memstore did not build"

# ---- a start that fails: berthd exits 1, one clear line ------------------
start_fails() { # start_fails LOG ARGS...: berthd must exit with status 1
  local out=$1 rc=0
  shift
  timeout 30 "$BERTHD" --data-dir "$T" --listen "unix://$T/fail.sock" "$@" >"$out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "berthd $* exited with $rc, want 1: $(cat "$out")"
}
start_fails "$T/refused.log" --plugin-dir "$T/plugins" --store memstore:/var/lib/x
grep -q 'cannot open store memstore:/var/lib/x: store plugin memstore refused memstore:/var/lib/x: memstore takes no location' \
  "$T/refused.log" || fail "no clear line for the refused URL: $(cat "$T/refused.log")"
start_fails "$T/unknown.log" --store nosuch:thing
grep -q 'cannot open store nosuch:thing: store nosuch:thing: unknown scheme "nosuch" (known schemes: sqlite, etcd, etcds)' \
  "$T/unknown.log" || fail "no clear line for the unknown scheme: $(cat "$T/unknown.log")"
# Without --plugin-dir the plugin's scheme is unknown too.
start_fails "$T/noplugin.log" --store memstore:
grep -q 'unknown scheme "memstore"' "$T/noplugin.log" || fail "memstore known without its plugin"
log "start errors: ok"

# ---- berthd on the plugin store ------------------------------------------
start_berthd --plugin-dir "$T/plugins" --store memstore:
grep -q "plugin loaded name=memstore" "$T/berthd.log" || fail "memstore was not loaded"
grep -q "plugin memstore: opened an in-memory store" "$T/berthd.log" || fail "the store is not the plugin's"
grep -q "berthd started .* store=memstore:" "$T/berthd.log" || fail "berthd did not start on memstore:"

berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Task
metadata: {name: on-memstore}
spec: {image: busybox:latest, network: none, command: [sh, -c, 'echo stored in a plugin']}
YAML
berth wait task/on-memstore --for=condition=Succeeded --timeout=60s || fail "on-memstore did not succeed"
[ "$(jget on-memstore .status.exitCode)" = 0 ] || fail "exit code $(jget on-memstore .status.exitCode)"
berth logs task/on-memstore | has "stored in a plugin" || fail "logs: $(berth logs task/on-memstore 2>&1)"
berth delete task on-memstore >/dev/null || fail "delete"
wait_until 30 '! berth get task on-memstore >/dev/null 2>&1' || fail "task still there after delete"
# A clean stop: the store is closed before the plugin is unloaded (ASan
# would report a use after dlclose or a leak).
stop_berthd
log "PASS"
