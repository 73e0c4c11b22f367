"""trove-guest-image: build and verify single-datastore guest bundles.

The facade is lazy so that ``trove-guest-image --help`` imports nothing
heavy; the machinery lives in :mod:`.target` (what to build),
:mod:`.wheels` (wheelhouse and lock), :mod:`.render` (hooks, unit,
Containerfile, diskimage-builder element), :mod:`.build`, :mod:`.verify`
and :mod:`.rootfs`.
"""

import importlib

__all__ = ["build", "main", "verify"]

_LAZY = {"build": "trove_core.tools.image.build",
         "verify": "trove_core.tools.image.verify"}


def main(argv=None):
    """Console script ``trove-guest-image``; see :mod:`.cli`."""
    from trove_core.tools.image import cli

    return cli.main(argv)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError("module 'trove_core.tools.image' has no attribute %r"
                         % name)
