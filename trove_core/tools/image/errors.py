"""Errors of the guest image builder, under :class:`TroveError`.

They live beside the builder (which only operators run) rather than in
:mod:`trove_core.exceptions`, which guests and the control plane import.
"""

from trove_core import exceptions

__all__ = ["ImageBuildError", "UnsupportedOS", "VerificationFailed"]


class ImageBuildError(exceptions.TroveError):
    """A guest bundle could not be built."""

    msg_fmt = "cannot build the guest bundle of %(datastore)r: %(reason)s"


class UnsupportedOS(ImageBuildError):
    """The plugin does not support the requested operating system."""

    msg_fmt = ("datastore %(datastore)r has no image elements for OS "
               "%(os_id)r; supported: %(supported)s (choose one with --os)")


class VerificationFailed(ImageBuildError):
    """A built bundle did not pass its offline verification."""

    msg_fmt = "guest bundle %(bundle)s failed verification: %(reason)s"
