"""The recorded fixtures are what the CPI answers today: the recording is
run again against a fresh simulator and compared."""

import json
import os

from record_fixtures import record
from simulator import shipped_fixture_dir

# The fixtures written by hand (see test_driver.py), not recorded.
HAND_WRITTEN = {"cancel_server_leaky.json"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_fixtures_are_current(sim, tmp_path):
    out = tmp_path / "fixtures"
    out.mkdir()
    record(sim, str(tmp_path / "state"), str(out))
    recorded = sorted(os.listdir(out))
    assert recorded == sorted(set(os.listdir(shipped_fixture_dir())) - HAND_WRITTEN), "every recorded fixture, no other"
    for name in recorded:
        assert load(os.path.join(shipped_fixture_dir(), name)) == load(out / name), (
            "%s is stale: run release/libcloud/tests/record_fixtures.py (docs/libcloud.md)" % name)
