"""Test helpers shipped with trove-core, and the fake datastore.

The fake datastore (``fake``) is a complete plugin whose "server" is a
JSON file: descriptor (:mod:`.plugin`), options (:mod:`.options`),
manager (:mod:`.manager`) and engine (:mod:`.backend`). It is registered
through real entry points by the test distribution in
``tests/plugins/trove-ds-fake``, passes the conformance kit, and is the
worked example of the author guide.

The facade is lazy, like :mod:`trove_core`'s.
"""

from trove_core import lazy

__all__ = ["FakeManager", "FakeProbe", "FakeServer", "RecordingReporter",
           "Spawner", "make_conf", "make_fake_manager", "make_manager"]

_LAZY = {
    "FakeManager": "trove_core.testing.manager",
    "FakeProbe": "trove_core.testing.probe",
    "FakeServer": "trove_core.testing.backend",
    "RecordingReporter": "trove_core.testing.helpers",
    "Spawner": "trove_core.testing.helpers",
    "make_conf": "trove_core.testing.helpers",
    "make_fake_manager": "trove_core.testing.helpers",
    "make_manager": "trove_core.testing.helpers",
}


__getattr__, __dir__ = lazy.facade(__name__, _LAZY)
