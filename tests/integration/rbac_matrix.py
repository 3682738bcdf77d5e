#!/usr/bin/env python3
"""RBAC against a running berthd (tests/integration/test_rbac.sh starts it).

Four users hold tokens: alice (edit in namespace dev), bob (group ops, viewer
everywhere), carol (a Role in prod limited to the crontask "nightly" and the
list of tasks), dave (nothing). Each of them tries every verb on tasks,
crontasks and roles in dev and prod through the real endpoint the verb
guards; the answer must match the table below, written out by hand, and
`auth/can-i` must give the same answer for every cell. Then: lists and watch
streams return only what the caller may see, and bad tokens get 401s that
say which.

Usage: rbac_matrix.py SOCKET TCP_PORT SECRETS_OUT (the token secrets, one
per line, for the caller to look for in logs)
"""
import hashlib
import http.client
import json
import secrets
import socket
import sys
import time

SOCK, PORT = sys.argv[1], int(sys.argv[2])
API = "/apis/berth/v1"
VERBS = ["get", "list", "watch", "create", "update", "delete", "logs", "trigger"]
RESOURCES = ["tasks", "crontasks", "roles"]
NAMESPACES = ["dev", "prod"]
OBJECT = {"tasks": "t1", "crontasks": "nightly", "roles": "r1"}

ALL = set(VERBS)
READ = {"get", "list", "watch", "logs"}
# (user) -> {(resource, namespace): allowed verbs}. Written out, not computed.
EXPECT = {
    "alice": {
        ("tasks", "dev"): ALL,
        ("crontasks", "dev"): ALL,
        ("roles", "dev"): {"get", "list", "watch"},
    },
    "bob": {
        ("tasks", "dev"): READ,
        ("tasks", "prod"): READ,
        ("crontasks", "dev"): READ,
        ("crontasks", "prod"): READ,
    },
    "carol": {
        ("tasks", "prod"): {"list"},
        ("crontasks", "prod"): {"get", "list", "watch", "update", "delete", "trigger"},
    },
    "dave": {},
}


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def request(method, path, body=None, token=None, tcp=False, headers=None):
    conn = (http.client.HTTPConnection("127.0.0.1", PORT, timeout=30) if tcp
            else UnixHTTPConnection(SOCK))
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    if "watch=" in path and r.status == 200:
        data = b""  # a stream: the status is the answer; read what is there
        conn.sock.settimeout(0.5)  # the stream never ends: read what is there
        try:
            while True:
                line = r.readline()
                if not line:
                    break
                data += line
        except (socket.timeout, TimeoutError, OSError):
            pass
    else:
        data = r.read()
    conn.close()
    return r.status, data


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def admin(method, path, body=None, ok=(200, 201)):
    status, data = request(method, path, body)
    check(status in ok, f"admin {method} {path}: {status} {data[:300]!r}")
    return json.loads(data) if data else None


def path_of(resource, ns, name=None):
    p = f"{API}/namespaces/{ns}/{resource}" if ns else f"{API}/{resource}"
    return p + (f"/{name}" if name else "")


def manifest(resource, ns, name):
    if resource == "tasks":
        return {"apiVersion": "berth/v1", "kind": "Task", "metadata": {"name": name, "namespace": ns},
                "spec": {"image": "busybox:latest", "command": ["true"]}}
    if resource == "crontasks":
        return {"apiVersion": "berth/v1", "kind": "CronTask",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"schedule": "0 0 1 1 *", "suspend": True,
                         "taskTemplate": {"spec": {"image": "busybox:latest", "command": ["true"]}}}}
    return {"apiVersion": "berth/v1", "kind": "Role", "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"verbs": ["get"], "resources": ["tasks"]}]}}


def ensure(resource, ns, name):
    status, _ = request("GET", path_of(resource, ns, name))
    if status == 404:
        admin("POST", path_of(resource, ns), manifest(resource, ns, name))


def make_token(name, user, groups=(), expires=None):
    secret = secrets.token_urlsafe(32)
    spec = {"user": user, "groups": list(groups),
            "secretHash": "sha256:" + hashlib.sha256(secret.encode()).hexdigest()}
    if expires:
        spec["expirationTimestamp"] = expires
    admin("POST", f"{API}/tokens", {"apiVersion": "berth/v1", "kind": "Token",
                                     "metadata": {"name": name}, "spec": spec})
    return f"{name}.{secret}"


# ---- setup, as admin (root on the unix socket) -----------------------------
for ns in NAMESPACES:
    for res in RESOURCES:
        ensure(res, ns, OBJECT[res])
    ensure("crontasks", ns, "other")

admin("POST", path_of("rolebindings", "dev"), {
    "apiVersion": "berth/v1", "kind": "RoleBinding", "metadata": {"name": "alice-edit", "namespace": "dev"},
    "spec": {"roleRef": {"kind": "ClusterRole", "name": "edit"},
             "subjects": [{"kind": "User", "name": "alice"}]}})
admin("POST", f"{API}/clusterrolebindings", {
    "apiVersion": "berth/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops-view"},
    "spec": {"roleRef": {"kind": "ClusterRole", "name": "viewer"},
             "subjects": [{"kind": "Group", "name": "ops"}]}})
admin("POST", path_of("roles", "prod"), {
    "apiVersion": "berth/v1", "kind": "Role", "metadata": {"name": "nightly-operator", "namespace": "prod"},
    "spec": {"rules": [
        {"verbs": ["get", "list", "watch", "update", "delete", "trigger"], "resources": ["crontasks"],
         "resourceNames": ["nightly"]},
        {"verbs": ["list"], "resources": ["tasks"]}]}})
admin("POST", path_of("rolebindings", "prod"), {
    "apiVersion": "berth/v1", "kind": "RoleBinding", "metadata": {"name": "carol", "namespace": "prod"},
    "spec": {"roleRef": {"kind": "Role", "name": "nightly-operator"},
             "subjects": [{"kind": "User", "name": "carol"}]}})

TOKENS = {
    "alice": make_token("alice", "alice"),
    "bob": make_token("bob", "bob", ["ops"]),
    "carol": make_token("carol", "carol"),
    "dave": make_token("dave", "dave"),
}
with open(sys.argv[3], "w") as f:
    f.write("".join(t.split(".", 1)[1] + "\n" for t in TOKENS.values()))


# ---- the matrix --------------------------------------------------------------
def attempt(user, verb, res, ns):
    """Does verb through its endpoint; returns allowed (True/False) or None when
    the resource has no such endpoint (logs of crontasks and roles)."""
    tok = TOKENS[user]
    name = OBJECT[res]
    if verb == "get":
        status, _ = request("GET", path_of(res, ns, name), token=tok)
    elif verb == "list":
        status, _ = request("GET", path_of(res, ns), token=tok)
    elif verb == "watch":
        status, _ = request("GET", path_of(res, ns) + "?watch=1", token=tok)
    elif verb == "create":
        status, _ = request("POST", path_of(res, ns), manifest(res, ns, f"c-{user}"), token=tok)
        if status == 201:
            admin("DELETE", path_of(res, ns, f"c-{user}"))
    elif verb in ("update", "trigger"):
        obj = admin("GET", path_of(res, ns, name))
        md = obj["metadata"]
        if verb == "update":
            md.setdefault("labels", {})["touched-by"] = user
        else:
            md.setdefault("annotations", {})["berth/trigger"] = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        status, data = request("PUT", path_of(res, ns, name), obj, token=tok)
    elif verb == "delete":
        status, _ = request("DELETE", path_of(res, ns, name), token=tok)
        if status == 200:
            for _ in range(100):  # a Task keeps its finalizer until its container is gone
                if request("GET", path_of(res, ns, name))[0] == 404:
                    break
                time.sleep(0.1)
            ensure(res, ns, name)
    elif verb == "logs":
        if res != "tasks":
            return None
        status, _ = request("GET", path_of(res, ns, name) + "/log", token=tok)
        if status not in (403, 401):
            status = 200  # allowed; the log itself may be empty or not there yet
    check(status in (200, 201, 403), f"{user} {verb} {res} in {ns}: unexpected {status}")
    return status != 403


def can_i(user, verb, res, ns):
    q = f"verb={verb}&resource={res}&namespace={ns}&name={OBJECT[res]}"
    if verb in ("list", "watch", "create"):
        q = f"verb={verb}&resource={res}&namespace={ns}"
    status, data = request("GET", f"{API}/auth/can-i?{q}", token=TOKENS[user])
    check(status == 200, f"can-i {user} {verb} {res} {ns}: {status} {data!r}")
    return json.loads(data)["allowed"]


cells = 0
for user in EXPECT:
    for res in RESOURCES:
        for ns in NAMESPACES:
            allowed = EXPECT[user].get((res, ns), set())
            for verb in VERBS:
                want = verb in allowed
                got = attempt(user, verb, res, ns)
                if got is not None:
                    check(got == want, f"{user} {verb} {res} in {ns}: allowed={got}, expected {want}")
                ci = can_i(user, verb, res, ns)
                check(ci == want, f"can-i {user} {verb} {res} in {ns}: {ci}, expected {want}")
                cells += 1
print(f"matrix: {cells} cells agree (enforcement and can-i)")

# ---- lists and watches show only what the caller may see --------------------
def names(data):
    return sorted(i["metadata"]["namespace"] + "/" + i["metadata"]["name"] for i in json.loads(data)["items"])


status, data = request("GET", f"{API}/crontasks", token=TOKENS["carol"])
check(status == 200 and names(data) == ["prod/nightly"], f"carol's crontasks: {status} {data[:300]!r}")
status, data = request("GET", f"{API}/tasks", token=TOKENS["alice"])
check(status == 200 and all(n.startswith("dev/") for n in names(data)) and names(data),
      f"alice's tasks across namespaces: {status} {data[:300]!r}")
status, data = request("GET", f"{API}/crontasks", token=TOKENS["dave"])
check(status == 403, f"dave lists crontasks: {status}")
status, data = request("GET", f"{API}/crontasks?watch=1", token=TOKENS["carol"])
seen = sorted({json.loads(l)["object"]["metadata"]["namespace"] + "/" + json.loads(l)["object"]["metadata"]["name"]
               for l in data.splitlines() if l.strip()})
check(status == 200 and seen == ["prod/nightly"], f"carol's crontask watch: {status} {seen}")
print("lists and watches: filtered")

# ---- who am I; asking for someone else ---------------------------------------
status, data = request("GET", f"{API}/auth/whoami", token=TOKENS["bob"])
w = json.loads(data)
check(status == 200 and w["user"] == "bob" and w["groups"] == ["ops"] and w["authenticatedBy"] == "token",
      f"whoami: {data!r}")
status, data = request("GET", f"{API}/auth/can-i?verb=delete&resource=tasks&namespace=dev&as=alice")
check(status == 200 and json.loads(data)["allowed"], f"can-i as alice: {data!r}")
status, _ = request("GET", f"{API}/auth/can-i?verb=get&resource=tasks&as=alice", token=TOKENS["bob"])
check(status == 403, f"bob asking as alice: {status}")
status, data = request("GET", f"{API}/auth/can-i?verb=destroy&resource=tasks", token=TOKENS["bob"])
check(status == 400 and b"destroy" in data, f"unknown verb: {status} {data!r}")

# ---- 401s that say which -----------------------------------------------------
def refused(token, want, tcp=True, path=f"{API}/namespaces/dev/tasks"):
    status, data = request("GET", path, token=token, tcp=tcp)
    check(status == 401 and want.encode() in data, f"{token!r:.30}: {status} {data!r}")


refused(None, "no credentials")
refused("alice." + "x" * 43, "invalid bearer token")
refused("nobody." + "x" * 43, "invalid bearer token")
refused("garbage", "malformed Authorization header")
expired = make_token("old", "erin", expires="2020-01-01T00:00:00Z")
refused(expired, "bearer token expired")
obj = admin("GET", f"{API}/tokens/dave")
obj["spec"]["revoked"] = True
admin("PUT", f"{API}/tokens/dave", obj)
refused(TOKENS["dave"], "bearer token revoked")
for path in ["/version", "/metrics", f"{API}/tasks", f"{API}/apply", f"{API}/auth/whoami",
             f"{API}/tokens", f"{API}/namespaces/dev/tasks/t1/log"]:
    refused(None, "no credentials", path=path)
for path in ["/healthz", "/readyz", "/livez"]:
    check(request("GET", path, tcp=True)[0] == 200, f"probe {path} without credentials")
status, _ = request("GET", f"{API}/namespaces/dev/tasks", token=TOKENS["alice"], tcp=True)
check(status == 200, f"alice over TCP: {status}")
print("authentication: ok")

# ---- at most 256 watch streams per user ----------------------------------------
def open_watch(token):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SOCK)
    s.sendall((f"GET {API}/namespaces/prod/crontasks?watch=1 HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode())
    status = s.recv(64).split(b" ")[1]
    return s, int(status)


streams = []
for _ in range(256):
    s, status = open_watch(TOKENS["carol"])
    check(status == 200, f"watch {len(streams) + 1} of carol: {status}")
    streams.append(s)
s, status = open_watch(TOKENS["carol"])
check(status == 429, f"carol's 257th watch: {status}")
s.close()
s, status = open_watch(TOKENS["bob"])
check(status == 200, f"bob's watch beside carol's 256: {status}")
s.close()
for s in streams:
    s.close()
print("watch streams per user: limited to 256")
