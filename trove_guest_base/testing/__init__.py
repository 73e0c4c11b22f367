"""Test helpers shipped with trove-core, and the fake datastore's engine.

The fake datastore (``fake``) is a complete plugin whose "server" is a
JSON file: options (:mod:`.options`), manager (:mod:`.manager`), backup
strategy (:mod:`.backup`) and engine (:mod:`.backend`) live here, because
the conformance kit and scaffolded plugins build on them; its descriptor
and image elements are the test distribution's, in
``tests/plugins/trove-ds-fake`` (package ``trove_ds_fake``), which
registers it through real entry points. It passes the conformance kit
and is the worked example of the author guide.

Nothing in the guest runtime imports this package. The facade is lazy,
like :mod:`trove_core`'s.
"""

from trove_core import lazy

__all__ = ["FakeManager", "FakeProbe", "FakeServer", "RecordingReporter",
           "Spawner", "make_conf", "make_fake_manager", "make_manager"]

_LAZY = {
    "FakeManager": "trove_guest_base.testing.manager",
    "FakeProbe": "trove_guest_base.testing.probe",
    "FakeServer": "trove_guest_base.testing.backend",
    "RecordingReporter": "trove_guest_base.testing.helpers",
    "Spawner": "trove_guest_base.testing.helpers",
    "make_conf": "trove_guest_base.testing.helpers",
    "make_fake_manager": "trove_guest_base.testing.helpers",
    "make_manager": "trove_guest_base.testing.helpers",
}


__getattr__, __dir__ = lazy.facade(__name__, _LAZY)
