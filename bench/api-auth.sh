#!/usr/bin/env bash
# What authentication, TLS and RBAC cost the API, in one run:
#   1. GET .../tasks/NAME over HTTPS with a bearer token against the same
#      over the unix socket as root: requests/s with one keep-alive client
#      and with 8, and the ratio (https / unix)
#   2. the TLS handshake: a new connection's time to a finished handshake
#   3. a list of 10,000 objects: as admin (no RBAC), as a user whose Role
#      allows the whole namespace (one decision), and as one whose Role
#      names 16 objects (a decision per object)
# Clients are curl processes: each sends its requests one after the other
# on one connection.
#
#   bench/api-auth.sh [build dir, default build/release]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}
. bench/lib.sh
port=$((20000 + RANDOM % 20000))
bench_berthd "$bin" "sqlite:%TMP%/berth.db" --leader-elect=false \
  --listen "https://127.0.0.1:$port"
for _ in $(seq 1 50); do [ -f "$tmp/admin.conf" ] && break; sleep 0.1; done
ca=$tmp/tls/ca.crt
admin_token=$(sed -n 's/^token: //p' "$tmp/admin.conf")
berth() { "$bin/berth" "$@"; }

# 10,000 CronTasks (suspended: no containers, no runs) in namespace big,
# and the object the request rate is measured on.
for k in $(seq 0 9); do
  for i in $(seq $((k * 1000 + 1)) $(((k + 1) * 1000))); do
    printf -- '---\napiVersion: berth/v1\nkind: CronTask\nmetadata: {name: c-%d, namespace: big}\nspec: {schedule: "0 0 1 1 *", suspend: true, taskTemplate: {spec: {image: busybox:latest}}}\n' "$i"
  done | berth apply -f - >/dev/null
done
names=$(seq 1 16 | sed 's/^/c-/' | paste -sd, -)
berth apply -f - >/dev/null <<YAML
apiVersion: berth/v1
kind: Role
metadata: {name: all, namespace: big}
spec: {rules: [{verbs: [get, list], resources: [crontasks]}]}
---
apiVersion: berth/v1
kind: Role
metadata: {name: some, namespace: big}
spec: {rules: [{verbs: [get, list], resources: [crontasks], resourceNames: [$names]}]}
---
apiVersion: berth/v1
kind: RoleBinding
metadata: {name: all, namespace: big}
spec: {roleRef: {kind: Role, name: all}, subjects: [{kind: User, name: wide}]}
---
apiVersion: berth/v1
kind: RoleBinding
metadata: {name: some, namespace: big}
spec: {roleRef: {kind: Role, name: some}, subjects: [{kind: User, name: narrow}]}
YAML
wide=$(berth token create wide --user wide)
narrow=$(berth token create narrow --user narrow)

# rate URL-KIND CLIENTS N: requests/s of N GETs per client, CLIENTS at once.
rate() {
  local kind=$1 clients=$2 n=$3 cfg=$tmp/curl-$1.cfg
  {
    if [ "$kind" = https ]; then
      printf 'cacert = "%s"\nheader = "Authorization: Bearer %s"\n' "$ca" "$wide"
      url="https://127.0.0.1:$port/apis/berth/v1/namespaces/big/crontasks/c-1"
    else
      printf 'unix-socket = "%s"\n' "$tmp/b.sock"
      url="http://localhost/apis/berth/v1/namespaces/big/crontasks/c-1"
    fi
    for _ in $(seq 1 "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done
  } >"$cfg"
  local t0 t1
  t0=$(date +%s.%N)
  for _ in $(seq 1 "$clients"); do curl -sf -K "$cfg" & done
  wait
  t1=$(date +%s.%N)
  python3 -c "import sys; print('%.0f' % (int(sys.argv[1]) * int(sys.argv[2]) / (float(sys.argv[4]) - float(sys.argv[3]))))" "$clients" "$n" "$t0" "$t1"
}
for clients in 1 8; do
  u=$(rate unix "$clients" 2000)
  h=$(rate https "$clients" 2000)
  python3 -c "import sys; print('GET crontasks/c-1, %s client(s): unix socket %s req/s, https+token %s req/s, ratio %.2f' % (sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[3]) / int(sys.argv[2])))" "$clients" "$u" "$h"
done

# Handshakes: new connections, one after the other.
for _ in $(seq 1 50); do
  curl -s -o /dev/null --cacert "$ca" -w '%{time_connect} %{time_appconnect}\n' \
    "https://127.0.0.1:$port/healthz"
done | python3 -c '
import sys, statistics
d = [(float(b) - float(a)) * 1000 for a, b in (l.split() for l in sys.stdin)]
print("TLS handshake (TLS 1.3, ECDSA P-256): median %.2f ms, max %.2f ms of %d" % (statistics.median(d), max(d), len(d)))'

# Lists of 10,000: median of 10 each.
list_ms() { # token-or-empty
  local auth=()
  [ -z "$1" ] || auth=(-H "Authorization: Bearer $1")
  for _ in $(seq 1 10); do
    curl -sf -o /dev/null --cacert "$ca" "${auth[@]}" -w '%{time_total}\n' \
      "https://127.0.0.1:$port/apis/berth/v1/namespaces/big/crontasks"
  done | python3 -c 'import sys, statistics; print("%.1f" % (statistics.median(float(l) * 1000 for l in sys.stdin)))'
}
a=$(list_ms "$admin_token")
w=$(list_ms "$wide")
s=$(list_ms "$narrow")
echo "list of 10,000 CronTasks over https: admin (no RBAC) ${a} ms, Role on the namespace ${w} ms, Role naming 16 of them ${s} ms (returns 16)"
