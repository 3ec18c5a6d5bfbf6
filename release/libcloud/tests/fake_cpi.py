#!/usr/bin/python3
"""A stand-in for nanobox-hcloud-cpi that replays recorded answers.

It reads one request on stdin, appends {"argv", "request"} as a JSON line to
$FAKE_CPI_LOG, and writes fixtures/<method>_<variant>.json when
$FAKE_CPI_VARIANTS (method=variant,...) names a variant for the method, else
fixtures/<method>.json.
"""

import json
import os
import sys

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def main():
    request = json.load(sys.stdin)
    method = request["method"]
    with open(os.environ["FAKE_CPI_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": sys.argv[1:], "request": request}) + "\n")
    variants = dict(v.split("=", 1) for v in os.environ.get("FAKE_CPI_VARIANTS", "").split(",") if "=" in v)
    name = method + ("_" + variants[method] if method in variants else "")
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
