#!/usr/bin/env bash
# What following a directory costs, with a private berthd (SQLite):
#   edit   50 edits, each a new Task file written into the watched directory:
#          the time from the file write until the object is stored (seen
#          through the API, polled every 10 ms by this script) and until its
#          container started (Docker's State.StartedAt), p50 and p99
#   sync   5,000 objects (suspended CronTasks) in 50 files dropped in at once:
#          the time of that sync (berthd's own "reconciled" log line)
#   idle   berthd's CPU over 60 s while it watches 10,000 unchanged files
# Prints, as the last lines:
#   edit→stored p50 0.41s p99 0.52s; edit→started p50 0.80s p99 1.10s (50 edits)
#   sync 5000 objects in 50 files: 2.1s
#   idle cpu 0.00s in 60s (10000 files watched)
#
#   bench/gitops.sh [build dir, default build/release]
# Needs dockerd and busybox:latest (scripts/setup.sh); starts its own berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
. bench/lib.sh
root=$(mktemp -d /tmp/berth-bench-gitops.XXXXXX)
bench_cleanup_extra() { rm -rf "$root"; }
mkdir -p "$root/edits" "$root/big" "$root/idle"
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --log-level debug --source-root "$root" \
  --watch-dir "$root/edits" --watch-dir "$root/big"
sock=${BERTH_SERVER#unix://}

# --- edit: file write → stored → started --------------------------------------------------
python3 - "$root/edits" "$sock" "$(cat "$tmp/cluster")" <<'PY'
import json, os, socket, subprocess, sys, time, datetime
d, sock, cluster = sys.argv[1:4]
def get(path):
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close()
    return int(data.split(b" ", 2)[1])
stored, started = [], []
for i in range(50):
    name = "edit-%02d" % i
    t0 = time.time()
    with open(os.path.join(d, name + ".yaml.tmp"), "w") as f:
        f.write("apiVersion: berth/v1\nkind: Task\nmetadata: {name: %s}\n"
                "spec: {image: busybox:latest, network: none, command: ['true'], ttlSecondsAfterFinished: 600}\n" % name)
    os.rename(os.path.join(d, name + ".yaml.tmp"), os.path.join(d, name + ".yaml"))
    while get("/apis/berth/v1/namespaces/default/tasks/" + name) != 200:
        time.sleep(0.01)
    stored.append(time.time() - t0)
    while True:
        out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=berth.cluster=" + cluster,
                              "--filter", "label=berth.name=" + name], capture_output=True, text=True).stdout.split()
        if out:
            at = subprocess.run(["docker", "inspect", "--format", "{{.State.StartedAt}}", out[0]],
                                capture_output=True, text=True).stdout.strip()
            if not at.startswith("0001"):
                ts = datetime.datetime.fromisoformat(at[:26].rstrip("Z") + "+00:00").timestamp()
                started.append(ts - t0)
                break
        time.sleep(0.02)
p = lambda v, q: sorted(v)[min(len(v) - 1, int(q * len(v)))]
print("edit→stored p50 %.2fs p99 %.2fs; edit→started p50 %.2fs p99 %.2fs (50 edits)"
      % (p(stored, .5), p(stored, .99), p(started, .5), p(started, .99)))
PY

# --- sync: 5,000 objects in 50 files ------------------------------------------------------
python3 - "$root/big.tmp" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
for f in range(50):
    with open(os.path.join(sys.argv[1], "f%02d.yaml" % f), "w") as out:
        for i in range(100):
            out.write("---\napiVersion: berth/v1\nkind: CronTask\nmetadata: {name: b%02d-%03d}\n"
                      "spec: {schedule: '0 0 1 1 *', suspend: true, taskTemplate: "
                      "{spec: {image: busybox:latest, command: ['true']}}}\n" % (f, i))
PY
before=$(grep -c 'reconciled key=/berth/sources/default/big ' "$tmp/berthd.log" || true)
mv "$root/big.tmp"/* "$root/big/"
for _ in $(seq 1 600); do
  n=$(grep -c 'reconciled key=/berth/sources/default/big ' "$tmp/berthd.log" || true)
  [ "$n" -gt "$before" ] && "$bin/berth" get source big -o json | grep -q '"objectCount": 5000' && break
  sleep 0.5
done
grep 'reconciled key=/berth/sources/default/big ' "$tmp/berthd.log" | tail -n +$((before + 1)) |
  sed -n 's/.*duration=\([0-9]*\)ms.*/\1/p' | sort -n | tail -1 |
  awk '{ printf "sync 5000 objects in 50 files: %.1fs\n", $1 / 1000 }' >"$tmp/sync.out"

# --- idle: 10,000 unchanged files watched ---------------------------------------------------
python3 - "$root/idle" <<'PY'
import os, sys
for d in range(100):
    os.makedirs(os.path.join(sys.argv[1], "d%02d" % d))
    for f in range(100):
        open(os.path.join(sys.argv[1], "d%02d" % d, "f%02d.yaml" % f), "w").write("# kept for later\n")
PY
printf 'apiVersion: berth/v1\nkind: Source\nmetadata: {name: idle}\nspec: {path: %s}\n' "$root/idle" |
  "$bin/berth" apply -f - >/dev/null
sleep 5
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
c0=$(ticks)
sleep 60
python3 -c "print('idle cpu %.2fs in 60s (10000 files watched)' % (($(ticks) - $c0) / $hz))" >"$tmp/idle.out"
cat "$tmp/sync.out" "$tmp/idle.out"
