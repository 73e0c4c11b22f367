"""Backup storage drivers, pluggable through ``trove.backup.storage``.

A driver stores opaque objects by location. Writes go to a temporary
object that becomes visible under its location only on ``commit``;
``abort`` removes it. The core ships the ``file`` driver (a directory on a
local or mounted filesystem).

The namespace rules hold for every driver, because :func:`get_storage`
wraps each one in :class:`Namespace`: a location is a relative path of
plain names (no ``.``, ``..`` or empty part, no NUL); the names a driver
keeps beside an object (:data:`RESERVED_SUFFIXES`: its metadata, its
partial upload) cannot be addressed; and a committed object is never
overwritten.
"""

import abc
import contextlib
import json
import os

from trove_core import exceptions

__all__ = ["FileStorage", "Namespace", "RESERVED_SUFFIXES",
           "StorageDriver", "check_location", "get_storage"]

STORAGE_GROUP = "trove.backup.storage"

#: Names a driver keeps beside an object; never a location.
RESERVED_SUFFIXES = (".meta.json", ".partial")
_MAX_LOCATION = 1024


def check_location(location):
    """Return ``location`` as a clean relative name, or refuse it.

    ``file://`` and a leading ``/`` are accepted for Trove's absolute
    locations (a driver may map them under its root).

    :raises BadRequest: not a string, empty, too long, holding a NUL, a
        ``.``/``..``/empty part, or ending in a reserved suffix.
    """
    shown = exceptions.bounded(location)
    if not isinstance(location, str):
        raise exceptions.BadRequest(
            reason="a backup location must be a string, not %s" % shown)
    name = location
    if name.startswith("file://"):
        name = name[len("file://"):]
    parts = name.lstrip("/").split("/")
    bad = None
    if not name or len(name) > _MAX_LOCATION or "\0" in name:
        bad = "it must be 1 to %d characters without NUL" % _MAX_LOCATION
    elif any(part in ("", ".", "..") for part in parts):
        bad = "it must name an object: no '.', '..' or empty part"
    elif name.endswith(RESERVED_SUFFIXES):
        bad = ("names ending in %s belong to the storage driver"
               % " or ".join(repr(s) for s in RESERVED_SUFFIXES))
    if bad:
        raise exceptions.BadRequest(
            reason="backup location %s is not usable: %s; give another "
            "location, or none for the default" % (shown, bad))
    return location


class StorageDriver(abc.ABC):
    """Where backups are kept."""

    @abc.abstractmethod
    def open_writer(self, location):
        """Return a writer with ``write(bytes)``, ``commit(metadata)`` and
        ``abort()``; nothing is visible at ``location`` before commit."""

    @abc.abstractmethod
    def open_reader(self, location):
        """Return a binary file object reading the object at
        ``location``.

        :raises NotFound: there is no committed object there.
        """

    @abc.abstractmethod
    def metadata(self, location):
        """Return the metadata committed with the object at
        ``location``."""

    @abc.abstractmethod
    def delete(self, location):
        """Remove the object at ``location`` and its metadata."""

    @abc.abstractmethod
    def exists(self, location):
        """Whether a committed object is at ``location``."""

    def object_name(self, location):
        """The name the namespace rules check for ``location``: the
        location itself, unless the driver takes another form (a URL)."""
        return location


class Namespace(StorageDriver):
    """The namespace rules around any driver (see the module doc).

    :param driver: the wrapped :class:`StorageDriver`.
    """

    def __init__(self, driver):
        self.driver = driver

    def __getattr__(self, name):
        return getattr(self.driver, name)

    def open_writer(self, location):
        """As the driver's, refusing a committed object's location.

        :raises BackupError: a committed object is already there.
        """
        self._checked(location)
        if self.driver.exists(location):
            raise exceptions.BackupError(
                backup_id=location, reason="storage already holds a "
                "committed backup at this location; it is never "
                "overwritten (give another location, or delete that "
                "backup first)")
        return self.driver.open_writer(location)

    def _checked(self, location):
        # the rules apply to the object's name, whatever form the driver
        # takes a location in (a Swift URL names container and object)
        check_location(self.driver.object_name(location))
        return location

    def open_reader(self, location):
        return self.driver.open_reader(self._checked(location))

    def metadata(self, location):
        return self.driver.metadata(self._checked(location))

    def delete(self, location):
        return self.driver.delete(self._checked(location))

    def exists(self, location):
        return self.driver.exists(self._checked(location))


class _FileWriter:
    def __init__(self, final, meta):
        self.final, self.meta = final, meta
        self.partial = final + ".partial"
        os.makedirs(os.path.dirname(final) or ".", mode=0o700,
                    exist_ok=True)
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        self._handle = os.fdopen(fd, "wb")

    def write(self, data):
        self._handle.write(data)

    def commit(self, metadata):
        from trove_guest_base import files

        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        # link, not rename: it fails where rename would replace a
        # committed object; a failed metadata write (ENOSPC) takes the
        # data back out from under the final name
        os.link(self.partial, self.final)
        try:
            files.atomic_write(self.meta, json.dumps(metadata,
                                                     sort_keys=True),
                               mode=0o600)
        except BaseException:
            for name in (self.final, self.meta):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
            raise
        os.unlink(self.partial)

    def abort(self):
        with contextlib.suppress(Exception):
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.partial)


class FileStorage(StorageDriver):
    """Backups as files under ``root`` (a location is a relative path or
    an absolute path inside ``root``).

    :param root: the directory holding backups.
    """

    def __init__(self, root="/var/lib/trove/backups", **_ignored):
        self.root = os.path.abspath(os.fspath(root))

    def path(self, location):
        """The file behind ``location``; refuses to leave ``root``."""
        location = os.fspath(location)
        if location.startswith("file://"):
            location = location[len("file://"):]
        path = os.path.abspath(os.path.join(self.root, location))
        if (os.path.commonpath([path, self.root]) != self.root
                or path == self.root):
            raise exceptions.BadRequest(
                reason="backup location %r is outside the storage root %r"
                % (location, self.root))
        return path

    def open_writer(self, location):
        path = self.path(location)
        return _FileWriter(path, path + ".meta.json")

    def open_reader(self, location):
        path = self.path(location)
        if not self.exists(location):
            raise exceptions.NotFound(kind="backup", name=location)
        return open(path, "rb")

    def metadata(self, location):
        try:
            with open(self.path(location) + ".meta.json",
                      encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            raise exceptions.NotFound(kind="backup",
                                      name=location) from None

    def delete(self, location):
        path = self.path(location)
        for name in (path, path + ".meta.json", path + ".partial"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def exists(self, location):
        path = self.path(location)
        return os.path.isfile(path) and os.path.isfile(path + ".meta.json")


def get_storage(name, **kwargs):
    """Load storage driver ``name`` from ``trove.backup.storage``.

    :raises PluginNotFound: no driver of that name is installed.
    """
    from stevedore import driver

    try:
        mgr = driver.DriverManager(STORAGE_GROUP, name, invoke_on_load=True,
                                   invoke_kwds=kwargs)
    except Exception as exc:  # stevedore raises several unrelated types
        raise exceptions.PluginNotFound(
            "no backup storage driver %r could be loaded from %s: %s"
            % (name, STORAGE_GROUP, exc), name=name, installed=[]) from exc
    return Namespace(mgr.driver)
