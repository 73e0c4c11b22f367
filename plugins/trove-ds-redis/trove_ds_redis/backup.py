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

Redis keeps its ACL users outside the RDB, so the Trove users (not the
guest's own accounts) go with the snapshot: their ``ACL LIST`` rules
(hashed passwords, key patterns) are a second object of the backup,
``<location>.acl``, through the same pipeline (encrypted with the same
key, checksummed). A restore checks every rule names a valid Trove user
and appends them to the new server's ACL file before it starts.

Registered as ``redis-rdb`` in ``trove.guestagent.backup_strategies``; the
reporting, storage, key and checksum checks around it are the shared
:class:`trove_guest_base.backup.BackupOperations`.
"""

import logging
import os
import shutil
import tempfile

from trove_core import exceptions
from trove_guest_base import backup as pipeline
from trove_guest_base import net

#: the second object of a backup: the Trove users' ACL rules
USERS_SUFFIX = ".acl"
#: first and longest pause (s) between looks at a running BGSAVE.
POLL = (0.01, 0.05)

__all__ = ["RedisRDBBackup"]

LOG = logging.getLogger(__name__)


class RedisRDBBackup(pipeline.BackupStrategy):
    """Back up and restore RDB snapshots.

    :param manager: the :class:`~trove_ds_redis.manager.Manager` whose
        server, options and reporter are used.
    """

    name = "redis-rdb"
    suffix = ".rdb.gz"
    sidecars = (USERS_SUFFIX,)

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

        # a small save ends in tens of milliseconds: poll at 10-50 ms,
        # not at the manager's readiness pace (up to 0.5 s)
        info = net.wait_until(finished, timeout or 24 * 3600, "BGSAVE",
                              interval=POLL[0], max_interval=POLL[1])
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
        rules = self._user_rules()
        path = self.snapshot()
        result = pipeline.run_backup(
            pipeline.File(path, check=pipeline.expect_head(
                b"REDIS", "an RDB file")), storage, location, key=key,
            progress=progress,
            metadata=self.metadata(aof=self.manager.aof_wanted(),
                                   users=len(rules)))
        if rules:
            # The users are part of the backup: without them the backup
            # is not committed.
            try:
                with self._scratch() as scratch:
                    with open(scratch, "w", encoding="utf-8") as handle:
                        handle.write("".join(r + "\n" for r in rules))
                    pipeline.run_backup(pipeline.File(scratch), storage,
                                        location + USERS_SUFFIX, key=key,
                                        metadata=self.metadata(
                                            users=len(rules), of=location))
            except BaseException:
                storage.delete(location)
                raise
        return result

    def _user_rules(self):
        """The ``ACL LIST`` rules of the Trove users (not the guest's,
        replication's or the superuser's)."""
        from trove_ds_redis import manager as redis_manager

        own = {redis_manager.ROOT_USER, redis_manager.ADMIN_USER,
               redis_manager.REPLICATION_USER}
        rules = []
        for rule in self.manager.client().execute_command("ACL", "LIST"):
            rule = rule.decode() if isinstance(rule, bytes) else rule
            parts = rule.split(" ", 2)
            if len(parts) > 1 and parts[1] not in own:
                rules.append(rule)
        return rules

    def _scratch(self):
        """A private temporary file in the guest's state directory."""
        import contextlib

        @contextlib.contextmanager
        def scratch():
            os.makedirs(self.manager.state_dir, exist_ok=True)
            fd, path = tempfile.mkstemp(dir=self.manager.state_dir,
                                        prefix=".users-")
            os.close(fd)
            try:
                yield path
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return scratch()

    def _restore_users(self, storage, location, key):
        """Append the backup's Trove users to the ACL file."""
        from trove_ds_redis import manager as redis_manager
        from trove_ds_redis import users as acl

        if not storage.exists(location + USERS_SUFFIX):
            return 0
        reserved = (redis_manager.ROOT_USER, redis_manager.ADMIN_USER,
                    redis_manager.REPLICATION_USER)
        with self._scratch() as scratch:
            pipeline.run_restore(storage, location + USERS_SUFFIX,
                                 pipeline.File(scratch), key=key)
            with open(scratch, encoding="utf-8") as handle:
                rules = [line.rstrip("\n") for line in handle if line.strip()]
        for rule in rules:
            parts = rule.split(" ")
            if len(parts) < 3 or parts[0] != "user" or "\r" in rule:
                raise exceptions.BackupError(
                    backup_id="-", reason="the users of backup %s hold a "
                    "line that is not an ACL user rule; refusing it"
                    % location)
            try:
                acl.check_user_name(parts[1], reserved=reserved)
            except exceptions.InvalidIdentifier as exc:
                raise exceptions.BackupError(
                    backup_id="-", reason="the users of backup %s: %s"
                    % (location, exc)) from None
        with open(self.manager.acl_file, "a", encoding="utf-8") as handle:
            handle.write("".join(r + "\n" for r in rules))
        return len(rules)

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
        if self.manager.service_owner:
            shutil.chown(self.manager.rdb_path,
                         user=self.manager.service_owner)
        if os.path.isdir(self.manager.aof_dir):
            shutil.rmtree(self.manager.aof_dir)
        users = self._restore_users(storage, location, key)
        LOG.info("restored %d bytes and %d users from %s", done, users,
                 location)
        return done
