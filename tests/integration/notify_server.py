#!/usr/bin/env python3
"""A webhook receiver for test_notify.sh: listens on 127.0.0.1 on a free
port (written to --port-file), appends every request as one JSON line to
--log: {"t": arrival time (s since the epoch), "path", "headers", "body"}.

Replies by path: /fail-once/... answers 500 the first time that path is
requested and 200 afterwards; /down-while/FLAG/... answers 503 while the
file <--log>.FLAG exists (the receiver is down), 200 once it is removed;
/status/NNN always NNN; anything else 200.
"""
import argparse
import os
import http.server
import json
import threading
import time

lock = threading.Lock()
seen = set()


class Handler(http.server.BaseHTTPRequestHandler):
    log_file = None

    def do_POST(self):
        t = time.time()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        code = 200
        with lock:
            if self.path.startswith("/fail-once/") and self.path not in seen:
                seen.add(self.path)
                code = 500
            elif self.path.startswith("/down-while/"):
                flag = self.path.split("/")[2]
                if os.path.exists(self.log_file + "." + flag):
                    code = 503
            elif self.path.startswith("/status/"):
                code = int(self.path.split("/")[2])
            rec = {"t": t, "path": self.path, "code": code,
                   "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            with open(self.log_file, "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    Handler.log_file = a.log
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
