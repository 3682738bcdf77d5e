#!/usr/bin/env bash
# Paged lists (?limit=, ?continue=), ETag/If-None-Match and gzip:
# - 150 Secrets (cheap: no controller runs anything for them) read in pages
#   of 7 while a background loop creates and deletes other Secrets: every
#   one of the 150 comes exactly once, nothing twice, every page at the
#   first page's revision, and the churn did happen meanwhile;
# - a forged token, a token of another list and a bad limit are 400;
# - the list's ETag answers If-None-Match with 304 and no body;
# - a list over 128 KiB is gzipped for curl --compressed, not without it;
# - berth get --chunk-size 3 prints every object once (table, json), and -w
#   after it watches from the list's revision;
# - a user whom RBAC shows two of the Secrets pages through exactly those;
# - after compaction (berthd restarted with --compact-interval 1s) the old
#   token is 410 Gone telling the client to relist.
source "$(dirname "$0")/lib.sh"
port=$((20000 + RANDOM % 20000))
start_berthd --listen "http://127.0.0.1:$port" --insecure-http

SOCK="$T/berth.sock"
BASE=http://localhost/apis/berth/v1/namespaces/default/secrets
N=150
# Each Secret carries a 1,500-byte annotation so that the whole list is over
# 128 KiB (values are redacted in lists; annotations are not).
PAD=$(head -c 1500 /dev/zero | tr '\0' 'p')
for i in $(seq -w 1 $N); do
  printf -- '---\napiVersion: berth/v1\nkind: Secret\nmetadata:\n  name: keep-%s\n' "$i"
  printf '  labels: {set: keep}\n  annotations: {pad: "%s"}\nstringData: {k: v}\n' "$PAD"
done >"$T/keep.yaml"
berth apply -f "$T/keep.yaml" >/dev/null || fail "apply of $N Secrets"

# ---- churn ---------------------------------------------------------------------
churn() {
  local i=0
  while [ ! -f "$T/stop-churn" ]; do
    i=$((i + 1))
    curl -s -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' \
      --data-binary "{\"apiVersion\":\"berth/v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"churn-$i\"},\"stringData\":{\"k\":\"v\"}}" \
      "$BASE" || true
    [ $i -le 2 ] || curl -s -o /dev/null --unix-socket "$SOCK" -X DELETE "$BASE/churn-$((i - 2))" || true
    echo $i >"$T/churned"
  done
}
churn &
CHURN_PID=$!
CLEANUP_FIRST="touch '$T/stop-churn'; kill $CHURN_PID 2>/dev/null || true"
wait_until 10 '[ -s "$T/churned" ]' || fail "churn did not start"

log "paging with limit=7 during churn"
python3 - "$SOCK" "$N" "$T/churned" >"$T/pages.out" 2>&1 <<'PY' || fail "pagination: $(tail -n 20 "$T/pages.out")"
import http.client, json, socket, sys, time, urllib.parse

sock_path, n, churned = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def churn_count():
    try:
        return int(open(churned).read().strip() or 0)
    except (OSError, ValueError):
        return 0

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock_path)

def get(path):
    c = Conn("localhost")
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    return r.status, body

base = "/apis/berth/v1/namespaces/default/secrets?limit=7"
seen, pages, token, rv = [], 0, None, None
while True:
    path = base + ("&continue=" + urllib.parse.quote(token) if token else "")
    status, body = get(path)
    assert status == 200, (status, body[:300])
    lst = json.loads(body)
    pages += 1
    assert len(lst["items"]) <= 7, len(lst["items"])
    page_rv = lst["metadata"]["resourceVersion"]
    assert rv is None or page_rv == rv, ("snapshot moved", rv, page_rv)
    rv = page_rv
    seen += [o["metadata"]["name"] for o in lst["items"]]
    token = lst["metadata"].get("continue")
    if not token:
        break
    # Let the churn create and delete between every two pages.
    start, deadline = churn_count(), time.monotonic() + 10
    while churn_count() <= start and time.monotonic() < deadline:
        time.sleep(0.01)
    assert churn_count() > start, "the churn stalled"
keep = [s for s in seen if s.startswith("keep-")]
dups = {s for s in seen if seen.count(s) > 1}
assert not dups, ("seen twice", sorted(dups))
want = {"keep-%03d" % i for i in range(1, n + 1)}
assert set(keep) == want, ("missing", sorted(want - set(keep)))
assert seen == sorted(seen), "not in key order"
# The store moved on while we paged: the churn wrote between pages.
status, body = get("/apis/berth/v1/namespaces/default/secrets")
now = json.loads(body)["metadata"]["resourceVersion"]
assert int(now) >= int(rv) + pages - 1, ("no churn during paging", rv, now)
print("pages=%d objects=%d churn-objects-in-snapshot=%d snapshot=%s now=%s"
      % (pages, len(seen), len(seen) - len(keep), rv, now))
PY
log "$(cat "$T/pages.out")"
touch "$T/stop-churn"
wait "$CHURN_PID" 2>/dev/null || true
CLEANUP_FIRST=

# ---- bad tokens and limits ------------------------------------------------------
first=$(curl -sf --unix-socket "$SOCK" "$BASE?limit=5" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["continue"])') ||
  fail "first page"
# A page from the snapshot says how many objects follow it (selectors and
# RBAC applied); the last page has no continue and no count.
total=$(curl -sf --unix-socket "$SOCK" "$BASE" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
rem=$(curl -sf --unix-socket "$SOCK" "$BASE?limit=5" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["remainingItemCount"])') ||
  fail "no remainingItemCount on a first page"
[ "$rem" = $((total - 5)) ] || fail "remainingItemCount $rem of $total objects after a page of 5"
rem=$(curl -sf --unix-socket "$SOCK" "$BASE?limit=5&labelSelector=set%3Dkeep" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["remainingItemCount"])')
[ "$rem" = $((N - 5)) ] || fail "remainingItemCount $rem with a selector (want $((N - 5)))"
last=$(curl -sf --unix-socket "$SOCK" "$BASE?limit=$total" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["metadata"]))')
[ "$last" = "['resourceVersion']" ] || fail "a whole list in one page has metadata $last"
code() { curl -s -o "$T/code.out" -w '%{http_code}' --unix-socket "$SOCK" "$@"; }
forged="${first:0:10}$([ "${first:10:1}" = A ] && echo B || echo A)${first:11}"
c=$(code "$BASE?limit=5&continue=$forged")
[ "$c" = 400 ] || fail "forged token answered $c"
has 'invalid continue token' "$T/code.out" || fail "forged: $(cat "$T/code.out")"
c=$(code "$BASE?limit=5&continue=${first:0:20}")
[ "$c" = 400 ] || fail "truncated token answered $c"
c=$(code "$BASE?limit=5&labelSelector=set%3Dkeep&continue=$first")
[ "$c" = 400 ] || fail "token of another list answered $c"
has 'another list' "$T/code.out" || fail "other list: $(cat "$T/code.out")"
c=$(code "http://localhost/apis/berth/v1/namespaces/prod/secrets?limit=5&continue=$first")
[ "$c" = 400 ] || fail "token of another namespace answered $c"
c=$(code "$BASE?limit=abc")
[ "$c" = 400 ] || fail "limit=abc answered $c"
has 'limit' "$T/code.out" || fail "bad limit: $(cat "$T/code.out")"
# A label selector pages too: every keep- Secret, in pages of up to 40.
python3 - "$SOCK" "$N" <<'PY' || fail "paging with a label selector"
import http.client, json, socket, sys, urllib.parse
sock_path, n = sys.argv[1], int(sys.argv[2])
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock_path)
names, token = [], None
while True:
    c = Conn("localhost")
    c.request("GET", "/apis/berth/v1/namespaces/default/secrets?limit=40&labelSelector=set%3Dkeep"
              + ("&continue=" + urllib.parse.quote(token) if token else ""))
    r = c.getresponse()
    lst = json.loads(r.read())
    assert r.status == 200, lst
    names += [o["metadata"]["name"] for o in lst["items"]]
    token = lst["metadata"].get("continue")
    if not token:
        break
assert len(names) == n and len(set(names)) == n, len(names)
PY

# ---- ETag and If-None-Match -----------------------------------------------------
etag_ok=
for _ in 1 2 3; do
  curl -s -D "$T/h1" -o /dev/null --unix-socket "$SOCK" "$BASE"
  etag=$(awk -F': ' 'tolower($1)=="etag" {print $2}' "$T/h1" | tr -d '\r')
  [ -n "$etag" ] || fail "no ETag on a list: $(cat "$T/h1")"
  c=$(curl -s -D "$T/h2" -o "$T/b2" -w '%{http_code}' -H "If-None-Match: $etag" --unix-socket "$SOCK" "$BASE")
  if [ "$c" = 304 ]; then etag_ok=1; break; fi
  [ "$c" = 200 ] || fail "If-None-Match answered $c"
done
[ -n "$etag_ok" ] || fail "If-None-Match with the list's ETag never answered 304"
[ ! -s "$T/b2" ] || fail "a 304 with a body"
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "1"' --unix-socket "$SOCK" "$BASE")
[ "$c" = 200 ] || fail "an old ETag answered $c"

# ---- gzip -----------------------------------------------------------------------
curl -s --compressed -D "$T/gz.h" -o "$T/gz.json" --unix-socket "$SOCK" "$BASE"
has -i '^content-encoding: gzip' "$T/gz.h" || fail "no gzip for curl --compressed: $(cat "$T/gz.h")"
curl -s -D "$T/plain.h" -o "$T/plain.json" --unix-socket "$SOCK" "$BASE"
has -i '^content-encoding' "$T/plain.h" && fail "gzip without Accept-Encoding"
wire=$(awk -F': ' 'tolower($1)=="content-length" {print $2}' "$T/gz.h" | tr -d '\r')
size=$(stat -c %s "$T/plain.json")
[ "$size" -gt $((128 * 1024)) ] || fail "the list is only $size bytes"
python3 -c '
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert len(a["items"]) == len(b["items"]) >= int(sys.argv[3]), (len(a["items"]), len(b["items"]))
' "$T/gz.json" "$T/plain.json" "$N" || fail "gzipped and plain lists differ"
log "list of $size bytes sent as $wire bytes gzipped"
# A small reply stays plain even when gzip is accepted.
curl -s --compressed -D "$T/small.h" -o /dev/null --unix-socket "$SOCK" "$BASE?limit=3"
has -i '^content-encoding' "$T/small.h" && fail "a small page was gzipped"

# ---- berth get --chunk-size ----------------------------------------------------------
berth get secrets --chunk-size 3 >"$T/get.out" || fail "berth get --chunk-size 3"
[ "$(grep -c '^NAME ' "$T/get.out")" = 1 ] || fail "header not once: $(head -n 3 "$T/get.out")"
[ "$(grep -c '^keep-' "$T/get.out")" = "$N" ] || fail "get did not print $N keep- rows"
[ -z "$(awk '{print $1}' "$T/get.out" | sort | uniq -d)" ] || fail "get printed a row twice"
berth get secrets -l set=keep --chunk-size 7 -o json | python3 -c '
import json, sys
l = json.load(sys.stdin)
names = [o["metadata"]["name"] for o in l["items"]]
assert l["kind"] == "SecretList" and l["metadata"]["resourceVersion"], l["metadata"]
assert len(names) == len(set(names)) == int(sys.argv[1]), len(names)
' "$N" || fail "berth get -o json --chunk-size 7 is not one List of every object"
berth get secrets --chunk-size 0 | has -c '^keep-' || fail "--chunk-size 0"
berth get secrets --chunk-size -1 >/dev/null 2>&1 && fail "--chunk-size -1 accepted"
berth get --help 2>&1 | has -- '--chunk-size' || fail "--help does not document --chunk-size"

# -w after a paged list watches from the list's revision: a new Secret shows.
berth get secrets --chunk-size 50 -w >"$T/watch.out" 2>&1 &
WATCH_PID=$!
CLEANUP_FIRST="kill $WATCH_PID 2>/dev/null || true"
wait_until 20 '[ "$(grep -c "^keep-" "$T/watch.out")" = "$N" ]' || fail "get -w did not list: $(tail -n 3 "$T/watch.out")"
curl -sf -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' \
  --data-binary '{"apiVersion":"berth/v1","kind":"Secret","metadata":{"name":"watched-1"}}' "$BASE" ||
  fail "create watched-1"
wait_until 20 'grep -q "^watched-1 " "$T/watch.out"' || fail "get -w did not show watched-1"
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
CLEANUP_FIRST=

# ---- RBAC filters pages ---------------------------------------------------------------
# A user who may list only two of the Secrets (resourceNames) gets those two, once each:
# pages skip what RBAC hides and keep reading to fill themselves.
cat >"$T/rbac.yaml" <<'YAML'
apiVersion: berth/v1
kind: Role
metadata: {name: two-secrets, namespace: default}
spec:
  rules:
    - verbs: [list]
      resources: [secrets]
      resourceNames: [keep-003, keep-140]
---
apiVersion: berth/v1
kind: RoleBinding
metadata: {name: pager, namespace: default}
spec:
  roleRef: {kind: Role, name: two-secrets}
  subjects:
    - {kind: User, name: pager}
YAML
berth apply -f "$T/rbac.yaml" >/dev/null || fail "apply the Role"
ptoken=$(berth token create pager --user pager --ttl 1h 2>/dev/null) || fail "token create"
python3 - "$port" "$ptoken" <<'PY' || fail "paging as a user RBAC limits"
import http.client, json, sys, urllib.parse
port, token = int(sys.argv[1]), sys.argv[2]
names, tok, pages = [], None, 0
while True:
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/apis/berth/v1/namespaces/default/secrets?limit=7"
              + ("&continue=" + urllib.parse.quote(tok) if tok else ""),
              headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    lst = json.loads(r.read())
    assert r.status == 200, lst
    pages += 1
    names += [o["metadata"]["name"] for o in lst["items"]]
    tok = lst["metadata"].get("continue")
    if not tok:
        break
assert names == ["keep-003", "keep-140"], names
assert pages == 1, pages  # one page scans past what RBAC hides
PY

# ---- an expired token: 410 ----------------------------------------------------------
stop_berthd
start_berthd --compact-interval 1s
old=$(curl -sf --unix-socket "$SOCK" "$BASE?limit=5" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["continue"])') ||
  fail "first page after restart"
for i in 1 2 3; do
  curl -sf -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' \
    --data-binary "{\"apiVersion\":\"berth/v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"later-$i\"}}" \
    "$BASE" || fail "create later-$i"
done
wait_until 15 "[ \"\$(code '$BASE?limit=5&continue=$old')\" = 410 ]" ||
  fail "the token did not expire after compaction: $(cat "$T/code.out")"
has 'relist' "$T/code.out" || fail "410 does not say relist: $(cat "$T/code.out")"
has '"reason":"Expired"' "$T/code.out" || fail "410 reason: $(cat "$T/code.out")"
# A fresh list works.
c=$(code "$BASE?limit=5")
[ "$c" = 200 ] || fail "a first page after compaction answered $c"
log "PASS"
