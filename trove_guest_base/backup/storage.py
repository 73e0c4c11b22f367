"""Backup storage drivers, pluggable through ``trove.backup.storage``.

A driver stores opaque objects by location. Writes go to a temporary
object that becomes visible under its location only on ``commit``;
``abort`` removes it. The core ships the ``file`` driver (a directory on a
local or mounted filesystem).
"""

import abc
import contextlib
import json
import os

from trove_core import exceptions

__all__ = ["FileStorage", "StorageDriver", "get_storage"]

STORAGE_GROUP = "trove.backup.storage"


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
        os.replace(self.partial, self.final)
        files.atomic_write(self.meta, json.dumps(metadata, sort_keys=True),
                           mode=0o600)

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
        if os.path.commonpath([path, self.root]) != self.root:
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
    return mgr.driver
