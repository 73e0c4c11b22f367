"""A minimal working plugin: its descriptor and options."""

from oslo_config import cfg
from trove_core import options
from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(
    name="goodtest", tier="experimental", summary="test plugin",
    capabilities={"lifecycle", "databases"})

GROUP = cfg.OptGroup("goodtest")


def list_server_opts():
    """Server options of the test plugin."""
    return [(GROUP, options.server_opts(tcp_ports=["1"]))]


def list_guest_opts():
    """Guest options of the test plugin."""
    return [(GROUP, options.guest_opts(mount_point="/tmp"))]
