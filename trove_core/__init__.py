"""trove-core: contracts for datastore guest-agent plugins.

This package is the contract the guest runtime (``trove_guest_base``)
and the plugins build on; it imports neither. The tools people run (the
operator CLI, the image builder, evidence, the scaffold, broker
credentials) are in :mod:`trove_core.tools`, which no guest imports.

The facade below is lazy: importing ``trove_core`` (which every plugin's
descriptor does) loads nothing until a name is used, so listing plugins
stays cheap.
"""

from trove_core import lazy

__all__ = [
    "BaseDatastoreManager", "DatastoreDescriptor", "ImageSpec",
    "OSSupport", "PLUGIN_API_VERSION", "ServiceStatus", "Strategy", "Tier",
    "TierPolicy", "discover", "load_manager_class", "parse_tier",
]

_LAZY = {
    "BaseDatastoreManager": "trove_core.manager",
    "DatastoreDescriptor": "trove_core.descriptor",
    "ImageSpec": "trove_core.descriptor",
    "OSSupport": "trove_core.descriptor",
    "PLUGIN_API_VERSION": "trove_core.descriptor",
    "ServiceStatus": "trove_core.status",
    "Strategy": "trove_core.descriptor",
    "Tier": "trove_core.tiers",
    "TierPolicy": "trove_core.tiers",
    "discover": "trove_core.discovery",
    "load_manager_class": "trove_core.discovery",
    "parse_tier": "trove_core.tiers",
}


__getattr__, __dir__ = lazy.facade(__name__, _LAZY)
