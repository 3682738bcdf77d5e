#!/usr/bin/env python3
"""layering-check-selftest: proves scripts/layering-check.py can fail.

    scripts/layering-check-selftest.py SOURCE_DIR

Runs the check on the fixture tree tests/fixtures/layering: its clean part
(layers-clean.txt) must pass, and the whole tree (layers.txt) must fail
naming exactly the forbidden includes listed below, each as FILE:LINE and
header.
"""
import os
import subprocess
import sys

EXPECTED = [
    'top/top.c:4: #include "low.h": public header of module low',
    'top/top.c:6: #include "low-internal.h": internal header of module low',
    'top/top.c:7: #include "../low/low-internal.h": internal header of module low',
    'top/top.c:9: #include "util.h": private header of module low',
    'tool/main.c:3: #include "mid.h": public header of module mid',
]


def run(check, layers, tree):
    r = subprocess.run([sys.executable, check, layers, tree], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    root = sys.argv[1]
    check = os.path.join(root, "scripts", "layering-check.py")
    tree = os.path.join(root, "tests", "fixtures", "layering")
    failed = False

    rc, out = run(check, os.path.join(tree, "layers-clean.txt"), tree)
    if rc != 0:
        print(f"FAIL: the clean fixture should pass, got exit {rc}:\n{out}")
        failed = True

    rc, out = run(check, os.path.join(tree, "layers.txt"), tree)
    if rc != 1:
        print(f"FAIL: the fixture with forbidden includes should exit 1, got {rc}")
        failed = True
    reported = [line for line in out.splitlines() if line.startswith(("top/", "tool/", "low/", "mid/"))]
    for want in EXPECTED:
        if not any(line.startswith(want) for line in reported):
            print(f"FAIL: not reported: {want}")
            failed = True
    for line in reported:
        if not any(line.startswith(want) for want in EXPECTED):
            print(f"FAIL: reported but allowed: {line}")
            failed = True
    print(out, end="")
    if failed:
        return 1
    print("layering-check-selftest: the check fails on each forbidden include and passes clean code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
