"""End to end: Debian's python3-libcloud drives the built CPI
(nanobox-hcloud-cpi on PATH) against bin/hcloud-sim."""

import os
import shutil
import subprocess

import pytest
from libcloud.common.types import InvalidCredsError, LibcloudError
from libcloud.compute import providers
from libcloud.compute.base import Node
from libcloud.compute.providers import get_driver, set_driver
from libcloud.compute.types import KeyPairDoesNotExistError, NodeState

from nanobox_hcloud_libcloud import CPIError, HcloudNodeDriver, NodeDoesNotExistError

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0rGf3/jVUf8j2M9oRdC1rLbJNz4yLPYqU1yF1Y1b3 laptop"


@pytest.fixture
def driver(sim):
    providers.DRIVERS.pop("hcloud", None)
    set_driver("hcloud", "nanobox_hcloud_libcloud", "HcloudNodeDriver")
    yield get_driver("hcloud")(sim.token)
    providers.DRIVERS.pop("hcloud", None)


def left(sim):
    """What is left in the project, by kind, as names."""
    st = sim.state()
    return {kind: sorted(o["name"] for o in (st.get(kind) or [])) for kind in
            ("servers", "ssh_keys", "networks", "firewalls", "placement_groups", "volumes", "images")}


def test_lifecycle(sim, driver, tmp_path):
    nbg1 = next(loc for loc in driver.list_locations() if loc.id == "nbg1")
    size = next(s for s in driver.list_sizes(location=nbg1) if s.id == "cx23")
    assert size.price > 0 and size.extra["currency"] == "USD"
    image = next(i for i in driver.list_images() if i.name == "ubuntu-24.04" and i.extra["architecture"] == "x86")

    pub = tmp_path / "id_ed25519.pub"
    pub.write_text(PUBLIC_KEY + "\n")
    key = driver.import_key_pair_from_file("laptop", str(pub))
    assert driver.get_key_pair("laptop").extra["id"] == key.extra["id"]
    assert [k.name for k in driver.list_key_pairs()] == ["laptop"]

    node = driver.create_node("web1", size, image, location=nbg1, ex_keyname="laptop",
                              ex_user_data="#cloud-config\npackages: [htop]\n", ex_labels={"team": "web"})
    assert isinstance(node.id, str) and node.name == "web1"
    again = driver.create_node("web1", size, image, location=nbg1, ex_keyname="laptop",
                               ex_user_data="#cloud-config\npackages: [htop]\n", ex_labels={"team": "web"})
    assert again.id == node.id, "the same order is the same node"
    with pytest.raises(CPIError) as conflict:
        driver.create_node("web1", size, image, location=nbg1, ex_keyname="laptop")
    assert conflict.value.error_type == "Conflict" and "user_data" in conflict.value.value

    ((running, ips),) = driver.wait_until_running([node], wait_period=0.2, timeout=60)
    assert running.state == NodeState.RUNNING and ips == running.public_ips
    assert running.private_ips and running.extra["labels"]["team"] == "web"
    assert [n.id for n in driver.list_nodes()] == [node.id]

    assert driver.reboot_node(running)
    assert driver.stop_node(running)
    assert driver.ex_get_node(node.id).state == NodeState.STOPPED
    assert driver.start_node(running)
    driver.wait_until_running([node], wait_period=0.2, timeout=60)

    assert driver.destroy_node(running)
    assert driver.list_nodes() == []
    assert driver.destroy_node(running), "a node already gone is destroyed"
    assert driver.delete_key_pair(key)
    with pytest.raises(KeyPairDoesNotExistError):
        driver.get_key_pair("laptop")

    assert left(sim) == {"servers": [], "ssh_keys": [], "networks": ["nanobox"], "firewalls": [],
                         "placement_groups": [], "volumes": [], "images": []}


def test_others_servers_are_invisible_and_safe(sim, driver):
    foreign = sim.plant_server("someone-elses", {})
    hidden = sim.plant_server("hidden", {"managed-by": "nanobox-hcloud", "nanobox": "false"})
    opted_out = sim.plant_server("opted-out", {"nanobox": "false"})
    assert driver.list_nodes() == []
    assert driver.ex_get_node(foreign) is None

    with pytest.raises(CPIError) as forbidden:
        driver.destroy_node(Node(foreign, "someone-elses", NodeState.RUNNING, [], [], driver))
    assert forbidden.value.error_type == "Forbidden"
    for sid in (hidden, opted_out):
        with pytest.raises(NodeDoesNotExistError):
            driver.destroy_node(Node(sid, "x", NodeState.RUNNING, [], [], driver))
        with pytest.raises(LibcloudError):
            driver.stop_node(Node(sid, "x", NodeState.RUNNING, [], [], driver), ex_force=True)
    assert left(sim)["servers"] == ["hidden", "opted-out", "someone-elses"]
    assert {s["status"] for s in sim.state()["servers"]} == {"running"}


def test_rejected_token(sim):
    secret = "wrong-token-5f1e2d3c4b5a"
    d = HcloudNodeDriver(secret)
    with pytest.raises(InvalidCredsError) as e:
        d.list_nodes()
    assert secret not in str(e.value) and secret not in repr(e.value)


def test_the_cpi_is_the_built_one():
    out = subprocess.run(["nanobox-hcloud-cpi", "methods"], capture_output=True, text=True, check=True).stdout.split()
    for m in ("list_servers", "start_server", "stop_server", "list_images", "list_keys"):
        assert m in out
    assert os.path.isabs(shutil.which("nanobox-hcloud-cpi"))
