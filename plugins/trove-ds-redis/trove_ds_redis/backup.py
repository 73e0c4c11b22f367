"""The ``redis-rdb`` backup strategy: RDB snapshots through the shared
pipeline.

A backup asks the server for a fresh snapshot (``BGSAVE``), waits until
that very save finished (``rdb_saves`` moved on) and succeeded
(``rdb_last_bgsave_status: ok``), then streams the RDB file through
:func:`trove_guest_base.backup.run_backup` (gzip, optional encryption,
SHA-256, storage). Redis writes a snapshot to a temporary file and renames
it, so the file read is always one complete point-in-time snapshot.

With the AOF enabled the backup is the same RDB snapshot: it holds the
whole dataset at one instant. A restore places it as ``dump.rdb``, removes
the AOF directory, starts with the AOF off so Redis loads the RDB, then
turns the AOF on, which makes Redis write a new AOF base from the data
(the manager does those steps).

The RDB holds no users: the ACL file (hashed passwords only) is stored
beside the backup as ``<location>.acl``, through the same pipeline (and
key); a restore brings its tenant users back, keeping the new instance's
own admin and root accounts.

Registered as ``redis-rdb`` in ``trove.guestagent.backup_strategies``; the
reporting, storage, key and checksum checks around it are the shared
:class:`trove_guest_base.backup.BackupOperations`.
"""

import logging
import os
import shutil

from trove_core import exceptions
from trove_guest_base import backup as pipeline

__all__ = ["RedisRDBBackup"]

LOG = logging.getLogger(__name__)


#: accounts of the guest itself: a restore keeps the new instance's own.
_OWN_USERS = ("default", "os_admin", "os_repl")


def merge_acl(own, restored):
    """The ACL file text of a restored instance: its own accounts from
    ``own``, every tenant user from ``restored``."""
    def users(text):
        return [line for line in text.splitlines()
                if line.startswith("user ")]
    kept = [line for line in users(own)
            if line.split()[1] in _OWN_USERS]
    tenants = [line for line in users(restored)
               if line.split()[1] not in _OWN_USERS]
    return "\n".join(kept + tenants) + "\n"


class RedisRDBBackup(pipeline.BackupStrategy):
    """Back up and restore RDB snapshots.

    :param manager: the :class:`~trove_ds_redis.manager.Manager` whose
        server, options and reporter are used.
    """

    name = "redis-rdb"
    suffix = ".rdb.gz"
    sidecars = (".acl",)

    def snapshot(self, timeout=None):
        """Run a ``BGSAVE`` and wait until it completed successfully.

        :returns: the path of the RDB file holding the snapshot.
        :raises BackupError: the save failed or did not finish in time.
        """
        client = self.manager.client()
        before = client.info("persistence")["rdb_saves"]
        # SCHEDULE queues the save behind a running AOF rewrite instead of
        # failing; a save already running does not count as ours.
        client.execute_command("BGSAVE", "SCHEDULE")

        def finished():
            info = client.info("persistence")
            # rdb_saves counts a save when it forks, so a larger count with
            # no save in progress means ours (or a later one) has ended.
            if info["rdb_saves"] > before and not info[
                    "rdb_bgsave_in_progress"]:
                return info
            return False

        info = self.manager.wait_for(finished, "BGSAVE",
                                     timeout or 24 * 3600)
        if info["rdb_last_bgsave_status"] != "ok":
            raise exceptions.BackupError(
                backup_id="-", reason="BGSAVE failed (rdb_last_bgsave_"
                "status=%s); see the Redis log"
                % info["rdb_last_bgsave_status"])
        return self.manager.rdb_path

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Snapshot, then stream the RDB file to ``storage``.

        :returns: the :class:`~trove_guest_base.backup.BackupResult`.
        :raises BackupError: the save or the upload failed; nothing is
            committed then.
        """
        path = self.snapshot()
        self.manager._acl_save(self.manager.client())
        result = pipeline.run_backup(
            pipeline.File(path, check=pipeline.expect_head(
                b"REDIS", "an RDB file")), storage, location, key=key,
            progress=progress,
            metadata=self.metadata(aof=self.manager.aof_wanted()))
        try:
            pipeline.run_backup(
                pipeline.File(self.manager.acl_file), storage,
                location + ".acl", key=key, metadata=self.metadata(
                    of=location))
        except BaseException:
            storage.delete(location)
            raise
        return result

    def restore(self, storage, location, key=None, progress=None):
        """Verify the backup, place it as ``dump.rdb`` and remove the AOF
        so the server loads the RDB on its next start.

        :returns: the bytes restored.
        :raises BadRequest: the server runs (stop it first).
        :raises BackupError: missing or corrupt backup; the data
            directory is left untouched then.
        """
        if self.manager.runner.is_running():
            raise exceptions.BadRequest(
                reason="redis-server is running; a restore needs it "
                "stopped")
        done = pipeline.run_restore(storage, location,
                                    pipeline.File(self.manager.rdb_path),
                                    key=key, progress=progress)
        if storage.exists(location + ".acl"):
            self._restore_users(storage, location + ".acl", key)
        if self.manager.service_owner:
            shutil.chown(self.manager.rdb_path,
                         user=self.manager.service_owner)
        if os.path.isdir(self.manager.aof_dir):
            shutil.rmtree(self.manager.aof_dir)
        LOG.info("restored %d bytes from %s", done, location)
        return done

    def _restore_users(self, storage, location, key):
        from trove_guest_base import files

        acl_file = self.manager.acl_file
        scratch = acl_file + ".restored"
        pipeline.run_restore(storage, location, pipeline.File(scratch),
                             key=key)
        try:
            with open(scratch, encoding="utf-8") as handle:
                restored = handle.read()
            own = ""
            if os.path.exists(acl_file):
                with open(acl_file, encoding="utf-8") as handle:
                    own = handle.read()
            files.atomic_write(acl_file, merge_acl(own, restored),
                               mode=0o600, owner=self.manager.service_owner)
        finally:
            os.unlink(scratch)
