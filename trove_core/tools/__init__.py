"""The tools people run: never imported by a guest.

- :mod:`.cli`: ``trove-datastores``, the operator's listing and checks;
- :mod:`.image`: ``trove-guest-image``, the image builder and register;
- :mod:`.evidence`: the tier evidence ``trove-datastores check`` and
  the image builder read and write;
- :mod:`.scaffold`: ``trove-datastore-scaffold``, a new plugin;
- :mod:`.credentials`: ``trove-guest-credentials``, a guest's own broker
  identity.

They build on the contract (:mod:`trove_core`) and, at most, on the
guest runtime's public modules; the reverse never happens
(``tests/unit/test_layering.py`` checks it).
"""

__all__ = []
