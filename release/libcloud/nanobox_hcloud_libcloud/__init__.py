"""An Apache Libcloud compute driver for Hetzner Cloud, on the
nanobox-hcloud CPI.

    from libcloud.compute.providers import get_driver, set_driver
    set_driver("hcloud", "nanobox_hcloud_libcloud", "HcloudNodeDriver")
    driver = get_driver("hcloud")(TOKEN)

See docs/libcloud.md of the nanobox-hcloud repository.
"""

from .cpi import CPIError
from .driver import PROVIDER, HcloudNodeDriver, NodeDoesNotExistError

__all__ = ["HcloudNodeDriver", "CPIError", "NodeDoesNotExistError", "PROVIDER"]
