#!/usr/bin/env python3
"""An SMTP server for test_notify.sh: listens on 127.0.0.1 on a free port
(written to --port-file) and appends every mail it is given as one JSON
line to --log: {"from", "to", "data"}. No STARTTLS, no login."""
import argparse
import json
import os
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd


class Sink(smtpd.SMTPServer):
    log = None

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        with open(self.log, "a") as f:
            f.write(json.dumps({"from": mailfrom, "to": rcpttos,
                                "data": data.decode("utf-8", "replace")}) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    Sink.log = a.log
    srv = Sink(("127.0.0.1", 0), None, decode_data=False)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.socket.getsockname()[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    asyncore.loop()


if __name__ == "__main__":
    main()
