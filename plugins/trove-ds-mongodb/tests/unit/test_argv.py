"""mongodump/mongorestore command lines: no user value can become an
option."""

import os

import pytest

from trove_core import exceptions
from trove_core import models
from trove_ds_mongodb import backup as backup_mod
from trove_ds_mongodb import manager as manager_mod

HOSTILE = ["--help", "--out=x", "--db=admin", "-h", "--archive=x"]


def _all_attached(argv):
    """Every argument is a bare flag we chose or ``--name=value``."""
    flags = {"--archive", "--gzip", "--oplog", "--oplogReplay"}
    return all(a in flags or (a.startswith("--") and "=" in a)
               for a in argv[1:])


class TestToolArgv:
    """Both tools, with hostile databases and users present."""

    @pytest.mark.parametrize("name", HOSTILE)
    def test_hostile_database_not_in_argv(self, mock_manager, name):
        """Databases named like options never reach the tools' argv."""
        mock_manager.create_database([models.Database(name)])
        strategy = mock_manager.backup_strategy()
        path = strategy.write_tool_config()
        for argv in (strategy.backup_argv(path, oplog=True),
                     strategy.restore_argv(path, oplog=True),
                     strategy.restore_argv(None)):
            assert name not in argv
            assert _all_attached(argv), argv

    @pytest.mark.parametrize("name", HOSTILE)
    def test_hostile_admin_name_refused(self, mock_manager, monkeypatch,
                                        name):
        """An admin name beginning with '-' is refused, not passed."""
        monkeypatch.setattr(manager_mod, "_ADMIN_NAME", name)
        strategy = mock_manager.backup_strategy()
        with pytest.raises(exceptions.BadRequest, match="begin"):
            strategy.backup_argv(strategy.write_tool_config())


class TestOutputCheck:
    """mongodump's exit 0 is not proof: its output must be an archive."""

    @pytest.mark.parametrize("head, ok", [
        pytest.param(backup_mod.ARCHIVE_MAGIC + b"rest", True,
                     id="archive"),
        pytest.param(b"\x1f\x8b\x08rest", True, id="gzip"),
        pytest.param(b"Usage:\n  mongodump <options>", False, id="help"),
        pytest.param(b"", False, id="empty"),
    ])
    def test_archive_check(self, head, ok):
        """Help text or nothing is refused before anything is stored."""
        reason = backup_mod.archive_check(head, head)
        assert (reason is None) is ok

    def test_help_output_fails_backup(self, mock_manager, tmp_path):
        """A 'mongodump' that prints help and exits 0 fails the backup;
        FAILED is reported and nothing is stored."""
        fake = tmp_path / "mongodump"
        fake.write_text("#!/bin/sh\necho 'Usage: mongodump'\n")
        fake.chmod(0o755)
        mock_manager.conf.set_override("mongodump_binary", str(fake),
                                       group="mongodb")
        with pytest.raises(exceptions.BackupError, match="not a backup"):
            mock_manager.create_backup({"id": "b1"})
        assert mock_manager.backup_storage().exists(
            "mongodb/b1.gz") is False


class TestSharedIntegrity:
    """Storage namespace, time limits and leftovers for mongodump."""

    @pytest.mark.parametrize("location", [".", "x.meta.json", "x.partial",
                                          "../x", "a//b"])
    def test_location_refused(self, mock_manager, location):
        """A location outside the namespace is refused, FAILED reported."""
        with pytest.raises(exceptions.BadRequest, match="location"):
            mock_manager.create_backup({"id": "b1", "location": location})
        assert mock_manager.reporter.last_backup("b1")["state"] == "FAILED"

    def test_stalled_tool_stopped(self, mock_manager, tmp_path):
        """A mongodump that stops producing is stopped after
        backup_stall_timeout; the guest is free again."""
        fake = tmp_path / "mongodump"
        fake.write_text("#!/bin/sh\nexec sleep 60\n")
        fake.chmod(0o755)
        mock_manager.conf.set_override("mongodump_binary", str(fake),
                                       group="mongodb")
        mock_manager.conf.set_override("backup_stall_timeout", 1,
                                       group="mongodb")
        with pytest.raises(exceptions.BackupError, match="no data for 1 s"):
            mock_manager.create_backup({"id": "b2"})

    def test_interrupted_backup_settled(self, mock_manager):
        """A backup journaled as running when the guest died is reported
        FAILED at start and its partial removed."""
        storage = mock_manager.backup_storage()
        writer = storage.open_writer("mongodb/b3.gz")
        writer.write(b"half")
        writer._handle.close()
        mock_manager._journal("b3", "mongodb/b3.gz")
        assert mock_manager.recover_after_restart() == {"b3": "FAILED"}
        assert not os.path.exists(os.path.join(
            storage.root, "mongodb/b3.gz.partial"))


class TestUnsecuredLeftover:
    """A server a killed prepare left without authentication is stopped
    when the next guest starts."""

    def test_stopped_at_start(self, mock_manager, monkeypatch):
        """recover_after_restart stops it and clears the mark."""
        mgr = mock_manager
        stopped = []
        monkeypatch.setattr(mgr, "do_stop", lambda: stopped.append(1))
        mgr._save_state(unsecured=True)
        mgr.recover_after_restart()
        assert stopped == [1]
        assert not mgr._state.get("unsecured")
        mgr.recover_after_restart()
        assert stopped == [1]
