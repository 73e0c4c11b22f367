"""Declares a capability that does not exist: fails validation."""

from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name="badcaps", tier="stable",
                                 capabilities={"lifecycle", "teleport"})
