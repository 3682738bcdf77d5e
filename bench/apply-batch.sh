#!/usr/bin/env bash
# How fast `berth apply -f DIR` takes in many objects, per store backend:
# 10,000 suspended Sources (they run nothing: this measures the API and the
# store, not the engine; each gets one status write from its controller,
# which runs meanwhile) in 10 files, applied with one `berth apply`, then
# applied again (all unchanged). BENCH_KIND=Secret: Secrets instead (no
# controller writes; each value is sealed). BENCH_METRICS=1: print the store
# request counters after each apply.
#
#   bench/apply-batch.sh [sqlite|etcd] [build dir, default build/release] [objects, 10000]
# etcd: needs etcd on 127.0.0.1:2379 (scripts/setup.sh --etcd); uses its own prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=${2:-build/release}
n=${3:-10000}
prefix=/bench-$$-$RANDOM/
case "$backend" in
  sqlite) store="sqlite:%TMP%/berth.db" ;;
  etcd) store="etcd://127.0.0.1:2379" ;;
  *) echo "usage: $0 [sqlite|etcd] [build dir] [objects]" >&2; exit 2 ;;
esac
bench_cleanup_extra() {
  umount "/tmp/berth-bench-secrets-$$" 2>/dev/null || true
  rm -rf "/tmp/berth-bench-secrets-$$"
  if [ "$backend" = etcd ]; then
    curl -sf -X POST http://127.0.0.1:2379/v3/kv/deleterange -d "{\"key\":\"$(printf %s "$prefix" | base64 -w0)\",\"range_end\":\"$(printf %s "${prefix%/}0" | base64 -w0)\"}" >/dev/null || true
  fi
}
. bench/lib.sh
bench_berthd "$bin" "$store" --prefix "$prefix" --leader-elect=false --source-root /tmp --secrets-dir "/tmp/berth-bench-secrets-$$"

files=10 per=$((n / 10))
mkdir -p "$tmp/m"
python3 - "$tmp/m" "$files" "$per" "${BENCH_KIND:-Source}" <<'PY'
import sys
d, files, per, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for f in range(files):
    with open("%s/f%02d.yaml" % (d, f), "w") as out:
        for i in range(per):
            if kind == "Secret":
                out.write("---\napiVersion: berth/v1\nkind: Secret\nmetadata:\n  name: s%02d-%05d\n"
                          "stringData:\n  token: value-%02d-%05d\n" % (f, i, f, i))
            else:
                out.write("---\napiVersion: berth/v1\nkind: Source\nmetadata:\n  name: s%02d-%05d\n"
                          "spec:\n  path: /tmp/bench-site-%02d-%05d\n  suspend: true\n" % (f, i, f, i))
PY
rate() { python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); print('%.2fs (%.0f objects/s)' % (d, int(sys.argv[3])/d))" "$@"; }
t0=$(date +%s.%N)
"$bin/berth" apply -f "$tmp/m" >"$tmp/out1"
t1=$(date +%s.%N)
[ "$(grep -c ' created$' "$tmp/out1")" = "$n" ] || { echo "not all created" >&2; exit 1; }
echo "$backend: berth apply -f DIR of $n objects in $files files (all created): $(rate "$t0" "$t1" "$n")"
[ -z "${BENCH_METRICS:-}" ] || curl -s --unix-socket "$tmp/b.sock" http://localhost/metrics | grep -E '^berth_store_requests_total'

t0=$(date +%s.%N)
"$bin/berth" apply -f "$tmp/m" >"$tmp/out2"
t1=$(date +%s.%N)
[ "$(grep -c ' unchanged$' "$tmp/out2")" = "$n" ] || { echo "not all unchanged" >&2; exit 1; }
echo "$backend: the same again (all unchanged): $(rate "$t0" "$t1" "$n")"
[ -z "${BENCH_METRICS:-}" ] || curl -s --unix-socket "$tmp/b.sock" http://localhost/metrics | grep -E '^berth_store_requests_total'

