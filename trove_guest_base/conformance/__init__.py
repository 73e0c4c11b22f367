"""The conformance kit: capability-driven tests a plugin reuses.

A plugin's conformance file subclasses :class:`DatastoreSuite` and
provides the ``trove_spawn`` fixture (and ``trove_override`` when it
declares configuration); see :mod:`.fixtures` for every fixture,
:mod:`.probe` for the probe a plugin writes, :mod:`.corpus` for the
hostile names and :mod:`.report` for the JSON report a run writes.

This package is imported by pytest in every run (through the plugin in
:mod:`.plugin`), so the facade is lazy.
"""

import importlib

__all__ = ["ConformanceBase", "DatastoreSuite", "Instance", "Probe",
           "load_report"]

_LAZY = {
    "ConformanceBase": ("trove_guest_base.conformance.fixtures",
                        "ConformanceBase"),
    "DatastoreSuite": ("trove_guest_base.conformance.suite",
                       "DatastoreSuite"),
    "Instance": ("trove_guest_base.conformance.probe", "Instance"),
    "Probe": ("trove_guest_base.conformance.probe", "Probe"),
    "load_report": ("trove_guest_base.conformance.report", "load"),
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError("module 'trove_guest_base.conformance' has no "
                         "attribute %r" % name)


def __dir__():
    return sorted(list(globals()) + __all__)
