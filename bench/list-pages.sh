#!/usr/bin/env bash
# Paged against whole lists, per store backend, with 10,000 Secrets (cheap:
# nothing runs for them) of about 600 bytes each:
#   1. the whole list in one request (served from the object cache) — total
#      time and time to the first byte, best of 5;
#   2. the same list read in pages of 500 (?limit=500&continue=, read from
#      the store at the first page's revision) — total time of all pages and
#      time to the first page, best of 5;
#   3. berth get secrets (pages of 500) and --chunk-size 0: time to the
#      first printed line and to the last, best of 3;
#   4. gzip: the whole list's bytes and time with and without
#      Accept-Encoding: gzip, best of 5.
#
#   bench/list-pages.sh [sqlite|etcd] [build dir, default build/release]
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=${2:-build/release}
prefix=/bench-$$-$RANDOM/
case "$backend" in
  sqlite) store="sqlite:%TMP%/berth.db" ;;
  etcd) store="etcd://127.0.0.1:2379" ;;
  *) echo "usage: $0 [sqlite|etcd] [build dir]" >&2; exit 2 ;;
esac
bench_cleanup_extra() {
  if [ "$backend" = etcd ]; then
    curl -sf -X POST http://127.0.0.1:2379/v3/kv/deleterange -d "{\"key\":\"$(printf %s "$prefix" | base64 -w0)\",\"range_end\":\"$(printf %s "${prefix%/}0" | base64 -w0)\"}" >/dev/null || true
  fi
}
. bench/lib.sh
bench_berthd "$bin" "$store" --prefix "$prefix" --leader-elect=false

N=10000
PAD=$(head -c 200 /dev/zero | tr '\0' 'p')
for k in $(seq 0 9); do
  for i in $(seq $((k * 1000 + 1)) $(((k + 1) * 1000))); do
    printf -- '---\napiVersion: berth/v1\nkind: Secret\nmetadata:\n  name: s-%05d\n  namespace: bench\n' "$i"
    printf '  labels: {app: bench, shard: "%d"}\n  annotations: {note: "%s"}\nstringData: {k: v}\n' "$k" "$PAD"
  done | "$bin/berth" apply -f - >/dev/null
done

python3 - "$tmp/b.sock" "$N" "$backend" <<'PY'
import http.client, json, socket, sys, time, urllib.parse
sock, n, backend = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = "/apis/berth/v1/namespaces/bench/secrets"

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock)

def get(path, headers={}):
    c = Conn("localhost")
    t0 = time.monotonic()
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    t1 = time.monotonic()  # headers in: the reply has started
    body = r.read()
    t2 = time.monotonic()
    c.close()
    return r, body, t1 - t0, t2 - t0

def best(f, k=5):
    return min((f() for _ in range(k)), key=lambda x: x[0])

def whole():
    r, body, first, total = get(base)
    assert len(json.loads(body)["items"]) == n
    return total, first, len(body)

def paged():
    t0 = time.monotonic()
    token, count, first, pages = None, 0, None, 0
    while True:
        r, body, _, _ = get(base + "?limit=500" + ("&continue=" + urllib.parse.quote(token) if token else ""))
        lst = json.loads(body)
        pages += 1
        if first is None:
            first = time.monotonic() - t0
        count += len(lst["items"])
        token = lst["metadata"].get("continue")
        if not token:
            break
    assert count == n, count
    return time.monotonic() - t0, first, pages

t, f, size = best(whole)
print("%s: whole list of %d objects (%d bytes): %.0f ms, first byte after %.0f ms" % (backend, n, size, t * 1000, f * 1000))
t, f, pages = best(paged)
print("%s: paged by 500 (%d pages): %.0f ms in all, first page after %.0f ms" % (backend, pages, t * 1000, f * 1000))

def gz(enc):
    def run():
        r, body, _, total = get(base, {"Accept-Encoding": enc} if enc else {})
        return total, len(body), r.getheader("Content-Encoding")
    return run
t, size, ce = best(gz(None))
tg, sizeg, ceg = best(gz("gzip"))
assert ce is None and ceg == "gzip", (ce, ceg)
print("%s: whole list plain %d bytes in %.0f ms; gzip %d bytes (%.1f%%) in %.0f ms"
      % (backend, size, t * 1000, sizeg, 100.0 * sizeg / size, tg * 1000))
PY

# berth get: time to the first line and to the end.
python3 - "$bin/berth" "$backend" "$N" <<'PY'
import subprocess, sys, time
berth, backend, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(args):
    t0 = time.monotonic()
    p = subprocess.Popen([berth, "-n", "bench", "get", "secrets"] + args, stdout=subprocess.PIPE)
    p.stdout.readline()  # the header
    p.stdout.readline()  # the first row
    first = time.monotonic() - t0
    rows = 1 + sum(1 for _ in p.stdout)
    p.wait()
    assert rows == n, rows
    return time.monotonic() - t0, first
for args, name in (([], "pages of 500"), (["--chunk-size", "0"], "--chunk-size 0")):
    t, f = min(run(args) for _ in range(3))
    print("%s: berth get secrets (%s): first row after %.0f ms, all %d rows after %.0f ms"
          % (backend, name, f * 1000, n, t * 1000))
PY
