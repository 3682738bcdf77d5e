#!/usr/bin/env bash
# Secrets against the real engine: examples/secrets/db.yaml (a Secret with
# data and stringData, a Task reading it from env, one from a secret
# volume on berthd's tmpfs); a missing key keeps a Task from starting
# (CreateContainerConfigError naming it) until the Secret has it; a
# ciphertext tampered with in the store breaks only its own Secret's Tasks;
# a deleted Task's files go; berthd refuses a corrupt or open key file.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "mounting the secrets tmpfs needs root"
command -v sqlite3 >/dev/null || skip "no sqlite3 CLI"
SECRETS="$T/secrets"
# The tmpfs stays mounted after berthd exits (by design): the test's own.
CLEANUP_LAST='umount -l "$SECRETS" 2>/dev/null || true'
DB="$T/berth.db"
PASSWORD=s3cr3t-hunter2
mkdir -p "$T/manifests/team"
start() { start_berthd --secrets-dir "$SECRETS" --source-root "$T/manifests"; }
start
has "mounted a tmpfs for secret volumes dir=$SECRETS" "$T/berthd.log" || fail "no tmpfs mounted"
[ "$(stat -f -c %T "$SECRETS")" = tmpfs ] || fail "$SECRETS is not a tmpfs"
[ "$(stat -c %a "$T/secrets.key")" = 600 ] || fail "secrets.key mode $(stat -c %a "$T/secrets.key")"
keyid=$(awk '$1 == "v1" {print $2; exit}' "$T/secrets.key")
[ ${#keyid} = 8 ] || fail "secrets.key: $(wc -l <"$T/secrets.key") lines, no key id"

# The latest stored value of a key, as the store holds it.
stored() { sqlite3 "$DB" "SELECT CAST(value AS TEXT) FROM log WHERE key = '$1' ORDER BY rev DESC LIMIT 1"; }

log "apply the example"
berth apply -f "$BERTH_SOURCE_DIR/examples/secrets/db.yaml" >"$T/apply.txt" || fail "apply: $(cat "$T/apply.txt")"
has -x "secret/db created" "$T/apply.txt" || fail "apply said: $(cat "$T/apply.txt")"
berth get secrets | has -E '^db +Opaque ' || fail "get secrets: $(berth get secrets)"

log "reads show values redacted"
berth get secret db -o json >"$T/get.json" || fail "get secret db"
has -F '<redacted>' "$T/get.json" || fail "get secret db: $(cat "$T/get.json")"
berth get secrets | has -E '^db +Opaque +2 ' || fail "get secrets: $(berth get secrets)"
has -F "$PASSWORD" "$T/get.json" && fail "a read shows the password"
has -F 'enc:v1:' "$T/get.json" && fail "a read shows the ciphertext"
berth get secrets -o json | has -F "$PASSWORD" && fail "a list shows the password"
curl -sf --unix-socket "$T/berth.sock" \
  "http://localhost/apis/berth/v1/namespaces/default/secrets/db?showValues=true" >"$T/show.json" ||
  fail "showValues read failed"
has -F "$(printf %s "$PASSWORD" | base64)" "$T/show.json" || fail "showValues: $(cat "$T/show.json")"
berth get secret db --show-values -o json | has -F "$(printf %s "$PASSWORD" | base64)" ||
  fail "berth get --show-values"
berth get secrets --show-values >/dev/null 2>&1 && fail "--show-values on a list was accepted"

log "a value over 1 MiB is refused with 413, nothing stored"
python3 -c 'import json; print(json.dumps({"apiVersion": "berth/v1", "kind": "Secret",
  "metadata": {"name": "huge"}, "stringData": {"blob": "x" * (1024 * 1024 + 1)}}))' >"$T/huge.json"
code=$(curl -s -o "$T/huge.out" -w '%{http_code}' --unix-socket "$T/berth.sock" \
  -H 'Content-Type: application/json' --data-binary @"$T/huge.json" \
  http://localhost/apis/berth/v1/namespaces/default/secrets)
[ "$code" = 413 ] || fail "a 1 MiB value answered $code: $(head -c 300 "$T/huge.out")"
berth get secret huge >/dev/null 2>&1 && fail "the huge Secret was stored"

log "env from a Secret"
berth wait task/db-env --for=condition=Succeeded --timeout=60s ||
  fail "db-env: $(berth get task db-env -o json)"
berth logs task/db-env | has -x "user=admin password=$PASSWORD" ||
  fail "db-env logs: $(berth logs task/db-env)"
has -F "$PASSWORD" "$T/berthd.log" && fail "berthd logged the password"

log "a secret volume"
berth wait task/db-files --for=condition=Succeeded --timeout=60s ||
  fail "db-files: $(berth get task db-files -o json)"
berth logs task/db-files >"$T/files.txt"
has -x "password=$PASSWORD" "$T/files.txt" || fail "db-files logs: $(cat "$T/files.txt")"
has -x "files=password username " "$T/files.txt" || fail "db-files files: $(cat "$T/files.txt")"
has -x "fs=tmpfs" "$T/files.txt" || fail "db-files mount: $(cat "$T/files.txt")"
has -x "mode=400" "$T/files.txt" || fail "db-files mode: $(cat "$T/files.txt")"
cid=$(jget db-files .status.containerID)
src=$(docker inspect "$cid" --format '{{range .Mounts}}{{if eq .Destination "/run/secrets/db"}}{{.Source}} {{.RW}}{{end}}{{end}}')
uid=$(jget db-files .metadata.uid)
[ "$src" = "$SECRETS/$CLUSTER/$uid/0 false" ] || fail "mount source and rw: $src"
[ "$(stat -f -c %T "${src% *}")" = tmpfs ] || fail "mount source is not on a tmpfs"

log "files belong to the container's numeric user"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply as-user"
apiVersion: berth/v1
kind: Task
metadata: {name: as-user}
spec:
  image: busybox:latest
  network: none
  user: "1000:1000"
  volumes: [{secret: db, mountPath: /s}]
  command: [sh, -c, 'echo "$(id -u) $(stat -c %u:%a /s/password) $(cat /s/password)"']
YAML
berth wait task/as-user --for=condition=Succeeded --timeout=60s ||
  fail "as-user: $(berth logs task/as-user 2>&1) $(berth get task as-user -o json)"
[ "$(berth logs task/as-user)" = "1000 1000:400 $PASSWORD" ] || fail "as-user: $(berth logs task/as-user)"

log "an unrelated Task gets none of it"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply plain"
apiVersion: berth/v1
kind: Task
metadata: {name: plain}
spec: {image: busybox:latest, network: none, command: [sh, -c, env]}
YAML
berth wait task/plain --for=condition=Succeeded --timeout=60s || fail "plain"
berth logs task/plain | has -e "$PASSWORD" -e DB_PASSWORD && fail "plain sees the secret"
docker inspect "$(jget plain .status.containerID)" | has -F "$PASSWORD" && fail "plain's config holds it"

log "a missing key, then a missing Secret that appears"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply bad-key"
apiVersion: berth/v1
kind: Task
metadata: {name: bad-key}
spec:
  image: busybox:latest
  network: none
  env: [{name: X, valueFrom: {secretKeyRef: {name: db, key: nope}}}]
YAML
wait_until 30 '[ "$(jget bad-key .status.reason)" = CreateContainerConfigError ]' ||
  fail "bad-key: $(berth get task bad-key -o json)"
[ "$(jget bad-key .status.message)" = 'env X: secret "db" has no key "nope"' ] ||
  fail "bad-key message: $(jget bad-key .status.message)"
[ "$(jget bad-key .status.phase)" = Pending ] || fail "bad-key phase: $(jget bad-key .status.phase)"
[ -z "$(containers_of bad-key)" ] || fail "bad-key has a container"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply late-user"
apiVersion: berth/v1
kind: Task
metadata: {name: late-user}
spec:
  image: busybox:latest
  network: none
  volumes: [{secret: late, mountPath: /s}]
  command: [cat, /s/token]
YAML
wait_until 30 '[ "$(jget late-user .status.message)" = "volume /s: secret \"late\" not found" ]' ||
  fail "late-user: $(berth get task late-user -o json)"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply late"
apiVersion: berth/v1
kind: Secret
metadata: {name: late}
stringData: {token: arrived}
YAML
# Well before the 30 s retry timer: the Secret's event brings the Task back.
berth wait task/late-user --for=condition=Succeeded --timeout=15s ||
  fail "late-user did not start when its Secret appeared: $(berth get task late-user -o json)"
[ "$(berth logs task/late-user)" = arrived ] || fail "late-user logs: $(berth logs task/late-user)"

log "a deleted Task's secret files go"
[ -d "$SECRETS/$CLUSTER/$uid" ] || fail "no secret files for db-files"
berth delete task db-files >/dev/null || fail "delete db-files"
wait_until 30 '[ ! -e "$SECRETS/$CLUSTER/$uid" ]' || fail "db-files' secret files stayed"

log "a Service replica reads a Secret too"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply svc"
apiVersion: berth/v1
kind: Service
metadata: {name: svc}
spec:
  replicas: 1
  template:
    image: busybox:latest
    network: none
    env: [{name: T, valueFrom: {secretKeyRef: {name: late, key: token}}}]
    volumes: [{secret: late, mountPath: /s}]
    command: [sh, -c, 'echo "env=$T file=$(cat /s/token)"; trap "exit 0" TERM; sleep 3600 & wait']
YAML
wait_until 60 'berth logs service/svc 2>/dev/null | has -x "\[svc-0\] env=arrived file=arrived"' ||
  fail "svc: $(berth logs service/svc 2>&1) $(berth get service svc -o json)"
svc_uid=$(berth get service svc -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
[ -d "$SECRETS/$CLUSTER/$svc_uid" ] || fail "no secret files for svc"
berth delete service svc >/dev/null || fail "delete svc"
wait_until 30 '[ ! -e "$SECRETS/$CLUSTER/$svc_uid" ]' || fail "svc's secret files stayed"

log "a Source stores its Secrets sealed, and applies them again unchanged"
cat >"$T/manifests/team/secret.yaml" <<'YAML'
apiVersion: berth/v1
kind: Secret
metadata: {name: from-source}
stringData: {token: source-token-xyz}
YAML
cat >"$T/manifests/team/task.yaml" <<'YAML'
apiVersion: berth/v1
kind: Task
metadata: {name: source-user}
spec:
  image: busybox:latest
  network: none
  env: [{name: T, valueFrom: {secretKeyRef: {name: from-source, key: token}}}]
  command: [sh, -c, 'echo "$T"']
YAML
cat <<YAML | berth apply -f - >/dev/null || fail "apply source"
apiVersion: berth/v1
kind: Source
metadata: {name: team}
spec: {path: $T/manifests/team, debounceMilliseconds: 100}
YAML
berth wait task/source-user --for=condition=Succeeded --timeout=60s ||
  fail "source-user: $(berth get task source-user -o json) $(berth get source team -o json)"
[ "$(berth logs task/source-user)" = source-token-xyz ] || fail "source-user logs"
rv() { berth get secret from-source -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])'; }
before=$(rv)
printf 'apiVersion: berth/v1\nkind: Task\nmetadata: {name: more}\nspec: {image: busybox:latest, network: none}\n' \
  >"$T/manifests/team/zz-more.yaml"
wait_until 30 'berth get task more >/dev/null 2>&1' || fail "the Source did not sync again"
# zz-more.yaml is applied after secret.yaml: that sync went past the Secret.
[ "$(rv)" = "$before" ] || fail "the Secret was written again by an unchanged sync"

log "a tampered ciphertext breaks only its own Secret"
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply tampered and intact"
apiVersion: berth/v1
kind: Secret
metadata: {name: tampered}
stringData: {token: one}
---
apiVersion: berth/v1
kind: Secret
metadata: {name: intact}
stringData: {token: two}
YAML
stop_berthd
# berthd holds the store exclusively: it is read while berthd is down.
stored /berth/secrets/default/from-source | has -F "\"token\":\"enc:v1:$keyid:" ||
  fail "the Source's Secret is not sealed: $(stored /berth/secrets/default/from-source)"
for f in "$DB" "$DB-wal"; do
  [ ! -f "$f" ] || ! grep -a -q -e source-token-xyz -e "$(printf source-token-xyz | base64)" "$f" ||
    fail "$(basename "$f") holds the Source's plain value"
done
log "the store holds Secrets sealed; no log holds a value"
stored /berth/secrets/default/db | has -F "\"password\":\"enc:v1:$keyid:" ||
  fail "password not sealed: $(stored /berth/secrets/default/db)"
for f in "$DB" "$DB-wal" "$T/berthd.log"; do
  [ -f "$f" ] || continue
  if grep -a -q -e "$PASSWORD" -e "$(printf %s "$PASSWORD" | base64)" -e YWRtaW4= "$f"; then
    fail "$(basename "$f") holds a plain value"
  fi
done
python3 - "$DB" "$keyid" <<'PY' || fail "tampering failed"
import base64, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rev, value = db.execute("SELECT rev, value FROM log WHERE key = '/berth/secrets/default/tampered' "
                        "ORDER BY rev DESC LIMIT 1").fetchone()
text = value.decode() if isinstance(value, bytes) else value
obj = json.loads(text)
sealed = obj.get("data", {}).get("token", "")
if sealed.startswith("enc:v1:"):
    prefix, b64 = sealed.rsplit(":", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 1  # one bit of the ciphertext
    obj["data"]["token"] = prefix + ":" + base64.b64encode(bytes(raw)).decode()
else:  # stored as written: put a ciphertext there that cannot open
    obj.pop("stringData", None)
    obj["data"] = {"token": "enc:v1:%s:%s" % (sys.argv[2], base64.b64encode(bytes(40)).decode())}
new = json.dumps(obj, separators=(",", ":"))
db.execute("UPDATE log SET value = ? WHERE rev = ?",
           (new.encode() if isinstance(value, bytes) else new, rev))
db.commit()
PY
start
cat <<'YAML' | berth apply -f - >/dev/null || fail "apply users"
apiVersion: berth/v1
kind: Task
metadata: {name: use-tampered}
spec:
  image: busybox:latest
  network: none
  env: [{name: T, valueFrom: {secretKeyRef: {name: tampered, key: token}}}]
  command: [sh, -c, 'echo "$T"']
---
apiVersion: berth/v1
kind: Task
metadata: {name: use-intact}
spec:
  image: busybox:latest
  network: none
  env: [{name: T, valueFrom: {secretKeyRef: {name: intact, key: token}}}]
  command: [sh, -c, 'echo "$T"']
YAML
berth wait task/use-intact --for=condition=Succeeded --timeout=60s || fail "use-intact"
[ "$(berth logs task/use-intact)" = two ] || fail "use-intact logs: $(berth logs task/use-intact)"
wait_until 30 '[ "$(jget use-tampered .status.reason)" = CreateContainerConfigError ]' ||
  fail "use-tampered: $(berth get task use-tampered -o json)"
jget use-tampered .status.message | has -F "env T: secret \"tampered\": data.token: does not open with key $keyid" ||
  fail "use-tampered message: $(jget use-tampered .status.message)"
[ -z "$(containers_of use-tampered)" ] || fail "use-tampered has a container"
curl -sf --unix-socket "$T/berth.sock" http://localhost/readyz >/dev/null || fail "berthd not ready"

log "berthd refuses a corrupt or open key file"
stop_berthd
cp -p "$T/secrets.key" "$T/secrets.key.good"
refuses() { # what: berthd must exit 1 naming the file
  local rc=0
  timeout 30 "$BERTHD" --store "sqlite:$DB" --data-dir "$T" --listen "unix://$T/refused.sock" \
    --secrets-dir "$SECRETS" >"$T/refused.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$1: berthd exited $rc: $(tail -3 "$T/refused.log")"
  has -F "$2" "$T/refused.log" || fail "$1: $(tail -3 "$T/refused.log")"
  log "refused $1: $(grep -F "$2" "$T/refused.log" | head -1)"
}
printf 'v1 %s c2hvcnQ=\n' "$keyid" >"$T/secrets.key"
refuses "a short key" "cannot load the secrets key file: $T/secrets.key:1: key has 5 bytes, want 32 (AES-256)"
printf 'garbage\n' >"$T/secrets.key"
refuses "a bad line" "$T/secrets.key:1: expected \"v1 <keyid> <base64 key>\""
cp -p "$T/secrets.key.good" "$T/secrets.key"
chmod 644 "$T/secrets.key"
refuses "mode 0644" "$T/secrets.key: mode 0644, must be 0600"
cp -p "$T/secrets.key.good" "$T/secrets.key"
start
berth get secret intact >/dev/null || fail "berthd with its key back"
stop_berthd
log "PASS"
