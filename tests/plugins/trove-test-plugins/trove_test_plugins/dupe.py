"""Registers 'dupe', which trove-test-plugins-dup registers too."""

from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name="dupe", tier="experimental",
                                 capabilities={"lifecycle"})
