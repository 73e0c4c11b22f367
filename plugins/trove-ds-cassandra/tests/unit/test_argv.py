"""nodetool and tar command lines: no user value can become an option."""

import pytest

from trove_core import exceptions
from trove_ds_cassandra import backup

HOSTILE = ["--help", "-h", "--tag=x", "-p", "--print-port", "-"]


class TestNodetool:
    """nodetool has no ``--``: values are checked instead."""

    @pytest.mark.parametrize("value", HOSTILE)
    def test_hostile_value_refused(self, cass_manager, value):
        """A value that nodetool would read as an option is refused."""
        strategy = cass_manager.backup_strategy()
        with pytest.raises(exceptions.BadRequest, match="begin"):
            strategy.nodetool_argv("snapshot", "-t", value)

    @pytest.mark.parametrize("backup_id", HOSTILE + ["--", "a b"])
    def test_tag_from_any_id_is_safe(self, cass_manager, backup_id):
        """Any backup id gives a tag nodetool reads as a value."""
        tag = backup.snapshot_tag(backup_id)
        argv = cass_manager.backup_strategy().nodetool_argv(
            "snapshot", "-t", tag)
        assert argv[-2:] == ["-t", tag] and tag.startswith("trove-")

    def test_override_values(self, cass_manager):
        """A live override's nodetool arguments pass the same check."""
        strategy = cass_manager.backup_strategy()
        assert strategy.nodetool_argv("setcompactionthroughput", "64")[
            -2:] == ["setcompactionthroughput", "64"]
        with pytest.raises(exceptions.BadRequest):
            strategy.nodetool_argv("setcompactionthroughput", "-1")


class TestTar:
    """tar reads member names after ``--``."""

    @pytest.mark.parametrize("name", HOSTILE)
    def test_hostile_dir_is_operand(self, cass_manager, name):
        """A keyspace directory named like an option stays an operand."""
        argv = cass_manager.backup_strategy().tar_argv(
            ["%s/t/snapshots/x" % name, name])
        assert argv[argv.index("--") + 1:] == [
            "%s/t/snapshots/x" % name, name]


class TestOutputCheck:
    """tar's exit 0 is not proof: its output must be a tar archive."""

    def test_help_output_fails_backup(self, cass_manager, tmp_path,
                                      monkeypatch):
        """A 'tar' that prints help and exits 0 fails the stream; nothing
        is stored."""
        from trove_guest_base import backup as pipeline

        strategy = cass_manager.backup_strategy()
        monkeypatch.setattr(strategy, "snapshot_dirs", lambda tag: ["x"])
        monkeypatch.setattr(strategy, "tar_argv", lambda dirs: [
            "sh", "-c", "echo 'Usage: tar [OPTION...]'"])
        storage = pipeline.get_storage("file", root=str(tmp_path / "st"))
        with pytest.raises(exceptions.BackupError, match="tar archive"):
            strategy.stream("t", storage, "cassandra/b1.tar.gz")
        assert not storage.exists("cassandra/b1.tar.gz")


class TestSharedIntegrity:
    """Storage namespace, time limits and leftovers for snapshots."""

    @pytest.mark.parametrize("location", [".", "x.meta.json", "x.partial",
                                          "../x", "a//b"])
    def test_location_refused(self, cass_manager, location):
        """A location outside the namespace is refused, FAILED reported."""
        with pytest.raises(exceptions.BadRequest, match="location"):
            cass_manager.create_backup({"id": "b1", "location": location})
        assert cass_manager.reporter.last_backup("b1")["state"] == "FAILED"

    def test_stalled_tar_stopped(self, cass_manager, tmp_path,
                                 monkeypatch):
        """A tar that stops producing is stopped, with the reason."""
        from trove_guest_base import backup as pipeline

        strategy = cass_manager.backup_strategy()
        monkeypatch.setattr(strategy, "snapshot_dirs", lambda tag: ["x"])
        monkeypatch.setattr(strategy, "tar_argv",
                            lambda dirs: ["sleep", "60"])
        storage = pipeline.get_storage("file", root=str(tmp_path / "st"))
        with pipeline.time_limits(stall=1):
            with pytest.raises(exceptions.BackupError,
                               match="no data for 1 s"):
                strategy.stream("t", storage, "cassandra/b2.tar.gz")

    def test_interrupted_backup_settled(self, cass_manager):
        """A backup journaled as running when the guest died is reported
        FAILED at start."""
        cass_manager._journal("b3", "cassandra/b3.tar.gz")
        assert cass_manager.recover_after_restart() == {"b3": "FAILED"}
        assert cass_manager.reporter.last_backup("b3")["state"] == "FAILED"


class TestUnsecuredLeftover:
    """A server a killed prepare left without authentication is stopped
    when the next guest starts."""

    def test_stopped_at_start(self, cass_manager, monkeypatch):
        """recover_after_restart stops it and clears the mark."""
        mgr = cass_manager
        stopped = []
        monkeypatch.setattr(mgr, "do_stop", lambda: stopped.append(1))
        mgr._save_state(unsecured=True)
        mgr.recover_after_restart()
        assert stopped == [1]
        assert not mgr._state.get("unsecured")
        mgr.recover_after_restart()
        assert stopped == [1]
