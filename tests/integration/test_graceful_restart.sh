#!/usr/bin/env bash
# SIGTERM stops berthd and leaves containers running; the next berthd adopts
# them: each task completes with its one container, none is started twice.
source "$(dirname "$0")/lib.sh"
start_berthd
for i in 1 2 3; do
  printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: calm-%d}\nspec: {image: "busybox:latest", command: [sh, -c, "sleep 3; echo calm %d"], network: none}\n' "$i" "$i"
done >"$T/calm.yaml"
berth apply -f "$T/calm.yaml" >/dev/null
for i in 1 2 3; do
  berth wait "task/calm-$i" --for=condition=Running --timeout=60s || fail "calm-$i not running"
done
stop_berthd
running=$(docker ps -q --filter "$(cluster_filter)" | wc -l)
[ "$running" = 3 ] || fail "SIGTERM did not leave the 3 containers running ($running)"
start_berthd
for i in 1 2 3; do
  berth wait "task/calm-$i" --for=condition=Succeeded --timeout=60s || fail "calm-$i did not succeed"
  [ "$(containers_of "calm-$i" | wc -l)" = 1 ] || fail "calm-$i has $(containers_of "calm-$i" | wc -l) containers"
  [ "$(berth logs "task/calm-$i")" = "calm $i" ] || fail "calm-$i logs: $(berth logs "task/calm-$i")"
done
stop_berthd
log "PASS"
