"""HcloudNodeDriver: an Apache Libcloud compute driver for Hetzner Cloud on
the nanobox-hcloud CPI (docs/libcloud.md).

Every method is one or more CPI calls (cpi.CPI); the CPI does the work:
idempotent orders, ownership labels, coalesced polling, a rate-limit budget
shared across processes, prices in one currency. The driver maps its
answers onto libcloud's types.
"""

import base64
import binascii
import datetime
import hashlib

from libcloud.common.base import ConnectionKey
from libcloud.common.types import LibcloudError
from libcloud.compute.base import (
    KeyPair,
    Node,
    NodeAuthSSHKey,
    NodeDriver,
    NodeImage,
    NodeLocation,
    NodeSize,
)
from libcloud.compute.types import KeyPairDoesNotExistError, NodeState

from .cpi import CPI, CPIError

__all__ = ["HcloudNodeDriver", "NodeDoesNotExistError", "PROVIDER"]

# The provider name to register the driver under with set_driver.
PROVIDER = "hcloud"

# The catalog's prices are in US dollars (dollars_per_hr, converted from
# Hetzner's EUR by the CPI's catalog.eur_to_usd).
CURRENCY = "USD"

# The country of each Hetzner location (the catalog names none).
COUNTRIES = {"fsn1": "DE", "nbg1": "DE", "hel1": "FI", "ash": "US", "hil": "US", "sin": "SG"}

# The CPI's status (query_server's vocabulary) as a libcloud state. Hetzner
# reports a rebooting server as running, so REBOOTING never appears.
NODE_STATE_MAP = {
    "active": NodeState.RUNNING,
    "provisioning": NodeState.RUNNING,  # running; its backups not on yet
    "initializing": NodeState.PENDING,
    "starting": NodeState.PENDING,
    "stopping": NodeState.PENDING,
    "migrating": NodeState.PENDING,
    "rebuilding": NodeState.PENDING,
    "off": NodeState.STOPPED,
    "deleting": NodeState.TERMINATED,
    "unknown": NodeState.UNKNOWN,
}


class NodeDoesNotExistError(LibcloudError):
    """No such node for this driver: gone, or labelled nanobox=false."""

    def __init__(self, value, node_id, driver=None):
        super().__init__(value, driver=driver)
        self.node_id = node_id


class _NoConnection(ConnectionKey):
    """The driver speaks to the CPI binary, not to an HTTP API: this
    connection holds the key and never connects."""

    def connect(self, host=None, port=None, base_url=None, **kwargs):
        return None

    def request(self, *args, **kwargs):
        raise LibcloudError("HcloudNodeDriver makes no HTTP requests; it runs the CPI")


class HcloudNodeDriver(NodeDriver):
    """Hetzner Cloud through the nanobox-hcloud CPI.

    key: the Hetzner API token (Read & Write). ex_cpi_path: the CPI binary;
    None runs ``nanobox-hcloud-cpi`` found on PATH. ex_config_path: the
    CPI's config file. ex_timeout: seconds one CPI call may take. The CPI
    reads HCLOUD_ENDPOINT from the environment as it always does.
    """

    type = PROVIDER
    name = "Hetzner Cloud (nanobox-hcloud)"
    website = "https://www.hetzner.com/cloud"
    api_name = "hcloud"
    connectionCls = _NoConnection
    features = {"create_node": ["ssh_key"]}
    NODE_STATE_MAP = NODE_STATE_MAP

    def __init__(self, key, secret=None, secure=True, host=None, port=None, ex_cpi_path=None,
                 ex_config_path=None, ex_timeout=300, **kwargs):
        super().__init__(key, secret=secret, secure=secure, host=host, port=port, **kwargs)
        self._cpi = CPI(key, path=ex_cpi_path, timeout=ex_timeout, config_path=ex_config_path)

    def __repr__(self):
        return "<HcloudNodeDriver %r>" % self._cpi

    def _call(self, method, *arguments):
        return self._cpi.call(method, arguments, driver=self)

    # Locations, sizes and images.

    def _catalog(self):
        return self._call("catalog")

    def list_locations(self):
        return [self._location(r) for r in self._catalog()]

    def _location(self, region):
        return NodeLocation(id=region["id"], name=region["name"], country=COUNTRIES.get(region["id"], ""), driver=self)

    def list_sizes(self, location=None):
        """The orderable sizes: in location, or (None) in any location, each
        once with its price in the default region when offered there, else
        in the first region that offers it. price is hourly in USD;
        extra holds currency, price_monthly, cpu, plan and, without a
        location, prices by region."""
        meta = self._call("meta")
        want = location.id if location is not None else None
        sizes = {}
        for region in self._catalog():
            if want is not None and region["id"] != want:
                continue
            for plan in region["plans"]:
                if plan["id"] == "retired":
                    continue
                for spec in plan["specs"]:
                    self._add_size(sizes, region["id"], plan["id"], spec, meta["default_region"])
        return list(sizes.values())

    def _add_size(self, sizes, region, plan, spec, default_region):
        size = sizes.get(spec["id"])
        if size is None:
            size = NodeSize(
                id=spec["id"], name=spec["id"], ram=spec["ram"], disk=spec["disk"],
                bandwidth=spec["transfer"] * 1000, price=spec["dollars_per_hr"], driver=self,
                extra={"currency": CURRENCY, "price_monthly": spec["dollars_per_mo"], "cpu": spec["cpu"],
                       "plan": plan, "prices": {}},
            )
            sizes[spec["id"]] = size
        size.extra["prices"][region] = spec["dollars_per_hr"]
        if region == default_region:
            size.price = spec["dollars_per_hr"]
            size.extra["price_monthly"] = spec["dollars_per_mo"]

    def list_images(self, location=None, ex_all=False):
        """The system images create_node takes (those the CPI's meta offers);
        ex_all: every system image. One per architecture (extra
        architecture: x86 or arm); create_node orders by name, and Hetzner
        picks the architecture of the size."""
        offered = None
        if not ex_all:
            offered = {v["value"] for f in self._call("meta")["config_fields"] if f["key"] == "image" for v in f["values"]}
        out = []
        for im in self._call("list_images"):
            if offered is not None and im["name"] not in offered:
                continue
            extra = {k: im[k] for k in ("description", "os_flavor", "os_version", "architecture")}
            out.append(NodeImage(id=im["id"], name=im["name"], driver=self, extra=extra))
        return out

    # Key pairs.

    def _key_pair(self, key):
        return KeyPair(name=key["name"], public_key=key["public_key"], fingerprint=fingerprint(key["public_key"]),
                       driver=self, extra={"id": key["id"]})

    def list_key_pairs(self):
        return [self._key_pair(k) for k in self._call("list_keys")]

    def get_key_pair(self, name):
        for k in self._call("list_keys"):
            if k["name"] == name:
                return self._key_pair(k)
        raise KeyPairDoesNotExistError(name, self)

    def import_key_pair_from_string(self, name, key_material):
        """Imports a public key (idempotent: the same key again answers the
        key it is already)."""
        key_id = self._call("create_key", {"id": name, "key": key_material})["id"]
        return self._key_pair(self._call("query_key", key_id))

    def delete_key_pair(self, key_pair):
        """Deletes the key; one already gone is success."""
        key_id = (key_pair.extra or {}).get("id")
        if key_id is None:
            key_id = self.get_key_pair(key_pair.name).extra["id"]
        try:
            self._call("delete_key", key_id)
        except CPIError as e:
            if e.error_type == "NotFound":
                raise KeyPairDoesNotExistError(key_pair.name, self) from None
            raise
        return True

    # Nodes.

    def _node(self, s):
        created = None
        if s.get("created"):
            created = datetime.datetime.fromisoformat(s["created"].replace("Z", "+00:00"))
        extra = {k: s[k] for k in ("status", "region", "size", "image", "labels")}
        return Node(
            id=s["id"], name=s["name"], state=NODE_STATE_MAP.get(s["status"], NodeState.UNKNOWN),
            public_ips=[s["external_ip"]] if s["external_ip"] else [],
            private_ips=[s["internal_ip"]] if s["internal_ip"] else [],
            driver=self, created_at=created, extra=extra,
        )

    def list_nodes(self):
        """The adapter's own servers: never one labelled nanobox=false nor
        one someone else created."""
        return [self._node(s) for s in self._call("list_servers")]

    def ex_get_node(self, node_id):
        """The node of that id, or None."""
        for s in self._call("list_servers"):
            if s["id"] == str(node_id):
                return self._node(s)
        return None

    def create_node(self, name, size, image, location=None, ex_keyname=None, auth=None, ex_user_data=None,
                    ex_labels=None):
        """Orders a server and returns its node without waiting for it to
        boot (wait_until_running does). The SSH key is ex_keyname (a key pair
        imported before) or auth (a NodeAuthSSHKey, imported under a name
        derived from its fingerprint). ex_user_data: the user's cloud-init,
        combined with the CPI's; ex_labels: extra labels. Idempotent: the
        same arguments again return the same node; other arguments under the
        same name raise a CPIError (Conflict)."""
        key_id = self._order_key(ex_keyname, auth)
        body = {"name": name, "size": size.id, "ssh_key": key_id, "config": {"image": image.name}}
        if location is not None:
            body["region"] = location.id
        if ex_user_data:
            body["user_data"] = ex_user_data
        if ex_labels:
            body["labels"] = dict(ex_labels)
        server_id = self._call("order_server", body)["id"]
        node = self.ex_get_node(server_id)
        if node is None:
            raise LibcloudError("create_node: server %s was ordered but is not among this driver's nodes" % server_id,
                                driver=self)
        return node

    def _order_key(self, keyname, auth):
        if keyname is not None and auth is not None:
            raise LibcloudError("create_node: pass ex_keyname or auth, not both", driver=self)
        if keyname is not None:
            return self.get_key_pair(keyname).extra["id"]
        auth = self._get_and_check_auth(auth)
        if not isinstance(auth, NodeAuthSSHKey):
            raise LibcloudError("create_node: an SSH key is needed: ex_keyname, or auth=NodeAuthSSHKey(public_key)",
                                driver=self)
        pub = auth.pubkey.strip()
        return self.import_key_pair_from_string("libcloud-" + fingerprint(pub).replace(":", ""), pub).extra["id"]

    def _node_call(self, method, node, *arguments):
        try:
            self._call(method, node.id, *arguments)
        except CPIError as e:
            if e.error_type == "NotFound":
                raise NodeDoesNotExistError(e.value, node.id, driver=self) from None
            raise
        return True

    def reboot_node(self, node):
        return self._node_call("reboot_server", node)

    def start_node(self, node):
        """Powers the node on (a running node is left as it is); does not
        wait for it to run."""
        return self._node_call("start_server", node)

    def stop_node(self, node, ex_force=False):
        """Shuts the node down gracefully, then powers it off if it is not off
        within the CPI's timeouts.shutdown_seconds; ex_force: power it off at
        once."""
        return self._node_call("stop_server", node, {"force": bool(ex_force)})

    def destroy_node(self, node):
        """Deletes the node; one already gone is success (True). A node the
        adapter did not create raises a CPIError (Forbidden); one labelled
        nanobox=false is NodeDoesNotExistError."""
        return self._node_call("cancel_server", node)


def fingerprint(public_key):
    """The MD5 fingerprint of an OpenSSH public key, as Hetzner shows it
    (aa:bb:...); "" when the key cannot be read."""
    parts = public_key.split()
    if len(parts) < 2:
        return ""
    try:
        blob = base64.b64decode(parts[1].encode(), validate=True)
    except (binascii.Error, ValueError):
        return ""
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
