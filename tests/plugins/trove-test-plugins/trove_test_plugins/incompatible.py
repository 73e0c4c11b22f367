"""Targets a plugin API major version the core does not provide."""

from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name="incompatible", tier="stable",
                                 capabilities={"lifecycle"},
                                 plugin_api="9.0")
