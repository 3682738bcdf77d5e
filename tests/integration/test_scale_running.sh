#!/usr/bin/env bash
# Many Tasks running at once (the reduced form of bench/running.sh): 200
# `sleep 120` Tasks applied as one burst all reach Running, each with exactly
# one container, all running together; berthd's RSS and CPU while they run are
# logged; deleting all of them removes every container. SCALE_N overrides 200.
source "$(dirname "$0")/lib.sh"
start_berthd

n=${SCALE_N:-200}
for i in $(seq 1 "$n"); do
  printf -- '---\napiVersion: berth/v1\nkind: Task\nmetadata: {name: run-%s}\n' "$i"
  printf 'spec: {image: "busybox:latest", network: none, command: [sleep, "120"]}\n'
done >"$T/tasks.yaml"

phases() {
  berth get tasks -o json | python3 -c '
import collections, json, sys
c = collections.Counter(o.get("status", {}).get("phase", "") for o in json.load(sys.stdin)["items"])
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))'
}

t0=$SECONDS
berth apply -f "$T/tasks.yaml" >/dev/null || fail "apply of $n tasks failed"
wait_until 600 '[ "$(phases)" = "Running=$n" ]' || fail "not all Running: $(phases)"
log "$n tasks Running in $((SECONDS - t0)) s"

running=$(docker ps -q --filter "$(cluster_filter)" --filter label=berth.kind=Task | wc -l)
[ "$running" = "$n" ] || fail "$running containers running, want $n"
docker ps -a --filter "$(cluster_filter)" --filter label=berth.kind=Task \
  --format '{{.Label "berth.name"}}' | sort | uniq -c >"$T/per-task.txt"
[ "$(wc -l <"$T/per-task.txt")" = "$n" ] || fail "tasks with containers: $(wc -l <"$T/per-task.txt")"
awk '$1 != 1 { exit 1 }' "$T/per-task.txt" || fail "a task has two containers: $(awk '$1 != 1' "$T/per-task.txt" | head -3)"

sleep 1
c0=$(cpu_ticks "$BERTHD_PID")
sleep 5
log "while $n run: berthd rss $(awk '/^VmRSS/ { print $2 }' "/proc/$BERTHD_PID/status") kB," \
  "cpu $(($(cpu_ticks "$BERTHD_PID") - c0)) ticks of $(getconf CLK_TCK)/s in 5 s (ASan build)"

t0=$SECONDS
# shellcheck disable=SC2046 # one name per word
berth delete task $(seq -f 'run-%g' 1 "$n") --timeout 600s >/dev/null || fail "delete failed"
log "$n tasks deleted in $((SECONDS - t0)) s"
left=$(docker ps -aq --filter "$(cluster_filter)" | wc -l)
[ "$left" = 0 ] || fail "$left containers left after deleting every task"
[ "$(berth get tasks -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" = 0 ] ||
  fail "tasks left after delete"
stop_berthd
