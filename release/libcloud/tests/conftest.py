"""pytest wiring: the driver package from release/libcloud (PYTHONPATH, as
make test sets it), and the simulator fixture of the end-to-end tests."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simulator import Simulator, cpi_environment  # noqa: E402


@pytest.fixture
def sim(tmp_path, monkeypatch):
    """A fresh bin/hcloud-sim, with the CPI's environment pointing at it."""
    s = Simulator()
    try:
        for k, v in cpi_environment(s, tmp_path / "state").items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
        yield s
    finally:
        s.close()
