#!/usr/bin/env bash
# berthd's memory with 100,000 Events kept (the default --event-ttl of 1 h
# keeps every Event of the last hour): RSS when empty and after 100,000
# distinct Events (as the recorder writes them: one object per involved
# object, type, reason and message) were applied in batches of 1,000.
#
#   bench/events-memory.sh [build dir, default build/release] [events, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
n=${2:-100000}
. bench/lib.sh
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --leader-elect=false
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status"; }
empty=$(rss)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s.%N)
for ((k = 0; k < n; k += 1000)); do
  for ((i = k; i < k + 1000 && i < n; i++)); do
    printf -- '---\napiVersion: berth/v1\nkind: Event\nmetadata: {name: job-%d-0123456789abcdef, namespace: bench}\ninvolvedObject: {kind: Task, namespace: bench, name: job-%d, uid: 00000000-0000-0000-0000-%012d}\ntype: Warning\nreason: BackOff\nmessage: "back-off 10s restarting failed container: exit code 1"\ncount: 1\nfirstTimestamp: "%s"\nlastTimestamp: "%s"\nsource: {component: berthd, host: bench}\n' \
      "$i" "$i" "$i" "$now" "$now"
  done | "$bin/berth" apply -f - >/dev/null
done
t1=$(date +%s.%N)
sleep 2
full=$(rss)
python3 -c 'import sys; n=int(sys.argv[1]); print("%d Events applied in %.1fs; berthd RSS %s MB empty, %s MB with them (%.0f bytes per Event)" % (n, float(sys.argv[3]) - float(sys.argv[2]), sys.argv[4], sys.argv[5], (int(sys.argv[5]) - int(sys.argv[4])) * 1048576 / n))' \
  "$n" "$t0" "$t1" "$empty" "$full"
