"""Tests of the strategy contract and the shared backup flow
(trove_guest_base.backup.strategy and .operations)."""

import os

import pytest

from trove_core import exceptions
from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import Strategy
from trove_guest_base.testing import helpers
from trove_guest_base import backup

DESCRIPTOR = DatastoreDescriptor(
    name="fake", tier="experimental",
    capabilities={"lifecycle", "backup"},
    strategies=(
        Strategy("teststrat-good", "backup", "stable"),
        Strategy("teststrat-boom", "backup", "stable"),
        Strategy("teststrat-notsub", "backup", "stable"),
        Strategy("teststrat-missing", "backup", "stable"),
        Strategy("teststrat-undeclared-ep", "backup", "stable"),
        Strategy("teststrat-exp", "backup", "experimental"),
        Strategy("teststrat-repl", "replication", "stable"),
    ))


@pytest.fixture
def manager(tmp_path):
    """A fake manager whose descriptor declares the test strategies."""
    mgr = helpers.make_fake_manager(tmp_path)
    mgr.descriptor = DESCRIPTOR
    mgr.conf.set_override("allowed_tiers", ["stable"])
    mgr.conf.set_override("backup_strategy", "teststrat-good",
                          group="fake")
    mgr.payload = str(tmp_path / "payload")
    mgr.restored = str(tmp_path / "restored")
    with open(mgr.payload, "wb") as handle:
        handle.write(b"payload bytes")
    return mgr


class TestLoadStrategy:
    """load_strategy checks declaration, tier, installation and type."""

    def test_loads_declared(self, manager):
        """A declared, allowed, installed subclass is built with the
        manager."""
        strategy = backup.load_strategy(manager, "backup",
                                        "teststrat-good")
        assert isinstance(strategy, backup.BackupStrategy)
        assert strategy.manager is manager
        assert strategy.name == "teststrat-good"

    def test_default_from_option(self, manager):
        """Without a name the guest option names the strategy."""
        assert backup.load_strategy(manager, "backup").name == \
            "teststrat-good"

    def test_replication_kind(self, manager):
        """Replication strategies load from their own group."""
        strategy = backup.load_strategy(manager, "replication",
                                        "teststrat-repl")
        assert isinstance(strategy, backup.ReplicationStrategy)

    def test_nothing_configured(self, manager):
        """No name and no option is refused, naming the option."""
        manager.conf.clear_override("backup_strategy", group="fake")
        manager.conf.set_override("backup_strategy", None, group="fake")
        with pytest.raises(exceptions.BadRequest,
                           match=r"set \[fake\] backup_strategy") as info:
            backup.load_strategy(manager, "backup")
        assert "teststrat-good" in info.value.reason

    @pytest.mark.parametrize("name, kind", [
        pytest.param("nope", "backup", id="undeclared"),
        pytest.param("teststrat-repl", "backup", id="other-kind"),
    ])
    def test_undeclared_refused(self, manager, name, kind):
        """A name the descriptor does not declare for that kind is
        refused, listing the declared ones."""
        with pytest.raises(exceptions.BadRequest,
                           match="declares no backup strategy %r" % name
                           ) as info:
            backup.load_strategy(manager, kind, name)
        assert "'teststrat-good'" in info.value.reason
        assert "teststrat-repl" not in info.value.reason.split(
            "declared:")[1]

    def test_unknown_kind(self, manager):
        """Only backup and replication are strategy kinds."""
        with pytest.raises(exceptions.BadRequest,
                           match="unknown strategy kind") as info:
            backup.load_strategy(manager, "sharding", "x")
        assert "backup" in info.value.reason

    def test_tier_refused(self, manager):
        """The tier policy refuses an experimental strategy, naming the
        option that would allow it."""
        with pytest.raises(exceptions.TierNotAllowed,
                           match=r"set \[DEFAULT\] allowed_tiers") as info:
            backup.load_strategy(manager, "backup", "teststrat-exp")
        assert info.value.kind == "backup strategy"
        assert info.value.tier == "experimental"

    def test_default_policy_without_option(self, manager):
        """A conf without allowed_tiers gets the default policy."""
        from oslo_config import cfg

        manager.conf = cfg.ConfigOpts()
        manager.conf([], default_config_files=[])
        with pytest.raises(exceptions.TierNotAllowed) as info:
            backup.load_strategy(manager, "backup", "teststrat-exp")
        assert info.value.allowed == ["stable", "technical-preview"]

    @pytest.mark.parametrize("name", [
        pytest.param("teststrat-undeclared-ep", id="no-entry-point"),
        pytest.param("teststrat-missing", id="module-missing"),
    ])
    def test_not_installed(self, manager, name):
        """A declared strategy that does not load says so."""
        with pytest.raises(exceptions.PluginNotFound,
                           match="trove.guestagent.backup_strategies"
                           ) as info:
            backup.load_strategy(manager, "backup", name)
        assert info.value.name == name

    def test_not_a_subclass(self, manager):
        """A registered class that is not a BackupStrategy is refused."""
        with pytest.raises(exceptions.PluginValidationError,
                           match="not a subclass of") as info:
            backup.load_strategy(manager, "backup", "teststrat-notsub")
        assert "BackupStrategy" in info.value.reason


class TestReadKey:
    """The backup key file: 32 bytes or 64 hex digits, mode 0600."""

    def _write(self, tmp_path, data, mode=0o600):
        path = tmp_path / "key"
        path.write_bytes(data)
        path.chmod(mode)
        return str(path)

    @pytest.mark.parametrize("data", [
        pytest.param(b"k" * 32, id="raw"),
        pytest.param(b"6b" * 32 + b"\n", id="hex"),
    ])
    def test_good(self, tmp_path, data):
        """Both spellings give the same 32 bytes."""
        assert backup.read_key(self._write(tmp_path, data)) == b"k" * 32

    def test_wrong_size(self, tmp_path):
        """A short key is refused, naming the option."""
        with pytest.raises(exceptions.BackupKeyError,
                           match="exactly 32") as info:
            backup.read_key(self._write(tmp_path, b"short"))
        assert "backup_encryption_key_file" in info.value.reason
        assert isinstance(info.value, exceptions.BadRequest)

    def test_readable_by_others(self, tmp_path):
        """A key file others may read is refused."""
        with pytest.raises(exceptions.BackupKeyError,
                           match="chmod 600") as info:
            backup.read_key(self._write(tmp_path, b"k" * 32, 0o644))
        assert "0644" in info.value.reason

    def test_missing(self, tmp_path):
        """An unreadable file is refused with the OS reason."""
        with pytest.raises(exceptions.BackupKeyError,
                           match="cannot read"):
            backup.read_key(str(tmp_path / "absent"))


class TestSharedFlow:
    """create_backup and restore_backup around any strategy."""

    def test_round_trip(self, manager):
        """BUILDING then COMPLETED with Trove's fields; the restore
        verifies and writes the data."""
        result = manager.create_backup({"id": "b1"})
        states = [f["state"] for _, f in manager.reporter.backups]
        assert states == ["BUILDING", "COMPLETED"]
        done = manager.reporter.last_backup("b1")
        assert done["backup_type"] == "full"
        assert done["location"] == "b1.gz" == result.location
        assert done["checksum"] == result.checksum
        assert done["size"] == result.size / 1024.0 ** 3
        manager.restore_backup({"id": "b1", "location": result.location,
                                "checksum": result.checksum})
        with open(manager.restored, "rb") as handle:
            assert handle.read() == b"payload bytes"

    def test_untyped_failure_wrapped(self, manager):
        """An untyped error is reported FAILED and raised as
        BackupError."""
        with pytest.raises(exceptions.BackupError,
                           match="the tool broke") as info:
            manager.create_backup({"id": "b2", "type": "teststrat-boom"})
        assert info.value.backup_id == "b2"
        failed = manager.reporter.last_backup("b2")
        assert failed["state"] == "FAILED"
        assert "RuntimeError" in failed["reason"]
        assert all(f["state"] != "COMPLETED"
                   for _, f in manager.reporter.backups)

    def test_incremental_refused(self, manager):
        """A parent for a strategy without incrementals fails early."""
        with pytest.raises(exceptions.BadRequest,
                           match="cannot make incremental") as info:
            manager.create_backup({"id": "b3", "parent": {
                "location": "b1.gz"}})
        assert "teststrat-good" in info.value.reason
        assert manager.reporter.last_backup("b3")["state"] == "FAILED"

    def test_parent_picks_an_incremental_strategy(self, manager,
                                                  monkeypatch):
        """Trove sends no type: with a parent, the declared strategy
        that makes incremental backups is used, and the record says
        ``incremental``."""
        from trove_test_plugins import strategies

        monkeypatch.setattr(strategies.BoomBackup, "incremental", True)
        with pytest.raises(exceptions.BackupError, match="the tool broke"):
            manager.create_backup({"id": "b7", "parent": {
                "location": "b1.gz", "checksum": "x"}})
        updates = [f for i, f in manager.reporter.backups if i == "b7"]
        assert [u["backup_type"] for u in updates] == ["incremental"] * 2

    def test_failure_reason_in_description(self, manager):
        """The reason travels in ``description``, a field Trove's backup
        record keeps, after the user's own description."""
        with pytest.raises(exceptions.BackupError):
            manager.create_backup({"id": "b8", "type": "teststrat-boom",
                                   "description": "nightly"})
        failed = manager.reporter.last_backup("b8")
        assert failed["state"] == "FAILED" and failed["success"] is False
        assert failed["backup_type"] == "full"
        assert failed["description"].startswith(
            "nightly (backup failed: RuntimeError: the tool broke")

    def test_unknown_storage_driver_reported_failed(self, manager, tmp_path):
        """backup_info naming a storage driver nobody installed fails with
        the reason in the description; nothing is written."""
        with pytest.raises(exceptions.PluginNotFound, match="'nosuch'"):
            manager.create_backup({"id": "b9", "storage_driver": "nosuch"})
        failed = manager.reporter.last_backup("b9")
        assert failed["state"] == "FAILED"
        assert "no backup storage driver 'nosuch'" in failed["description"]
        root = manager.options.backup_storage_root
        assert not os.path.exists(root) or not os.listdir(root)

    def test_undeclared_type_reported_failed(self, manager):
        """A type the datastore does not declare is reported FAILED."""
        with pytest.raises(exceptions.BadRequest, match="declares no"):
            manager.create_backup({"id": "b4", "type": "nope"})
        assert manager.reporter.last_backup("b4")["state"] == "FAILED"

    def test_checksum_mismatch_refused(self, manager):
        """The control plane's checksum must equal the stored one."""
        result = manager.create_backup({"id": "b5"})
        with pytest.raises(exceptions.BackupError,
                           match="expects checksum") as info:
            manager.restore_backup({"id": "b5", "location": result.location,
                                    "checksum": "sha256:" + "0" * 64})
        assert info.value.backup_id == "b5"
        assert not os.path.exists(manager.restored)

    def test_encrypted_with_key_file(self, manager, tmp_path):
        """A configured key file encrypts; the restore needs it."""
        key = tmp_path / "backup.key"
        key.write_bytes(os.urandom(32))
        key.chmod(0o600)
        manager.conf.set_override("backup_encryption_key_file", str(key),
                                  group="fake")
        result = manager.create_backup({"id": "b6"})
        assert result.encrypted
        manager.conf.clear_override("backup_encryption_key_file",
                                    group="fake")
        with pytest.raises(exceptions.BackupError, match="give its key"):
            manager.restore_backup({"id": "b6",
                                    "location": result.location})
