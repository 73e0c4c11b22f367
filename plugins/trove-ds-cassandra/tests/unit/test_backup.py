"""Unit tests of the nodetool-snapshot strategy: command lines, and the
snapshot files streamed through the real pipeline with real tar."""

import os

import pytest

from trove_core import exceptions
from trove_ds_cassandra import backup


def make_snapshot(data_dir, tag):
    """Lay out a node's data directory holding snapshot ``tag``."""
    files = {
        "shop/orders-1a2b/snapshots/%s/nb-1-big-Data.db" % tag: b"rows",
        "shop/orders-1a2b/snapshots/%s/manifest.json" % tag: b"{}",
        "shop/orders-1a2b/nb-2-big-Data.db": b"live, not in snapshot",
        "system_auth/roles-9f/snapshots/%s/nb-1-big-Data.db" % tag: b"r",
        "system/local-7c/snapshots/%s/nb-1-big-Data.db" % tag: b"tokens",
        "shop/empty-3c/nb-1-big-Data.db": b"no snapshot here",
    }
    for rel, data in files.items():
        path = os.path.join(data_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


class TestCommands:
    """nodetool and tar command lines."""

    def test_tag(self):
        """Backup ids become safe snapshot names."""
        assert backup.snapshot_tag("a/../b c") == "trove-a____b_c"

    def test_nodetool(self, cass_manager):
        """nodetool talks to the local JMX port."""
        strategy = cass_manager.backup_strategy()
        assert strategy.nodetool_argv("snapshot", "-t", "x") == [
            "nodetool", "-h", "127.0.0.1", "-p", "17199", "snapshot", "-t",
            "x"]

    def test_tar(self, cass_manager):
        """tar reads relative paths after ``--``; untar keeps no owner."""
        strategy = cass_manager.backup_strategy()
        assert strategy.tar_argv(["a/b"]) == [
            "tar", "-C", cass_manager.data_dir, "-cf", "-", "--", "a/b"]
        assert strategy.untar_argv() == [
            "tar", "-C", cass_manager.data_dir, "--no-same-owner", "-xf",
            "-"]

    def test_snapshot_dirs_skip_node_local(self, cass_manager):
        """The node-local system keyspace is never backed up."""
        make_snapshot(cass_manager.data_dir, "trove-b1")
        assert cass_manager.backup_strategy().snapshot_dirs("trove-b1") == [
            "shop/orders-1a2b/snapshots/trove-b1",
            "system_auth/roles-9f/snapshots/trove-b1"]


class TestRoundTrip:
    """Snapshot files through the shared pipeline and back."""

    @pytest.mark.parametrize("encrypted", [
        pytest.param(False, id="plain"), pytest.param(True, id="encrypted")])
    def test_stream_and_restore(self, make_cass_manager, tmp_path,
                                encrypted):
        """A restored node finds each table's snapshot files in place."""
        key = os.urandom(32) if encrypted else None
        source = make_cass_manager("source")
        make_snapshot(source.data_dir, "trove-b1")
        strategy = source.backup_strategy()
        storage = source.backup_storage()
        result = strategy.stream("trove-b1", storage, "cassandra/b1",
                                 key=key)
        assert result.encrypted is encrypted and result.raw_size > 0

        target = make_cass_manager("target")
        target.backup_strategy().restore(storage, "cassandra/b1", key=key)
        data = target.data_dir
        with open(os.path.join(data, "shop/orders-1a2b/nb-1-big-Data.db"),
                  "rb") as handle:
            assert handle.read() == b"rows"
        assert os.path.isfile(os.path.join(
            data, "system_auth/roles-9f/nb-1-big-Data.db"))
        assert not os.path.exists(os.path.join(data, "system"))
        assert not os.path.exists(os.path.join(
            data, "shop/orders-1a2b/snapshots"))
        assert not os.path.exists(os.path.join(
            data, "shop/orders-1a2b/manifest.json"))
        assert not os.path.exists(os.path.join(
            data, "shop/orders-1a2b/nb-2-big-Data.db"))

    def test_no_snapshot_files(self, cass_manager):
        """A snapshot without files is a failed backup, not an empty
        one."""
        os.makedirs(cass_manager.data_dir)
        storage = cass_manager.backup_storage()
        with pytest.raises(exceptions.BackupError,
                           match="has no files") as info:
            cass_manager.backup_strategy().stream("trove-x", storage, "b/x")
        assert info.value.backup_id == "b/x"
        assert not storage.exists("b/x")

    def test_missing_nodetool_reports_failure(self, make_cass_manager,
                                              tmp_path):
        """create_backup reports FAILED when nodetool cannot run."""
        mgr = make_cass_manager("n", nodetool_binary=os.fspath(
            tmp_path / "no-nodetool"))
        with pytest.raises(exceptions.DatastoreError,
                           match="not installed"):
            mgr.create_backup({"id": "b2"})
        states = [f["state"] for _, f in mgr.reporter.backups]
        assert states == ["BUILDING", "FAILED"]

    def test_bad_key_file(self, make_cass_manager, tmp_path):
        """A key file of the wrong size is refused, naming the option."""
        path = tmp_path / "key"
        path.write_bytes(b"short")
        mgr = make_cass_manager("n", backup_encryption_key_file=os.fspath(
            path))
        with pytest.raises(exceptions.BackupError, match="exactly 32"):
            mgr.backup_key()
