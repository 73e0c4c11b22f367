"""Backup integrity: what is stored is what was asked for, the storage
namespace, time limits, and what a killed guest leaves behind."""

import errno
import json
import os
import sys

import pytest

from trove_core import exceptions
from trove_guest_base.testing import helpers
from trove_guest_base import backup
from trove_guest_base import files
from trove_guest_base.backup import storage as storage_mod


@pytest.fixture
def storage(tmp_path):
    """A file storage behind the namespace rules."""
    return backup.get_storage("file", root=str(tmp_path / "store"))


def py(code, *args):
    """A tool that runs ``code``."""
    return backup.Command([sys.executable, "-c", code, *args])


def write(data):
    """A tool that writes ``data`` and exits 0."""
    return py("import sys; sys.stdout.buffer.write(%r)" % (data,))


class TestOutputChecks:
    """A tool's exit 0 is not proof."""

    def test_empty_output_refused(self, storage):
        """A tool that exits 0 with no output commits nothing."""
        with pytest.raises(exceptions.BackupError, match="no output"):
            backup.run_backup(write(b""), storage, "b1")
        assert not storage.exists("b1")
        assert os.listdir(storage.root) == []

    def test_check_refuses_help_text(self, storage):
        """A dump tool that printed its help text is not a backup."""
        check = backup.expect_tail(b"-- Dump completed", "a complete dump")
        cmd = write(b"Usage: mariadb-dump [OPTIONS] database\n")
        cmd = backup.Command(cmd.argv, check=check)
        with pytest.raises(exceptions.BackupError,
                           match="not a backup") as info:
            backup.run_backup(cmd, storage, "b1")
        assert "Usage" in info.value.reason
        assert not storage.exists("b1")

    def test_check_head(self, storage, tmp_path):
        """A file source must start with its format's magic."""
        path = tmp_path / "dump.rdb"
        path.write_bytes(b"garbage")
        src = backup.File(str(path), check=backup.expect_head(
            b"REDIS", "an RDB file"))
        with pytest.raises(exceptions.BackupError, match="RDB"):
            backup.run_backup(src, storage, "b1")
        path.write_bytes(b"REDIS0011" + b"x" * 100)
        assert backup.run_backup(src, storage, "b1").raw_size == 109

    def test_read_back_after_commit(self, storage, monkeypatch):
        """A store that returns other bytes than were written fails the
        backup, and the object is removed."""
        real = storage.driver.open_reader

        def corrupt(location):
            handle = real(location)
            data = handle.read()
            handle.close()
            import io
            return io.BytesIO(data[:-1] + bytes([data[-1] ^ 1]))
        monkeypatch.setattr(storage.driver, "open_reader", corrupt)
        with pytest.raises(exceptions.BackupError, match="checksum"):
            backup.run_backup(write(b"x" * 1000), storage, "b1")
        monkeypatch.undo()
        assert not storage.exists("b1")


class TestNamespace:
    """Locations that would overwrite or escape are refused."""

    @pytest.mark.parametrize("location", [
        pytest.param(".", id="dot"),
        pytest.param("..", id="dotdot"),
        pytest.param("a/../b", id="dotdot-inside"),
        pytest.param("a//b", id="empty-part"),
        pytest.param("", id="empty"),
        pytest.param("a/", id="trailing-slash"),
        pytest.param("b1.meta.json", id="metadata"),
        pytest.param("b1.partial", id="partial"),
        pytest.param("x\0y", id="nul"),
        pytest.param("x" * 5000, id="long"),
        pytest.param({"a": 1}, id="dict"),
    ])
    def test_refused(self, storage, tmp_path, location):
        """Nothing is written, inside or beside the root."""
        with pytest.raises(exceptions.BadRequest, match="location") as info:
            backup.run_backup(write(b"data"), storage, location)
        assert len(str(info.value)) < 1200
        assert not os.path.exists(storage.root) or os.listdir(
            storage.root) == []
        assert sorted(os.listdir(tmp_path)) == []

    def test_no_overwrite(self, storage):
        """A committed backup is never overwritten, and still verifies."""
        first = backup.run_backup(write(b"first"), storage, "b1")
        with pytest.raises(exceptions.BackupError, match="never "
                           "overwritten"):
            backup.run_backup(write(b"second"), storage, "b1")
        assert backup.verify(storage, "b1")["checksum"] == first.checksum

    def test_file_driver_refuses_root(self, tmp_path):
        """The file driver itself refuses its root as an object."""
        raw = storage_mod.FileStorage(str(tmp_path / "store"))
        with pytest.raises(exceptions.BadRequest, match="outside"):
            raw.path(".")

    def test_commit_race_does_not_replace(self, storage):
        """If an object appears between open and commit, commit fails
        instead of replacing it."""
        writer = storage.open_writer("b1")
        writer.write(b"late")
        for name, text in (("b1", "first"), ("b1.meta.json", "{}")):
            with open(os.path.join(storage.root, name), "w") as handle:
                handle.write(text)
        with pytest.raises(FileExistsError):
            writer.commit({"checksum": "x"})
        writer.abort()
        assert storage.metadata("b1") == {}
        with storage.open_reader("b1") as handle:
            assert handle.read() == b"first"


    @pytest.mark.parametrize("location", [
        pytest.param("http://127.0.0.1:1/v1/AUTH_t/../b1", id="dotdot"),
        pytest.param("http://127.0.0.1:1/v1/AUTH_t/c/b1.meta.json",
                     id="metadata"),
        pytest.param("http://127.0.0.1:1/v1/AUTH_t/c/.", id="dot"),
    ])
    def test_url_locations_checked(self, location):
        """A Swift URL location is held to the same rules (its container
        and object are checked) before any request is made."""
        from oslo_config import cfg

        store = storage_mod.Namespace(swift_mod().SwiftStorage(
            conf=cfg.ConfigOpts(), backup_info={
                "swift_url": "http://127.0.0.1:1/v1/AUTH_t"}))
        with pytest.raises(exceptions.BadRequest, match="location"):
            store.open_reader(location)
        assert store.driver._conn is None

    def test_url_location_accepted(self):
        """A well-formed URL passes the rules as ``container/object``."""
        from oslo_config import cfg

        driver = swift_mod().SwiftStorage(conf=cfg.ConfigOpts())
        assert driver.object_name(
            "http://h:1/v1/AUTH_t/database_backups/b1.xbstream.gz") == (
            "database_backups/b1.xbstream.gz")
        storage_mod.check_location(driver.object_name(
            "http://h:1/v1/AUTH_t/database_backups/b1.xbstream.gz"))


def swift_mod():
    """The swift driver module (python-swiftclient is a test
    requirement)."""
    from trove_guest_base.backup import swift

    return swift


class TestLeftovers:
    """ENOSPC and kill -9 leave nothing that looks complete."""

    def test_enospc_on_metadata(self, storage, monkeypatch):
        """A full disk on the metadata write leaves no data file under
        the final name and no partial."""
        def full(*_args, **_kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(files, "atomic_write", full)
        with pytest.raises(exceptions.BackupError, match="space"):
            backup.run_backup(write(b"data"), storage, "b1")
        assert os.listdir(storage.root) == []

    def test_stalled_tool_killed(self, storage):
        """A tool that stops producing is stopped, with the reason."""
        cmd = py("import sys, time; sys.stdout.write('x'); "
                 "sys.stdout.flush(); time.sleep(60)")
        cmd = backup.Command(cmd.argv, stall_timeout=1)
        with pytest.raises(exceptions.BackupError,
                           match="moved no data for 1 s") as info:
            backup.run_backup(cmd, storage, "b1")
        assert "lock" in info.value.reason
        assert not storage.exists("b1")

    def test_time_limits_context(self, storage):
        """time_limits bounds every tool run inside it."""
        cmd = py("import time; time.sleep(60)")
        with backup.time_limits(stall=1):
            with pytest.raises(exceptions.BackupError, match="no data"):
                backup.run_backup(cmd, storage, "b1")


@pytest.fixture
def manager(tmp_path):
    """A fake manager with a file storage."""
    return helpers.make_fake_manager(tmp_path)


class TestRecovery:
    """A backup left in flight by a killed guest is settled at start."""

    def _leave(self, manager, backup_id, location):
        path = manager._journal(backup_id, location)
        with open(path, encoding="utf-8") as handle:
            assert json.load(handle)["location"] == location

    def test_interrupted_reported_failed(self, manager):
        """The partial is removed and FAILED reported with a reason."""
        storage = manager.backup_storage()
        writer = storage.open_writer("b1.gz")
        writer.write(b"half")
        writer._handle.close()  # the guest was killed here
        self._leave(manager, "b1", "b1.gz")
        partial = os.path.join(storage.root, "b1.gz.partial")
        assert os.path.exists(partial)
        assert manager.recover_backups() == {"b1": "FAILED"}
        assert not os.path.exists(partial)
        last = manager.reporter.last_backup("b1")
        assert last["state"] == "FAILED" and "stopped" in last["reason"]
        assert manager.recover_backups() == {}

    def test_committed_reported_completed(self, manager):
        """A backup committed just before the kill is COMPLETED."""
        storage = manager.backup_storage()
        result = backup.run_backup(write(b"data"), storage, "b2.gz")
        self._leave(manager, "b2", "b2.gz")
        assert manager.recover_backups() == {"b2": "COMPLETED"}
        assert manager.reporter.last_backup("b2")["checksum"] == \
            result.checksum

    def test_user_location_checked(self, manager):
        """create_backup refuses a reserved location before it runs."""
        with pytest.raises(exceptions.BadRequest, match="location"):
            manager.create_backup({"id": "b3", "location": "x.meta.json"})
        assert manager.reporter.last_backup("b3")["state"] == "FAILED"
