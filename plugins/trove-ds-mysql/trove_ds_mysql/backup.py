"""Backup strategies of the MySQL datastore.

Both stream through the shared pipeline
(:func:`trove_guest_base.backup.run_backup`: tool -> gzip -> optional
encryption -> sha256 -> storage), so memory stays bounded and a failed or
killed tool never leaves a committed object.

``mysqldump`` (logical)
    ``mariadb-dump --single-transaction`` of every user database plus the
    user accounts and grants; restored into a running server.
``mariabackup`` (physical)
    ``mariabackup --backup --stream=xbstream``, full or incremental (from
    the parent's LSN, kept beside it as ``<location>.checkpoints``);
    restored into an empty data directory before the server starts.

Both subclass :class:`trove_guest_base.backup.BackupStrategy` and are
registered in ``trove.guestagent.backup_strategies`` under their
:attr:`name`; the manager's shared flow
(:class:`trove_guest_base.backup.BackupOperations`) reports and restores.
"""

import contextlib
import logging
import os
import shutil
import tempfile

from trove_core import exceptions
from trove_guest_base import backup as pipeline
from trove_guest_base import process
from trove_guest_base.backup import pipeline as pipeline_mod

__all__ = ["MariaBackup", "MySQLBackupStrategy", "MySQLDump",
           "TROVE_TYPES"]

LOG = logging.getLogger(__name__)

#: Trove's backup type names -> our strategy names.
TROVE_TYPES = {"InnoBackupEx": "mariabackup",
               "InnoBackupExIncremental": "mariabackup",
               "MariaBackup": "mariabackup", "MySQLDump": "mysqldump"}


#: what a complete dump ends with (the tool writes it last).
DUMP_CHECK = pipeline.expect_tail(b"-- Dump completed", "a complete dump")
#: what an xbstream archive starts with.
XBSTREAM_CHECK = pipeline.expect_head(b"XBSTCK01", "an xbstream archive")


class MySQLBackupStrategy(pipeline.BackupStrategy):
    """A way to back up and restore the server.

    :param manager: the :class:`~trove_ds_mysql.manager.Manager`.
    """

    #: whether :meth:`restore` needs the server running (logical) or an
    #: empty, stopped data directory (physical).
    restore_online = True

    #: the options naming the programs it runs.
    tools = ()

    def __init__(self, manager):
        super().__init__(manager)
        self.server = manager.server

    def unavailable(self):
        """Name the programs this strategy needs that are not installed,
        or ``None``."""
        missing = [getattr(self.server.options, opt) for opt in self.tools
                   if shutil.which(getattr(self.server.options, opt))
                   is None]
        if missing:
            return "%s not installed (set the [mysql] %s options)" % (
                ", ".join(missing), ", ".join(self.tools))
        return None


class MySQLDump(MySQLBackupStrategy):
    """Logical backups with ``mariadb-dump``."""

    name = "mysqldump"
    suffix = ".sql.gz"
    tools = ("dump_binary", "client_binary")

    def _argv(self, databases):
        """The dump command line; database names are operands after
        ``--`` (a database named ``--result-file=x`` is dumped, not
        obeyed)."""
        options = ["--defaults-file=%s" % self.manager.tool_config(),
                   "--single-transaction", "--quick", "--routines",
                   "--events", "--triggers", "--hex-blob",
                   "--system=users", "--insert-ignore"]
        if databases:
            options.append("--databases")
        return process.command(self.server.options.dump_binary, *options,
                               operands=databases)

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        if parent:
            raise exceptions.BadRequest(
                reason="mysqldump backups cannot be incremental; use the "
                "mariabackup strategy")
        databases = [d.name for d in self.manager.admin.list_databases()[0]]
        return pipeline.run_backup(
            pipeline.Command(self._argv(databases), check=DUMP_CHECK),
            storage, location,
            key=key, progress=progress,
            metadata=self.metadata(databases=databases))

    def restore(self, storage, location, key=None, progress=None):
        """Feed the dump to the running server, then reset the admin
        account (the dump's grants carry the source's password hash)."""
        sink = pipeline.Command(process.command(
            self.server.options.client_binary,
            "--defaults-file=%s" % self.manager.tool_config()))
        pipeline.run_restore(storage, location, sink, key=key,
                             progress=progress)
        self.manager.reset_admin()
        return {}


def _checkpoints(path):
    values = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


class MariaBackup(MySQLBackupStrategy):
    """Physical backups with ``mariabackup``, full and incremental."""

    name = "mariabackup"
    suffix = ".xbstream.gz"
    tools = ("backup_binary", "xbstream_binary")
    restore_online = False
    incremental = True
    sidecars = (".checkpoints",)

    @contextlib.contextmanager
    def _scratch(self):
        base = self.manager.scratch_dir()
        os.makedirs(base, mode=0o700, exist_ok=True)
        path = tempfile.mkdtemp(prefix="mariabackup-", dir=base)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _parent_lsn(self, storage, parent, scratch):
        lsn = storage.metadata(parent["location"]).get("to_lsn")
        if lsn:
            return lsn
        target = os.path.join(scratch, "parent_checkpoints")
        pipeline.run_restore(storage, parent["location"] + ".checkpoints",
                             pipeline.File(target))
        return _checkpoints(target)["to_lsn"]

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        with self._scratch() as scratch:
            lsn_dir = os.path.join(scratch, "lsn")
            options = ["--defaults-file=%s"
                       % self.manager.tool_config(with_server=True),
                       "--backup", "--stream=xbstream",
                       "--target-dir=%s" % os.path.join(scratch, "target"),
                       "--extra-lsndir=%s" % lsn_dir]
            metadata = self.metadata(incremental=False)
            if parent:
                lsn = self._parent_lsn(storage, parent, scratch)
                if not lsn.isdigit():
                    raise exceptions.BackupError(
                        backup_id=location, reason="the parent's "
                        "checkpoints hold no LSN (to_lsn=%s); back up "
                        "without a parent" % exceptions.bounded(lsn))
                options.append("--incremental-lsn=%s" % lsn)
                metadata.update(incremental=True,
                                parent_location=parent["location"],
                                parent_checksum=parent.get("checksum"))
            argv = process.command(self.server.options.backup_binary,
                                   *options)
            result = pipeline.run_backup(
                pipeline.Command(argv, check=XBSTREAM_CHECK), storage,
                location, key=key,
                progress=progress, metadata=metadata)
            checkpoints = os.path.join(lsn_dir, "xtrabackup_checkpoints")
            try:
                if hasattr(storage, "update_metadata"):
                    # an object store keeps the LSNs with the object:
                    # Trove deletes one object, and leaves no sidecar
                    storage.update_metadata(location, {
                        k: v for k, v in _checkpoints(checkpoints).items()
                        if k in ("from_lsn", "to_lsn",
                                 "last_lsn")})
                else:
                    pipeline.run_backup(
                        pipeline.File(checkpoints), storage,
                        location + ".checkpoints",
                        metadata=self.metadata(of=location))
            except BaseException:
                storage.delete(location)
                raise
        return result

    def _chain(self, storage, location):
        chain = [location]
        seen = {location}
        while True:
            parent = storage.metadata(chain[0]).get("parent_location")
            if not parent:
                return chain
            if parent in seen:
                raise exceptions.BackupError(
                    backup_id=location, reason="backup chain loops at %r"
                    % parent)
            seen.add(parent)
            chain.insert(0, parent)

    def restore(self, storage, location, key=None, progress=None):
        binary = self.server.options.backup_binary
        data_dir = self.server.data_dir
        if not self.server.is_empty():
            raise exceptions.BackupError(
                backup_id=location, reason="data directory %r is not "
                "empty; a physical restore needs an empty one" % data_dir)
        chain = self._chain(storage, location)
        for link in chain:
            pipeline_mod.verify(storage, link)
        with self._scratch() as scratch:
            dirs = []
            for index, link in enumerate(chain):
                target = os.path.join(scratch, "part%03d" % index)
                os.makedirs(target)
                pipeline.run_restore(
                    storage, link, pipeline.Command(process.command(
                        self.server.options.xbstream_binary, "-x",
                        "--directory=%s" % target)), key=key,
                    progress=progress)
                dirs.append(target)
            timeout = 24 * 3600
            process.run(process.command(
                binary, "--prepare", "--target-dir=%s" % dirs[0]),
                timeout=timeout)
            for inc in dirs[1:]:
                process.run(process.command(
                    binary, "--prepare", "--target-dir=%s" % dirs[0],
                    "--incremental-dir=%s" % inc), timeout=timeout)
            facts = self._binlog_info(dirs[-1])
            os.makedirs(data_dir, exist_ok=True)
            process.run(process.command(
                binary, "--move-back", "--target-dir=%s" % dirs[0],
                "--datadir=%s" % data_dir), timeout=timeout)
        self.server.chown_tree(data_dir)
        LOG.info("restored %d physical backup(s) into %s", len(chain),
                 data_dir)
        return facts

    @staticmethod
    def _binlog_info(directory):
        path = os.path.join(directory, "xtrabackup_binlog_info")
        try:
            with open(path, encoding="utf-8") as handle:
                fields = handle.read().split()
        except FileNotFoundError:
            return {}
        facts = {}
        if len(fields) >= 2:
            facts.update(binlog_file=fields[0], binlog_pos=fields[1])
        if len(fields) >= 3:
            facts["gtid"] = fields[2]
        return facts
