#!/usr/bin/env bash
# The API's door: the audit log (a create, a delete, refused requests), the
# rate limit (429 with Retry-After), a slow client that does not hold up
# others, a trickled request head cut off at --request-header-timeout, a head
# over 64 KiB answered 431, and a unix socket peer that is neither root nor in
# the socket's group.
source "$(dirname "$0")/lib.sh"
SOCK="$T/berth.sock"
AUDIT="$T/audit.log"
start_berthd --audit-log "$AUDIT" --rate-limit 5 --request-header-timeout 6s
API=http://localhost/apis/berth/v1/namespaces/default/tasks

audit_has() { # verb code [name]: prints the matching lines
  python3 - "$AUDIT" "$@" <<'PY'
import json, sys
path, verb, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
name = sys.argv[4] if len(sys.argv) > 4 else None
keys = ["time", "user", "groups", "source", "verb", "resource", "namespace", "name", "code", "requestID"]
found = 0
for line in open(path):
    e = json.loads(line)
    assert list(e) == keys, f"fields {list(e)}"
    if e["verb"] == verb and e["code"] == code and (name is None or e["name"] == name):
        print(line, end="")
        found += 1
sys.exit(0 if found else 1)
PY
}

# ---- audit: create and delete ------------------------------------------------
code=$(curl -s -o "$T/created" -D "$T/h-create" -w '%{http_code}' --unix-socket "$SOCK" \
  -H 'Content-Type: application/yaml' --data-binary @"$BERTH_SOURCE_DIR/examples/hello/task.yaml" "$API")
[ "$code" = 201 ] || fail "create answered $code: $(cat "$T/created")"
rid=$(tr -d '\r' <"$T/h-create" | sed -n 's/^X-Request-Id: //Ip')
[ -n "$rid" ] || fail "no X-Request-Id on the create reply"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X DELETE "$API/hello")
[ "$code" = 200 ] || [ "$code" = 202 ] || fail "delete answered $code"
line=$(audit_has create 201 hello) || fail "no audit line for the create: $(cat "$AUDIT")"
echo "$line" | has "\"requestID\":\"$rid\"" || fail "create's audit line lacks its request id: $line"
echo "$line" | has -E '"user":"system:admin","groups":\["system:admins"\],"source":"unix:pid=[0-9]+,uid=0"' ||
  fail "create's audit line identity: $line"
echo "$line" | has '"resource":"tasks","namespace":"default"' || fail "create's audit resource: $line"
audit_has delete "$code" hello >/dev/null || fail "no audit line for the delete: $(cat "$AUDIT")"
grep -q 'apiVersion\|spec' "$AUDIT" && fail "the audit log holds a request body"
# Reads are not audited.
curl -sf -o /dev/null --unix-socket "$SOCK" "$API" || fail "list"
audit_has list 200 >/dev/null && fail "a read was audited"

# ---- rate limit: 5/s, burst 10 -------------------------------------------------
sleep 2.5 # the bucket refills
urls=()
for _ in $(seq 1 30); do urls+=("$API"); done
codes=$(curl -s -o /dev/null -D "$T/h-burst" -w '%{http_code}\n' --unix-socket "$SOCK" "${urls[@]}")
n429=$(echo "$codes" | grep -c '^429$' || true)
n200=$(echo "$codes" | grep -c '^200$' || true)
log "burst of 30 at --rate-limit 5: $n200 answered 200, $n429 answered 429"
[ "$n200" -ge 10 ] && [ "$n200" -le 14 ] || fail "burst: $n200 answered 200 (want the burst of 10, a few refills)"
[ $((n200 + n429)) = 30 ] || fail "burst codes: $codes"
tr -d '\r' <"$T/h-burst" | grep -qx 'Retry-After: 1' || fail "no Retry-After: 1 on a 429"
body=$(curl -s --unix-socket "$SOCK" "$API")
echo "$body" | has '"reason":"TooManyRequests"' || fail "429 body: $body"
[ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/healthz)" = 200 ] ||
  fail "/healthz is rate limited"
n=$(audit_has list 429 | wc -l) || fail "no audit line for a 429"
[ "$n" -ge "$n429" ] || fail "$n429 answered 429 but $n audited"

# ---- a slow client does not hold up the others ----------------------------------
sleep 2.5
python3 - "$SOCK" >"$T/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
for b in b"GET /apis/berth/v1/namespaces/default/tasks HTTP/1.1\r\nHost: x\r\n\r\n":
    s.send(bytes([b]))
    time.sleep(1)
print("slow client done:", s.recv(100))
PY
SLOW=$!
CLEANUP_FIRST="kill $SLOW 2>/dev/null || true"
sleep 1.5
worst=0
for _ in $(seq 1 5); do
  t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --unix-socket "$SOCK" "$API")
  [ "${t% *}" = 200 ] || fail "request beside the slow client answered ${t% *}"
  us=$(python3 -c "print(int(float('${t#* }') * 1000000))")
  [ "$us" -gt "$worst" ] && worst=$us
  sleep 0.3
done
kill -0 "$SLOW" 2>/dev/null || fail "the slow client finished early: $(cat "$T/slow.out")"
log "beside a client sending one byte per second: slowest of 5 requests took ${worst} us"
[ "$worst" -lt 100000 ] || fail "a request took ${worst} us beside the slow client"
kill "$SLOW" 2>/dev/null || true
wait "$SLOW" 2>/dev/null || true
CLEANUP_FIRST=

# ---- a head trickled byte by byte is cut off at --request-header-timeout ------------
python3 - "$SOCK" <<'PY' || fail "slowloris: see above"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
t0 = time.monotonic()
s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
try:
    while time.monotonic() - t0 < 20:
        s.send(b"X")  # one header byte every half second, never the end of the head
        s.settimeout(0.5)
        try:
            if s.recv(100) == b"":
                break
        except socket.timeout:
            pass
except (BrokenPipeError, ConnectionResetError):
    pass
took = time.monotonic() - t0
print("slowloris: closed after %.1f s" % took, file=sys.stderr)
sys.exit(0 if 5.5 <= took <= 10 else 1)
PY
# A head that arrives in time, even slowly, is served.
python3 - "$SOCK" <<'PY' || fail "a slow but timely head was not served"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
    s.send(part)
    time.sleep(1)
sys.exit(0 if s.recv(100).startswith(b"HTTP/1.1 200") else 1)
PY
grep -q "request head took over 6000 ms" "$T/berthd.log" || fail "no log line for the slowloris"
# The deadline is the head's only: a watch outlives it, also when its whole
# request was already waiting at the accept (read before the guard's attach:
# berthd is stopped while the clients connect and send).
sleep 1 # the rate limit's bucket refills
kill -STOP "$BERTHD_PID"
python3 - "$SOCK" 9 >"$T/watch-outlives.out" 2>&1 <<'PY' &
import select, socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
socks = []
for _ in range(3):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"GET /apis/berth/v1/namespaces/default/tasks?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
end = time.time() + seconds
while time.time() < end:
    ready, _, _ = select.select(socks, [], [], max(0, end - time.time()))
    for s in ready:
        if not s.recv(65536):
            sys.exit(f"a watch was closed after {seconds - (end - time.time()):.1f} s")
print("3 watches open after", seconds, "s")
PY
watchers=$!
sleep 0.5
kill -CONT "$BERTHD_PID"
wait "$watchers" || fail "the header timeout cut a watch: $(cat "$T/watch-outlives.out")"

# ---- a head over 64 KiB: 431 with a Status body, and the connection closes -----------
python3 - "$SOCK" >"$T/431.out" <<'PY' || fail "431: $(cat "$T/431.out")"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /apis/berth/v1/namespaces/default/tasks HTTP/1.1\r\nHost: x\r\n" +
          b"X-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n")
s.settimeout(5)
reply = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
print(reply.decode(errors="replace"))
head, _, body = reply.partition(b"\r\n\r\n")
sys.exit(0 if head.startswith(b"HTTP/1.1 431 ") and b"Content-Type: application/json" in head
         and b'"code":431' in body and b"exceed 65536 bytes" in body else 1)
PY
# Under the limit is served as before.
big=$(head -c 60000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -H "X-Big: $big" "$API")
[ "$code" = 200 ] || fail "a 60 KB header answered $code"

# ---- a unix peer that is neither root nor in the socket's group ------------------
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
chmod 0711 "$T"
rc=0
as_nobody curl -s -o /dev/null --unix-socket "$SOCK" http://localhost/healthz || rc=$?
[ "$rc" = 7 ] || fail "nobody could connect to the 0660 root:root socket (curl exit $rc)"
chmod 0666 "$SOCK"
body=$(as_nobody curl -s -w '\n%{http_code}' --unix-socket "$SOCK" "$API")
[ "$(echo "$body" | tail -n1)" = 401 ] || fail "nobody was answered: $body"
echo "$body" | has '"reason":"Unauthorized"' || fail "401 body: $body"
echo "$body" | has "unix socket peer uid 65534 is neither root nor in the socket's group root" ||
  fail "401 message: $body"
for p in healthz livez readyz; do
  code=$(as_nobody curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" "http://localhost/$p")
  [ "$code" = 200 ] || fail "nobody got $code from /$p"
done
code=$(as_nobody curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X DELETE "$API/x")
[ "$code" = 401 ] || fail "nobody's DELETE answered $code"
line=$(audit_has list 401) || fail "no audit line for the 401: $(tail -n 3 "$AUDIT")"
echo "$line" | has -E '"user":"system:anonymous","groups":\[\],"source":"unix:pid=[0-9]+,uid=65534"' ||
  fail "401 audit line: $line"
audit_has delete 401 x >/dev/null || fail "no audit line for nobody's DELETE"

stop_berthd
log "PASS"
