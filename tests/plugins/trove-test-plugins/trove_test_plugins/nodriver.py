"""Needs a driver module that is not installed."""

from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name="nodriver", tier="stable",
                                 capabilities={"lifecycle"},
                                 driver_modules=("trove_no_such_driver",))


class Manager:
    """Never imported: the driver check fails first."""
