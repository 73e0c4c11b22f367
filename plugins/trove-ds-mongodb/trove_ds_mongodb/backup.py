"""The ``mongodump`` backup strategy.

A backup is ``mongodump --archive --gzip`` streamed through the shared
pipeline (:mod:`trove_guest_base.backup`); a restore feeds the stored
archive to ``mongorestore --archive --gzip`` on standard input. The admin
password reaches the tools in a 0600 YAML file given with ``--config``,
never on the command line. On a replica set the dump is consistent
(``--oplog``) and the restore replays it (``--oplogReplay``).
"""

import logging
import os

from trove_guest_base import backup as pipeline
from trove_guest_base import process

__all__ = ["ARCHIVE_MAGIC", "BackupOperations", "MongoDump",
           "archive_check"]

LOG = logging.getLogger(__name__)


#: mongodump's archive magic number (little-endian 0x8199e26d).
ARCHIVE_MAGIC = b"\x6d\xe2\x99\x81"


def archive_check(head, _tail):
    """Why mongodump's output is not an archive (or a gzip of one), or
    ``None``."""
    if head[:4] == ARCHIVE_MAGIC or head[:2] == b"\x1f\x8b":
        return None
    return "it does not start as a mongodump archive; it starts %r" % (
        head[:40],)


class MongoDump(pipeline.BackupStrategy):
    """Backups with ``mongodump``, restores with ``mongorestore``.

    :param manager: the :class:`~trove_ds_mongodb.manager.Manager` whose
        server is backed up (its options, admin credentials and state
        directory are used).
    """

    name = "mongodump"

    def __init__(self, manager):
        super().__init__(manager)
        self.options = manager.options

    def unavailable(self):
        """Name mongodump or mongorestore when not installed."""
        import shutil

        missing = [b for b in (self.options.mongodump_binary,
                               self.options.mongorestore_binary)
                   if shutil.which(b) is None]
        return ("%s not installed" % ", ".join(missing)) if missing else None

    def location(self, backup_id):
        """Dumps live under ``mongodb/`` in storage."""
        return "mongodb/%s.gz" % backup_id

    def _common_argv(self, binary, config_path, *extra):
        # every value is attached to its option (--name=value), and the
        # tools take no operands: nothing can be read as another option
        options = ["--host=127.0.0.1", "--port=%d" % self.options.port,
                   "--archive", "--gzip"]
        if config_path:
            user, _ = self.manager.admin_credentials()
            options += [process.option_value("--username", user),
                        "--authenticationDatabase=admin",
                        "--config=%s" % config_path]
        return process.command(binary, *options, *extra)

    def backup_argv(self, config_path, oplog=False):
        """The mongodump command line (no secret in it).

        :param config_path: the 0600 file holding the admin password.
        :param oplog: take a consistent dump of a replica set member.
        """
        return self._common_argv(self.options.mongodump_binary,
                                 config_path, *(["--oplog"] if oplog else []))

    def restore_argv(self, config_path=None, oplog=False):
        """The mongorestore command line (no secret in it).

        :param config_path: the 0600 file holding the admin password, or
            ``None`` for a server that does not authenticate yet (the
            bootstrap phase of ``prepare``).
        :param oplog: replay the oplog a consistent dump carries.
        """
        return self._common_argv(self.options.mongorestore_binary,
                                 config_path,
                                 *(["--oplogReplay"] if oplog else []))

    def write_tool_config(self):
        """Write the tools' ``--config`` file (0600) and return its path."""
        import yaml

        from trove_guest_base import files

        _, password = self.manager.admin_credentials()
        path = os.path.join(self.manager.state_dir, "secrets",
                            "mongodb-tools.yaml")
        files.write_secret(path, yaml.safe_dump({"password": password}))
        return path

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Stream a dump of the whole server into ``storage``.

        :returns: :class:`~trove_guest_base.backup.BackupResult`.
        :raises BackupError: mongodump failed or storage failed; nothing
            is committed then.
        """
        config_path = self.write_tool_config()
        oplog = bool(self.manager.replica_set_name)
        source = pipeline.Command(self.backup_argv(config_path, oplog),
                                  check=archive_check)
        LOG.info("backing up mongodb to %s (oplog: %s)", location, oplog)
        return pipeline.run_backup(
            source, storage, location, key=key, progress=progress,
            metadata=self.metadata(oplog=oplog))

    def restore(self, storage, location, key=None, progress=None,
                authenticated=False):
        """Feed the archive at ``location`` to mongorestore.

        :param authenticated: whether the server already requires the
            admin credentials.
        :returns: the raw bytes restored.
        :raises BackupError: checksum mismatch, wrong key, or
            mongorestore failed.
        """
        meta = storage.metadata(location)
        config_path = self.write_tool_config() if authenticated else None
        sink = pipeline.Command(self.restore_argv(
            config_path, oplog=bool(meta.get("oplog"))))
        LOG.info("restoring mongodb from %s", location)
        return pipeline.run_restore(storage, location, sink, key=key,
                                    progress=progress)


class BackupOperations(pipeline.BackupOperations):
    """The shared backup operations (``IBackup``) with MongoDB's quiesce
    for volume snapshots; mixed into
    :class:`~trove_ds_mongodb.manager.Manager`."""

    def pre_create_backup(self):
        """Flush and lock writes (``fsyncLock``)."""
        with self._admin() as adm:
            adm.client.admin.command({"fsync": 1, "lock": True})
        return {}

    def post_create_backup(self):
        """Release :meth:`pre_create_backup`'s lock."""
        with self._admin() as adm:
            adm.client.admin.command({"fsyncUnlock": 1})
