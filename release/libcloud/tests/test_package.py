"""The package as a package: its metadata and what it exports."""

import os
import re

from libcloud.compute.base import NodeDriver

import nanobox_hcloud_libcloud

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_version_is_the_repositorys():
    """pyproject.toml's version is the repository's VERSION (the one source
    of versions; pyproject cannot read a file outside its directory)."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        version = re.search(r'^version = "([^"]+)"$', f.read(), re.M).group(1)
    with open(os.path.join(ROOT, "..", "..", "VERSION"), encoding="utf-8") as f:
        assert version == f.read().strip()


def test_exports():
    assert issubclass(nanobox_hcloud_libcloud.HcloudNodeDriver, NodeDriver)
    assert nanobox_hcloud_libcloud.PROVIDER == "hcloud"
    assert nanobox_hcloud_libcloud.__file__.startswith(ROOT), "the package under test is this one"
