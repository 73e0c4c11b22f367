"""Declares IUsers but implements it only in part."""

from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name="mismatched", tier="stable",
                                 capabilities={"lifecycle", "users"})
