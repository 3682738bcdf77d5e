#!/usr/bin/env python3
"""Server-Sent Events against a running berthd (driven by test_sse.sh).

A minimal SSE client over berthd's unix socket (HTTP/1.1, chunked or not)
and the scenarios that need one:

  resume SOCK NS       watch tasks over SSE, disconnect in the middle of the
                       changes, resume with Last-Event-ID: no event lost,
                       none repeated (checked against an NDJSON watch that
                       saw everything), heartbeats on the idle stream
  expired SOCK NS REV  Last-Event-ID REV is older than the history: an
                       "error" event (410, Expired), then the end
  batch SOCK NS N      (etcd) N Secrets applied in one batch share one
                       revision: only the last event of it carries the id;
                       a client cut off inside the revision resumes from
                       the id it last saw and gets all N
  log SOCK NS TASK QUERY WANT
                       a Task's log over SSE (QUERY: "?follow=true" or ""):
                       one event per line, the lines WANT (JSON), then "end"

Prints what it checked; exits 1 with the reason on the first failure.
"""
import json
import os
import socket
import subprocess
import sys
import time


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class SSE:
    """One GET with Accept: text/event-stream; events() yields
    (kind, fields) with kind "event" or "comment" as they arrive."""

    def __init__(self, sock_path, path, headers=None, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(sock_path)
        lines = ["GET %s HTTP/1.1" % path, "Host: localhost",
                 "Accept: text/event-stream"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""
        self.body = b""
        self.last_id = None  # what an EventSource would send as Last-Event-ID
        self.ended = False
        head = self._until(b"\r\n\r\n")
        status_line, *hdrs = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for h in hdrs:
            k, _, v = h.partition(":")
            self.headers.setdefault(k.strip().lower(), v.strip())
        self.chunked = self.headers.get("transfer-encoding", "") == "chunked"
        self.length = int(self.headers.get("content-length", "-1"))

    def _recv(self):
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            fail("no data for %ss" % self.s.gettimeout())
        if not b:
            self.ended = True
        self.raw += b
        return bool(b)

    def _until(self, sep):
        while sep not in self.raw:
            if not self._recv():
                fail("connection closed before %r" % sep)
        out, _, self.raw = self.raw.partition(sep)
        return out

    def _more_body(self):
        """Moves the next piece of the body into self.body; False at its end."""
        if not self.chunked:
            if self.length >= 0 and len(self.body) >= self.length:
                return False
            if not self.raw and not self._recv():
                return False
            self.body += self.raw
            self.raw = b""
            return True
        size_line = self._until(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            return False
        while len(self.raw) < n + 2:
            if not self._recv():
                fail("connection closed inside a chunk")
        self.body += self.raw[:n]
        self.raw = self.raw[n + 2:]
        return True

    def events(self):
        """Parses the stream as the WHATWG spec says (LF line ends here)."""
        fields = {}
        while True:
            while b"\n" not in self.body:
                if not self._more_body():
                    return
            line, _, self.body = self.body.partition(b"\n")
            line = line.decode()
            if line == "":
                if "id" in fields:
                    self.last_id = fields["id"]
                # An id alone moves the last event id and dispatches nothing.
                if fields and list(fields) != ["id"]:
                    yield "event", fields
                fields = {}
                continue
            if line.startswith(":"):
                yield "comment", line[1:].strip()
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                fields["data"] = fields["data"] + "\n" + value if "data" in fields else value
            else:
                fields[name] = value

    def close(self):
        self.s.close()


def berth(*args):
    r = subprocess.run([BERTH, *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail("berth %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def ndjson_watch(sock_path, path):
    """An NDJSON watch (the reference), as a generator of events."""
    s = SSE.__new__(SSE)
    s.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.s.settimeout(60)
    s.s.connect(sock_path)
    s.s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
    s.raw = b""
    s.body = b""
    s.ended = False
    s._until(b"\r\n\r\n")
    s.chunked = True
    while True:
        while b"\n" not in s.body:
            if not s._more_body():
                return
        line, _, s.body = s.body.partition(b"\n")
        yield json.loads(line)


def task_yaml(name, cmd):
    return json.dumps({"apiVersion": "berth/v1", "kind": "Task",
                       "metadata": {"name": name},
                       "spec": {"image": "busybox:latest", "command": ["sh", "-c", cmd],
                                "network": "none"}})


def initial_state(stream):
    """Reads past retry and the initial state; returns the list's revision."""
    ev = stream.events()
    for kind, f in ev:
        if kind == "event" and f.get("event") == "BOOKMARK":
            return ev, int(f["id"])
    fail("no end of the initial state")


def check_batch(sock_path, ns, n):
    base = "/apis/berth/v1/namespaces/%s/secrets" % ns
    first = SSE(sock_path, base)
    ev, list_rev = initial_state(first)
    names = ["batch-%02d" % i for i in range(n)]
    with open(TMP + "/sse-batch.json", "w") as fh:
        fh.write("\n---\n".join(json.dumps({"apiVersion": "berth/v1", "kind": "Secret",
                                            "metadata": {"name": nm},
                                            "stringData": {"k": "v"}}) for nm in names))
    berth("apply", "-f", TMP + "/sse-batch.json")

    got = []
    for kind, f in ev:
        if kind != "event" or f.get("event") != "ADDED":
            continue
        obj = json.loads(f["data"])
        got.append((obj["metadata"]["name"], int(obj["metadata"]["resourceVersion"]),
                    f.get("id")))
        if len(got) == n:
            break
    first.close()
    revs = {r for _, r, _ in got}
    if sorted(nm for nm, _, _ in got) != names or len(revs) != 1:
        fail("the batch did not come as one revision: %r" % got)
    rev = revs.pop()
    ids = [i for _, _, i in got]
    if ids[:-1] != [None] * (n - 1) or ids[-1] != str(rev):
        fail("ids inside the revision (want only the last, %d): %r" % (rev, ids))
    print("%d objects at revision %d: only the last event has the id" % (n, rev))

    # Cut off inside the revision: the client's last id is still the list's.
    cut = SSE(sock_path, base + "?resourceVersion=%d" % list_rev)
    seen = 0
    for kind, f in cut.events():
        if kind == "event" and f.get("event") == "ADDED":
            seen += 1
            if seen == n // 2:
                break
    last = cut.last_id
    cut.close()
    if last is not None and int(last) >= rev:
        fail("a client cut off inside revision %d holds id %s" % (rev, last))
    resumed = SSE(sock_path, base, {"Last-Event-ID": str(last or list_rev)})
    again = set()
    for kind, f in resumed.events():
        if kind == "event" and f.get("event") == "ADDED":
            again.add(json.loads(f["data"])["metadata"]["name"])
            if len(again) == n:
                break
    resumed.close()
    if sorted(again) != names:
        fail("resumed from %s inside the revision: got %r" % (last, sorted(again)))
    print("cut after %d of %d, resumed from id %s: all %d again" % (n // 2, n, last, n))


def check_resume(sock_path, ns):
    base = "/apis/berth/v1/namespaces/%s/tasks" % ns
    first = SSE(sock_path, base)
    if first.status != 200 or first.headers.get("content-type") != "text/event-stream":
        fail("SSE watch answered %s %s" % (first.status, first.headers))
    ev = first.events()
    kind, f = next(ev)
    if kind != "event" or f.get("retry") != "3000":
        fail("the stream does not start with retry: 3000: %r" % (f,))

    # The initial state (no ids) ends with a BOOKMARK carrying the list's revision.
    list_rev = None
    for kind, f in ev:
        if kind == "event" and f.get("event") == "BOOKMARK":
            obj = json.loads(f["data"])
            if obj["metadata"].get("annotations", {}).get("berth/initial-events-end") != "true":
                fail("first BOOKMARK is not the end of the initial events: %r" % obj)
            list_rev = int(f["id"])
            break
        if kind == "event" and "id" in f:
            fail("an initial event has an id: %r" % f)
    print("initial state ends at revision %d" % list_rev)

    # The reference: an NDJSON watch from the same revision sees every change.
    ref_events = []
    ref = ndjson_watch(sock_path, "%s?watch=true&resourceVersion=%d" % (base, list_rev))

    names = ["sse-%d" % i for i in range(3)]
    with open(TMP + "/sse-tasks.json", "w") as fh:
        fh.write("\n---\n".join(task_yaml(n, "sleep 1; echo done") for n in names))
    berth("apply", "-f", TMP + "/sse-tasks.json")

    # Part one: a few live events, then hang up in the middle of the changes.
    seen = []
    heartbeats = 0
    for kind, f in ev:
        if kind == "comment":
            heartbeats += f == "heartbeat"
            continue
        if f.get("event") == "BOOKMARK":
            continue
        seen.append((int(f["id"]), f["event"], json.loads(f["data"])["metadata"]["name"]))
        if len(seen) == 4:
            break
    first.close()
    last_id = seen[-1][0]
    print("disconnected after %d events, last id %d" % (len(seen), last_id))
    time.sleep(1.5)  # changes happen while nobody listens

    # Everything until the three Tasks succeeded, on the reference.
    done = set()
    quiet_since = None
    for e in ref:
        if e["type"] == "BOOKMARK":
            continue
        o = e["object"]
        ref_events.append((int(o["metadata"]["resourceVersion"]), e["type"],
                           o["metadata"]["name"]))
        if o.get("status", {}).get("phase") == "Succeeded":
            done.add(o["metadata"]["name"])
        if done == set(names):
            break
    ref_last = ref_events[-1][0]

    # Part two: resume from the last id seen.
    second = SSE(sock_path, base, {"Last-Event-ID": str(last_id)})
    if second.status != 200:
        fail("resume answered %s" % second.status)
    idle_heartbeats = 0
    deadline = time.monotonic() + 30
    for kind, f in second.events():
        if time.monotonic() > deadline:
            fail("the resumed stream did not reach revision %d: %r" % (ref_last, seen))
        if kind == "comment":
            heartbeats += f == "heartbeat"
            idle_heartbeats += f == "heartbeat" and seen[-1][0] >= ref_last
            if idle_heartbeats >= 1:
                break
            continue
        if "retry" in f or f.get("event") == "BOOKMARK":
            continue
        seen.append((int(f["id"]), f["event"], json.loads(f["data"])["metadata"]["name"]))
    second.close()

    got = [e for e in seen if e[0] <= ref_last]
    if got != ref_events:
        fail("SSE events differ from the NDJSON watch's:\n  sse: %r\n  ref: %r" % (got, ref_events))
    ids = [e[0] for e in seen]
    if ids != sorted(set(ids)):
        fail("ids repeat or go back: %r" % ids)
    if heartbeats < 1:
        fail("no heartbeat on an idle stream")
    print("resumed: %d events, none lost, none repeated (up to revision %d); %d heartbeats"
          % (len(got), ref_last, heartbeats))


def check_expired(sock_path, ns, rev):
    s = SSE(sock_path, "/apis/berth/v1/namespaces/%s/tasks" % ns, {"Last-Event-ID": rev})
    if s.status != 200:
        fail("an expired Last-Event-ID answered %s, not a 200 stream" % s.status)
    events = [f for kind, f in s.events() if kind == "event" and "retry" not in f]
    if len(events) != 1 or events[0].get("event") != "error":
        fail("expected one error event, got %r" % events)
    status = json.loads(events[0]["data"])
    if status.get("code") != 410 or status.get("reason") != "Expired" or \
            "too old resource version" not in status.get("message", ""):
        fail("error event: %r" % status)
    print("expired Last-Event-ID %s: %s" % (rev, status["message"]))


def check_log(sock_path, ns, task, query, want):
    s = SSE(sock_path, "/apis/berth/v1/namespaces/%s/tasks/%s/log%s" % (ns, task, query))
    if s.status != 200 or s.headers.get("content-type") != "text/event-stream":
        fail("SSE log answered %s %s" % (s.status, s.headers))
    lines, end = [], None
    for kind, f in s.events():
        if kind != "event":
            continue
        if f.get("event") == "end":
            end = json.loads(f["data"])
            break
        if "event" in f:
            fail("unexpected event %r" % f)
        lines.append(f["data"])
    if lines != want:
        fail("log lines %r, want %r" % (lines, want))
    if not end or len(end.get("container", "")) != 12:
        fail("end event: %r" % end)
    print("log%s over SSE: %d lines, then end" % (query, len(lines)))


if __name__ == "__main__":
    BERTH = os.environ["BERTH"]
    TMP = os.environ["T"]
    what, sock = sys.argv[1], sys.argv[2]
    if what == "resume":
        check_resume(sock, sys.argv[3])
    elif what == "batch":
        check_batch(sock, sys.argv[3], int(sys.argv[4]))
    elif what == "expired":
        check_expired(sock, sys.argv[3], sys.argv[4])
    elif what == "log":
        check_log(sock, sys.argv[3], sys.argv[4], sys.argv[5], json.loads(sys.argv[6]))
    else:
        fail("unknown check " + what)
