"""The ``nodetool-snapshot`` backup strategy.

A backup asks the node for a snapshot (``nodetool snapshot -t <tag>``:
hard links of every SSTable, consistent per table), streams the snapshot
directories through the shared pipeline as a ``tar`` archive, and clears
the snapshot. The node-local ``system`` keyspace (tokens, cluster name)
is left out; the schema (``system_schema``) and the roles
(``system_auth``) are kept.

A restore unpacks the archive into the empty data directory of a node
that has not started yet and moves each table's snapshot files into the
table directory, where the node finds them when it starts.
"""

import logging
import os
import re
import shutil

from trove_core import exceptions
from trove_guest_base import backup as pipeline
from trove_guest_base import process

__all__ = ["BackupOperations", "NodetoolSnapshot", "promote_snapshots",
           "snapshot_tag"]

LOG = logging.getLogger(__name__)


#: Keyspaces that belong to one node and are never backed up.
NODE_LOCAL_KEYSPACES = ("system",)
#: The nodetool options the guest itself passes (see ``nodetool_argv``).
NODETOOL_FLAGS = ("-t",)
# Files of a snapshot that are not SSTable components.
_SNAPSHOT_EXTRAS = ("manifest.json", "schema.cql")


def snapshot_tag(backup_id):
    """The snapshot name of backup ``backup_id`` (safe as a directory
    name and a nodetool argument)."""
    return "trove-" + re.sub(r"[^A-Za-z0-9_-]", "_", str(backup_id))[:100]


class NodetoolSnapshot(pipeline.BackupStrategy):
    """Snapshot backups of one Cassandra node.

    :param manager: the :class:`~trove_ds_cassandra.manager.Manager`
        (its options and data directory are used).
    """

    name = "nodetool-snapshot"

    def __init__(self, manager):
        super().__init__(manager)
        self.options = manager.options

    def unavailable(self):
        """Name nodetool when it is not installed."""
        if shutil.which(self.options.nodetool_binary) is None:
            return "%s not installed (set [cassandra] nodetool_binary)" % (
                self.options.nodetool_binary)
        return None

    def location(self, backup_id):
        """Snapshots live under ``cassandra/`` in storage."""
        return "cassandra/%s.tar.gz" % backup_id

    @property
    def data_dir(self):
        """The node's data directory."""
        return self.manager.data_dir

    def nodetool_argv(self, *args):
        """A nodetool command line against the local node.

        nodetool has no ``--``: the only options allowed in ``args`` are
        :data:`NODETOOL_FLAGS`; any other argument beginning with ``-``
        (a value that would be read as an option) is refused.

        :raises BadRequest: an argument would be read as an option.
        """
        for arg in args:
            if arg not in NODETOOL_FLAGS:
                process.option_value("nodetool argument", str(arg))
        return process.command(self.options.nodetool_binary, "-h",
                               "127.0.0.1", "-p", str(self.options.jmx_port),
                               *args)

    def nodetool(self, *args, check=True, timeout=600):
        """Run nodetool with ``args``; return its standard output."""
        result = process.run(self.nodetool_argv(*args), check=check,
                             timeout=timeout)
        return result.stdout.decode("utf-8", "replace")

    def snapshot_dirs(self, tag):
        """The snapshot directories of ``tag``, relative to the data
        directory, sorted (``<keyspace>/<table>/snapshots/<tag>``)."""
        found = []
        for keyspace in sorted(os.listdir(self.data_dir)):
            ks_dir = os.path.join(self.data_dir, keyspace)
            if keyspace in NODE_LOCAL_KEYSPACES or not os.path.isdir(ks_dir):
                continue
            for table in sorted(os.listdir(ks_dir)):
                snap = os.path.join(keyspace, table, "snapshots", tag)
                if os.path.isdir(os.path.join(self.data_dir, snap)):
                    found.append(snap)
        return found

    def tar_argv(self, relative_dirs):
        """The tar command line that writes ``relative_dirs`` to stdout."""
        return process.command("tar", "-C", self.data_dir, "-cf", "-",
                               operands=relative_dirs)

    def untar_argv(self):
        """The tar command line that unpacks stdin into the data
        directory (member names cannot leave it: GNU tar drops leading
        ``/`` and ``..``)."""
        return process.command("tar", "-C", self.data_dir,
                               "--no-same-owner", "-xf", "-")

    def stream(self, tag, storage, location, key=None, progress=None):
        """Stream the existing snapshot ``tag`` into ``storage``.

        :raises BackupError: no snapshot files, or tar or storage failed.
        """
        dirs = self.snapshot_dirs(tag)
        if not dirs:
            raise exceptions.BackupError(
                backup_id=location, reason="snapshot %r has no files under "
                "%s" % (tag, self.data_dir))
        return pipeline.run_backup(
            pipeline.Command(self.tar_argv(dirs), check=pipeline.expect_head(
                b"ustar", "a tar archive", offset=257)), storage, location,
            key=key, progress=progress,
            metadata=self.metadata(snapshot=tag, tables=len(dirs)))

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Snapshot the node, stream the snapshot, clear it.

        :returns: :class:`~trove_guest_base.backup.BackupResult`.
        """
        tag = snapshot_tag(os.path.basename(location).split(".")[0])
        self.nodetool("clearsnapshot", "-t", tag, check=False)
        self.nodetool("snapshot", "-t", tag)
        try:
            return self.stream(tag, storage, location, key=key,
                               progress=progress)
        finally:
            self.nodetool("clearsnapshot", "-t", tag, check=False)

    def restore(self, storage, location, key=None, progress=None):
        """Unpack the backup into the data directory and put each table's
        files in place. The node must not be running.

        :returns: the raw bytes restored.
        """
        meta = storage.metadata(location)
        os.makedirs(self.data_dir, exist_ok=True)
        done = pipeline.run_restore(
            storage, location, pipeline.Command(self.untar_argv()),
            key=key, progress=progress)
        moved = promote_snapshots(self.data_dir, meta.get("snapshot"))
        LOG.info("restored %d table files from %s", moved, location)
        return done


def promote_snapshots(data_dir, tag=None):
    """Move the files of each ``<ks>/<table>/snapshots/<tag>`` into
    ``<ks>/<table>`` and remove the snapshot directories.

    :param tag: the snapshot to promote; ``None`` for any.
    :returns: the number of files moved.
    """
    moved = 0
    for keyspace in sorted(os.listdir(data_dir)):
        ks_dir = os.path.join(data_dir, keyspace)
        if not os.path.isdir(ks_dir):
            continue
        for table in sorted(os.listdir(ks_dir)):
            snaps = os.path.join(ks_dir, table, "snapshots")
            if not os.path.isdir(snaps):
                continue
            for name in sorted(os.listdir(snaps)):
                if tag is not None and name != tag:
                    continue
                snap = os.path.join(snaps, name)
                for entry in sorted(os.listdir(snap)):
                    if entry in _SNAPSHOT_EXTRAS:
                        continue
                    os.replace(os.path.join(snap, entry),
                               os.path.join(ks_dir, table, entry))
                    moved += 1
            shutil.rmtree(snaps)
    return moved


class BackupOperations(pipeline.BackupOperations):
    """The shared backup operations (``IBackup``) with Cassandra's flush
    before a volume snapshot and the ownership a restore needs; mixed
    into :class:`~trove_ds_cassandra.manager.Manager`."""

    def restore_backup(self, backup_info, strategy=None, location=None):
        """Restore as the shared flow does, then give the data directory
        to the service user (``runner = systemd`` as root)."""
        done = super().restore_backup(backup_info, strategy, location)
        if self.options.runner == "systemd" and os.geteuid() == 0:
            process.run(process.command("chown", "-R", operands=[
                "%s:%s" % (self.options.service_user,
                           self.options.service_user), self.data_dir]))
        return done

    def pre_create_backup(self):
        """Flush memtables to disk (``nodetool flush``)."""
        self._nodetool("flush")
        return {}

    def post_create_backup(self):
        """Nothing to undo: a flush does not block writes."""
