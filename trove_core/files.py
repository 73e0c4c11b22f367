"""File helpers: atomic writes with owner and mode, secret files.

The base manager keeps its state and secrets with them; plugins reach
them as :mod:`trove_guest_base.files`.
"""

import contextlib
import os
import tempfile

__all__ = ["atomic_write", "read_secret", "write_secret"]


def atomic_write(path, data, mode=0o644, owner=None, group=None):
    """Replace ``path`` with ``data`` so that readers see old or new, never
    half a file, and the file never exists with a wider mode than asked.

    :param path: the destination.
    :param data: ``str`` (written as UTF-8) or ``bytes``.
    :param mode: the file's permission bits, set before any byte lands.
    :param owner: a user name or uid to own the file (needs privilege).
    :param group: a group name or gid.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=directory,
                               prefix="." + os.path.basename(path) + ".")
    try:
        os.fchmod(fd, mode)
        if owner is not None or group is not None:
            os.fchown(fd, _uid(owner), _gid(group))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _uid(owner):
    if owner is None:
        return -1
    if isinstance(owner, int):
        return owner
    import pwd

    return pwd.getpwnam(owner).pw_uid


def _gid(group):
    if group is None:
        return -1
    if isinstance(group, int):
        return group
    import grp

    return grp.getgrnam(group).gr_gid


def write_secret(path, value, owner=None):
    """Store a secret in a 0600 file (its directory 0700)."""
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", mode=0o700,
                exist_ok=True)
    atomic_write(path, value, mode=0o600, owner=owner)


def read_secret(path):
    """Return the secret stored at ``path``, or ``None`` if absent."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
