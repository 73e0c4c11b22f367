"""Errors of the guest runtime; all are trove-core errors."""

from trove_core.exceptions import DatastoreError
from trove_core.exceptions import TroveError


class ProcessError(DatastoreError):
    """A command exited non-zero, timed out, or could not start."""

    msg_fmt = "command %(command)r failed: %(reason)s"


class ReadinessTimeout(DatastoreError):
    """Something did not become ready in time."""

    msg_fmt = "%(what)s was not ready after %(timeout).1f s: %(reason)s"


class ConfigFileError(TroveError, ValueError):
    """A configuration value cannot be written safely."""

    msg_fmt = "cannot write configuration key %(key)r: %(reason)s"
