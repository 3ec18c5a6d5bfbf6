"""Test support: bin/hcloud-sim as a subprocess, and the Hetzner API calls
a test makes as "someone else" (planting servers, reading what is left)."""

import json
import os
import secrets
import shutil
import subprocess
import urllib.request


class Simulator:
    """bin/hcloud-sim (found on PATH) on a free loopback port. url is the
    API's base (…/v1); token its read-write token."""

    def __init__(self):
        binary = shutil.which("hcloud-sim")
        if binary is None:
            raise RuntimeError("hcloud-sim is not on PATH (make test puts bin/ there)")
        self.token = "sim-" + secrets.token_hex(16)
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--token", self.token, "--log-level", "error"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("hcloud-sim did not print its URL")
        self.root = self.url[: -len("/v1")]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def api(self, method, path, body=None, root=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request((root or self.url) + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def plant_server(self, name, labels):
        """A server someone else creates, with labels; its id as a string."""
        body = {"name": name, "server_type": "cx23", "image": "ubuntu-24.04", "location": "nbg1", "labels": labels}
        return str(self.api("POST", "/servers", body)["server"]["id"])

    def state(self):
        """The live objects (GET /_sim/state)."""
        return self.api("GET", "/_sim/state", root=self.root)


def cpi_environment(sim, state_dir):
    """The environment the CPI runs in against sim: its endpoint and a state
    directory of the test's own."""
    env = {"HCLOUD_ENDPOINT": sim.url, "XDG_CACHE_HOME": str(state_dir)}
    return env


def shipped_fixture_dir():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
