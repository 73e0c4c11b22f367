"""File helpers: atomic writes with owner and mode, secret files.

They live in :mod:`trove_core.files` (the base manager keeps its state
and secrets with them); this module is where plugins find them.
"""

from trove_core.files import atomic_write
from trove_core.files import read_secret
from trove_core.files import write_secret

__all__ = ["atomic_write", "read_secret", "write_secret"]
