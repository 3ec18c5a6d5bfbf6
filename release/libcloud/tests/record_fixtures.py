#!/usr/bin/python3
"""Records the fixtures the driver tests replay (fixtures/*.json): the real
CPI's answers to a lifecycle against a fresh simulator, the log field
emptied, creation times and meta's version (the build's) fixed. Run from the repository root after make build:

    PATH=$PWD/bin:$PATH /usr/bin/python3 release/libcloud/tests/record_fixtures.py
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simulator import Simulator, cpi_environment, shipped_fixture_dir  # noqa: E402

CREATED = "2026-12-07T12:00:00Z"
VERSION = "VERSION"  # meta's version: the build's, so fixed like the clock
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0rGf3/jVUf8j2M9oRdC1rLbJNz4yLPYqU1yF1Y1b3 laptop"


def main():
    sim = Simulator()
    try:
        with tempfile.TemporaryDirectory() as state:
            record(sim, state, shipped_fixture_dir())
    finally:
        sim.close()


def record(sim, state, out_dir):
    """Runs the lifecycle against sim, with the CPI's state in state, and
    writes each answer to out_dir/<name>.json."""
    env = dict(os.environ, **cpi_environment(sim, state))

    def call(name, method, *args, token=sim.token):
        req = {"method": method, "arguments": list(args), "context": {"credentials": {"api-token": token}}, "api_version": 2}
        out = subprocess.run(["nanobox-hcloud-cpi"], input=json.dumps(req), capture_output=True, text=True, env=env, check=False)
        resp = json.loads(out.stdout)
        resp["log"] = ""
        if method == "meta" and "version" in resp["result"]:
            resp["result"]["version"] = VERSION
        for server in resp["result"] if isinstance(resp["result"], list) else []:
            if "created" in server:
                server["created"] = CREATED  # the run's clock: fixed, so a new recording differs only where answers do
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(resp, f, indent=1, sort_keys=True)
            f.write("\n")
        return resp["result"]

    for m in ("meta", "catalog", "list_images"):
        call(m, m)
    key = call("create_key", "create_key", {"id": "laptop", "key": PUBLIC_KEY})["id"]
    call("query_key", "query_key", key)
    call("list_keys", "list_keys")
    order = {"name": "web1", "region": "nbg1", "size": "cx23", "ssh_key": key, "config": {"image": "ubuntu-24.04"}}
    server = call("order_server", "order_server", order)["id"]
    call("order_server_conflict", "order_server", dict(order, size="cx33"))
    call("list_servers", "list_servers")
    call("reboot_server", "reboot_server", server)
    call("stop_server", "stop_server", server, {"force": False})
    call("list_servers_off", "list_servers")
    call("start_server", "start_server", server)
    foreign = sim.plant_server("someone-elses", {})
    call("cancel_server_forbidden", "cancel_server", foreign)
    hidden = sim.plant_server("hidden", {"managed-by": "nanobox-hcloud", "nanobox": "false"})
    call("cancel_server_notfound", "cancel_server", hidden)
    call("cancel_server", "cancel_server", server)
    call("list_servers_empty", "list_servers")
    call("delete_key", "delete_key", key)
    call("list_keys_empty", "list_keys")
    call("list_servers_unauthorized", "list_servers", token="not-a-valid-token")


if __name__ == "__main__":
    main()
