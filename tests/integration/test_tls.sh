#!/usr/bin/env bash
# HTTPS listeners. With no certificate given, berthd makes a CA and a server
# certificate under <data-dir>/tls, an admin token and <data-dir>/admin.conf.
# The listener speaks TLS 1.2 and 1.3 only (the server itself refuses 1.0
# and 1.1), only the intermediate profile's ciphers, no compression;
# /healthz answers over it; a client certificate of the generated CA is
# accepted, one of another CA fails the handshake. With --tls-cert/--tls-key,
# SIGHUP swaps in new files for new connections while an open connection
# keeps working, and a bad file on SIGHUP is logged while the old
# certificate stays in use.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"
command -v sslscan >/dev/null || skip "no sslscan (scripts/setup.sh installs it)"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
url="https://127.0.0.1:$port"
tls=$T/tls

# s_client against the listener, verifying against a CA; extra flags follow.
# Exit status: s_client's (0 once the handshake succeeded and stdin ended).
handshake() {
  local ca=$1; shift
  timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -CAfile "$ca" -verify_return_error "$@" </dev/null 2>&1
}
# The serial of the certificate the listener serves now.
served_serial() {
  timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null \
    2>/dev/null | openssl x509 -noout -serial | sed 's/^serial=//' | tr 'a-f' 'A-F'
}
mode() { stat -c %a "$1"; }
new_key_csr() { # out-prefix subject
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "$2" -out "$1.csr" 2>/dev/null
}
sign() { # csr-prefix ca-prefix serial-hex extensions
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -set_serial "0x$3" -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
new_ca() { # out-prefix CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -out "$1.crt" -subj "/CN=$2" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# ---- generated certificates ----------------------------------------------------

start_berthd --listen "$url"
for f in ca.crt ca.key server.crt server.key admin.token; do
  [ -f "$tls/$f" ] || fail "berthd did not make $tls/$f"
done
[ "$(mode "$tls")" = 700 ] || fail "$tls has mode $(mode "$tls"), want 700"
for f in ca.key server.key admin.token; do
  [ "$(mode "$tls/$f")" = 600 ] || fail "$tls/$f has mode $(mode "$tls/$f"), want 600"
done
[ "$(mode "$T/admin.conf")" = 600 ] || fail "admin.conf has mode $(mode "$T/admin.conf")"
token=$(cat "$tls/admin.token")
[[ $token =~ ^berth-admin\.[A-Za-z0-9_-]{43}$ ]] ||
  fail "admin token is not berth-admin. and 43 characters of base64url (${#token} characters)"
has -Fx "server: $url" "$T/admin.conf" || fail "admin.conf: $(grep -v token "$T/admin.conf")"
has -Fx "certificate-authority: $(realpath "$tls")/ca.crt" "$T/admin.conf" ||
  fail "admin.conf has no certificate-authority line for $tls/ca.crt"
has -Fx "token: $token" "$T/admin.conf" || fail "admin.conf does not hold the admin token"
log "generated: CA, server certificate, admin token, admin.conf"

# Handshakes that verify against the generated CA, by name and by address.
for v in -tls1_2 -tls1_3; do
  out=$(handshake "$tls/ca.crt" "$v") || fail "s_client $v failed: $out"
  has -F "Verify return code: 0 (ok)" <<<"$out" || fail "s_client $v did not verify: $out"
  want=TLSv1.2
  [ "$v" = -tls1_3 ] && want=TLSv1.3
  has -F "New, $want, Cipher is" <<<"$out" || fail "s_client $v: not $want: $out"
  has -Fx "Compression: NONE" <<<"$out" || fail "s_client $v: compression: $out"
done
out=$(handshake "$tls/ca.crt" -verify_ip 127.0.0.1) || fail "IP SAN 127.0.0.1 does not verify: $out"
out=$(handshake "$tls/ca.crt" -verify_hostname localhost) || fail "SAN localhost does not verify: $out"
log "TLS 1.2 and 1.3 handshakes verify against ca.crt"

# TLS 1.0 and 1.1: the client is told to allow them (security level 0), so the
# refusal is the server's: a protocol_version alert.
for v in -tls1 -tls1_1; do
  if out=$(handshake "$tls/ca.crt" "$v" -cipher 'DEFAULT:@SECLEVEL=0'); then
    fail "s_client $v succeeded: $out"
  fi
  has -F "alert protocol version" <<<"$out" ||
    fail "s_client $v failed, but not by the server's protocol_version alert: $out"
done
log "TLS 1.0 and 1.1 refused by the server"

scan=$(timeout 120 sslscan --no-colour "127.0.0.1:$port" 2>&1) || fail "sslscan failed: $scan"
python3 - "$scan" <<'EOF' || fail "sslscan: $scan"
import re, sys
scan = sys.argv[1]
protocols = dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", scan, re.M))
want = {"SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled",
        "TLSv1.1": "disabled", "TLSv1.2": "enabled", "TLSv1.3": "enabled"}
for p, state in want.items():
    # sslscan leaves out what its own OpenSSL cannot speak (SSLv2): absent is not enabled.
    got = protocols.get(p, "disabled" if p.startswith("SSL") else None)
    if got != state:
        sys.exit(f"{p}: {got}, want {state}")
# An sslscan whose OpenSSL has no zlib cannot offer compression: neither can
# the server on the same library (s_client's "Compression: NONE" is checked too).
if not re.search(r"^(Compression disabled|OpenSSL version does not support compression)",
                 scan, re.M):
    sys.exit("compression not reported disabled")
allowed = {
    "TLSv1.3": {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"},
    "TLSv1.2": {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
}
ciphers = re.findall(r"^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)", scan, re.M)
if not ciphers:
    sys.exit("no ciphers found in the output")
for proto, cipher in ciphers:
    if cipher not in allowed.get(proto, set()):
        sys.exit(f"cipher {cipher} accepted over {proto}")
if not any(p == "TLSv1.2" for p, _ in ciphers) or not any(p == "TLSv1.3" for p, _ in ciphers):
    sys.exit("want ciphers of both TLSv1.2 and TLSv1.3")
groups = re.findall(r"^TLSv1\.[23]\s+\d+ bits\s+(\S+)", scan, re.M)
for g in groups:
    if g not in ("x25519", "secp256r1", "secp384r1"):
        sys.exit(f"key exchange group {g} accepted")
print(f"{len(ciphers)} cipher suites, groups {sorted(set(groups))}", file=sys.stderr)
EOF
log "sslscan: TLS 1.2/1.3 only, no compression, only the allowed ciphers and groups"

[ "$(curl -sS --cacert "$tls/ca.crt" "$url/healthz")" = ok ] || fail "no /healthz over HTTPS"
[ "$(curl -sS --cacert "$tls/ca.crt" "https://localhost:$port/healthz")" = ok ] ||
  fail "no /healthz over HTTPS by the name localhost"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$tls/ca.crt" "$url/version") ||
  fail "GET /version over HTTPS: no answer"
case "$code" in 200 | 401) ;; *) fail "GET /version over HTTPS answered $code" ;; esac
log "curl: /healthz ok, /version $code"
# The guard sees decrypted heads as well: one over 64 KiB answers 431.
big=$(head -c 70000 /dev/zero | tr '\0' a)
code=$(curl -sS -o "$T/431.json" -w '%{http_code}' --cacert "$tls/ca.crt" -H "X-Big: $big" "$url/healthz") ||
  fail "a 70 KB header over HTTPS: no answer"
[ "$code" = 431 ] && has '"code":431' "$T/431.json" || fail "a 70 KB header over HTTPS answered $code: $(cat "$T/431.json")"

# Client certificates: one of the generated CA is accepted; another CA's fails
# the handshake (TLS 1.2: before it ends; TLS 1.3: on the first read).
mkdir -p "$T/client"
cd "$T/client"
new_key_csr alice "/O=dev/CN=alice"
sign alice "$tls/ca" "$(openssl rand -hex 16)" \
  $'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
new_ca other "other CA"
new_key_csr mallory "/O=dev/CN=mallory"
sign mallory other "$(openssl rand -hex 16)" \
  $'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
cd - >/dev/null

for v in -tls1_2 -tls1_3; do
  out=$(handshake "$tls/ca.crt" "$v" -cert "$T/client/alice.crt" -key "$T/client/alice.key") ||
    fail "alice's certificate ($v) refused: $out"
done
[ "$(curl -sS --cacert "$tls/ca.crt" --cert "$T/client/alice.crt" --key "$T/client/alice.key" \
  "$url/healthz")" = ok ] || fail "/healthz with alice's certificate"
who=$(curl -sS --cacert "$tls/ca.crt" --cert "$T/client/alice.crt" --key "$T/client/alice.key" \
  -w '\n%{http_code}' "$url/apis/berth/v1/auth/whoami") || fail "whoami with alice's certificate"
case "$(tail -n1 <<<"$who")" in
  200) has -F '"alice"' <<<"$who" && has -F '"dev"' <<<"$who" || fail "whoami: $who" ;;
  *) log "whoami answered $(tail -n1 <<<"$who") (not there yet): identity not checked" ;;
esac
if out=$(handshake "$tls/ca.crt" -tls1_2 -cert "$T/client/mallory.crt" \
  -key "$T/client/mallory.key"); then
  fail "a certificate of another CA passed the TLS 1.2 handshake: $out"
fi
has -iE "alert unknown ca|certificate verify failed|alert bad certificate" <<<"$out" ||
  fail "mallory's TLS 1.2 handshake failed for another reason: $out"
if out=$(curl -sS --cacert "$tls/ca.crt" --cert "$T/client/mallory.crt" \
  --key "$T/client/mallory.key" "$url/healthz" 2>&1); then
  fail "a certificate of another CA was served over curl: $out"
fi
log "client certificates: the CA's accepted, another CA's refused ($out)"

kill -HUP "$BERTHD_PID"
wait_until 10 "grep -q 'tls reloaded' '$T/berthd.log'" || fail "no 'tls reloaded' after SIGHUP"
kill -0 "$BERTHD_PID" || fail "berthd stopped on SIGHUP"
[ "$(curl -sS --cacert "$tls/ca.crt" "$url/healthz")" = ok ] || fail "no /healthz after SIGHUP"
stop_berthd
log "SIGHUP reloads the generated certificate"

# A second start finds everything in place and keeps it.
before=$(cat "$tls/server.crt" "$T/admin.conf" | sha256sum)
port=$(free_port)
url="https://127.0.0.1:$port"
start_berthd --listen "$url"
[ "$(cat "$tls/server.crt" "$T/admin.conf" | sha256sum)" = "$before" ] ||
  fail "a second start changed server.crt or admin.conf"
stop_berthd

# ---- given certificate files, rotated with SIGHUP -------------------------------

own=$T/own
mkdir -p "$own"
cd "$own"
new_ca ca "own CA"
server_ext=$'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'
# 16 bytes with the top bit clear and a first byte that is not 0: printed as
# given, all 32 digits.
serial1=4$(openssl rand -hex 16 | cut -c2- | tr 'a-f' 'A-F')
serial2=5$(openssl rand -hex 16 | cut -c2- | tr 'a-f' 'A-F')
new_key_csr one "/CN=localhost"
sign one ca "$serial1" "$server_ext"
new_key_csr two "/CN=localhost"
sign two ca "$serial2" "$server_ext"
cp one.crt server.crt
cp one.key server.key
cd - >/dev/null

port=$(free_port)
url="https://127.0.0.1:$port"
start_berthd --listen "$url" --tls-cert "$own/server.crt" --tls-key "$own/server.key"
[ "$(served_serial)" = "$serial1" ] || fail "served $(served_serial), want $serial1"
out=$(handshake "$own/ca.crt" -tls1_3) || fail "handshake with the given certificate: $out"

# A keep-alive connection opened before the reload, fed through a fifo.
mkfifo "$T/conn.in"
timeout 60 openssl s_client -connect "127.0.0.1:$port" -servername localhost -quiet \
  <"$T/conn.in" >"$T/conn.out" 2>"$T/conn.err" &
conn_pid=$!
exec 7>"$T/conn.in"
CLEANUP_FIRST='exec 7>&-; kill "$conn_pid" 2>/dev/null || true'
request=$'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'
printf '%s' "$request" >&7
wait_until 10 "[ \$(grep -c 'HTTP/1.1 200' '$T/conn.out') = 1 ]" ||
  fail "no answer on the kept-alive connection: $(cat "$T/conn.out" "$T/conn.err")"

cp "$own/two.key" "$own/server.key.new"
cp "$own/two.crt" "$own/server.crt.new"
mv "$own/server.key.new" "$own/server.key"
mv "$own/server.crt.new" "$own/server.crt"
kill -HUP "$BERTHD_PID"
wait_until 10 "grep -q 'tls reloaded' '$T/berthd.log'" || fail "no 'tls reloaded' after SIGHUP"
kill -0 "$BERTHD_PID" || fail "berthd stopped on SIGHUP"
[ "$(served_serial)" = "$serial2" ] || fail "after SIGHUP: $(served_serial), want $serial2"
printf '%s' "$request" >&7
wait_until 10 "[ \$(grep -c 'HTTP/1.1 200' '$T/conn.out') = 2 ]" ||
  fail "the connection opened before SIGHUP stopped answering: $(cat "$T/conn.out" "$T/conn.err")"
kill -0 "$conn_pid" 2>/dev/null || fail "the connection opened before SIGHUP was closed"
# s_client -quiet ignores the end of its input: stop it here.
exec 7>&-
kill "$conn_pid" 2>/dev/null || true
wait "$conn_pid" 2>/dev/null || true
CLEANUP_FIRST=
log "SIGHUP: new connections get serial $serial2, the open one still answers"

# A bad file on SIGHUP: logged, the old certificate stays, berthd runs on.
printf 'not a certificate\n' >"$own/server.crt"
kill -HUP "$BERTHD_PID"
wait_until 10 "grep -q 'tls reload failed: --tls-cert $own/server.crt' '$T/berthd.log'" ||
  fail "no error logged for a bad certificate on SIGHUP"
kill -0 "$BERTHD_PID" || fail "berthd stopped on a bad certificate"
[ "$(served_serial)" = "$serial2" ] || fail "after a failed reload: $(served_serial)"
[ "$(curl -sS --cacert "$own/ca.crt" "$url/healthz")" = ok ] || fail "no /healthz after a bad reload"
stop_berthd
log "ok"
