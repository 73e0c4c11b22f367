"""Backups and restores through prepare, and backups that must fail."""

import os
import signal
import stat
import subprocess
import threading
import time

import pymysql
import pytest

from trove_core import exceptions
from trove_core import models
from trove_core.status import ServiceStatus

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]


def _rows(manager):
    with manager.server.admin() as cur:
        cur.execute("SELECT COUNT(*) FROM shop.items")
        return cur.fetchone()[0]


def _insert(manager, first, count):
    with manager.server.admin() as cur:
        # the sequence engine names its tables seq_<first>_to_<last>
        table = "shop.seq_%d_to_%d" % (int(first), int(first + count - 1))
        cur.execute("INSERT INTO shop.items SELECT seq, RANDOM_BYTES(64) "
                    "FROM " + table)


@pytest.fixture(scope="module")
def source(make_manager, backup_root):
    """A server with a database, a table and a user, to back up."""
    manager = make_manager("source", storage=backup_root)
    manager.prepare(memory_mb=None, packages=[],
                    databases=[models.Database("shop")],
                    users=[models.User("shopper", "%", "Shop-pw-1",
                                       (models.Database("shop"),))])
    with manager.server.admin() as cur:
        cur.execute("CREATE TABLE shop.items (id INT PRIMARY KEY, "
                    "payload VARBINARY(1024))")
    _insert(manager, 1, 100)
    return manager


def _restored(make_manager, backup_root, name, backup_info):
    manager = make_manager(name, storage=backup_root)
    manager.prepare(memory_mb=None, packages=[], databases=[], users=[],
                    backup_info=backup_info)
    return manager


def _states(manager, backup_id):
    return [u["state"] for u in manager.reporter.backups
            if u["backup_id"] == backup_id]


class TestLogical:
    """mysqldump backups restored by prepare."""

    def test_round_trip(self, source, make_manager, backup_root):
        """Data and users come back; the admin account is the new
        guest's."""
        result = source.create_backup({"id": "dump-1"})
        assert _states(source, "dump-1") == ["BUILDING", "COMPLETED"]
        done = source.reporter.backups[-1]
        assert done["checksum"] == result.checksum
        assert done["location"] == "dump-1.sql.gz"
        copy = _restored(make_manager, backup_root, "logical-copy",
                         {"id": "dump-1", "location": result.location,
                          "type": "mysqldump"})
        assert copy.status is ServiceStatus.HEALTHY
        assert _rows(copy) == 100
        conn = pymysql.connect(host="127.0.0.1", port=copy.options.port,
                               user="shopper", password="Shop-pw-1",
                               database="shop")
        conn.close()
        assert copy.load_secret("admin_password") != source.load_secret(
            "admin_password")
        assert copy.reporter.root_reports == 0  # no root@% in the backup
        copy.stop_db()


class TestPhysical:
    """mariabackup full and incremental backups restored by prepare."""

    def test_full_and_incremental(self, source, make_manager,
                                  backup_root):
        """A full plus an incremental restores every row; the
        incremental is asked for as Trove does (a parent, no type), and
        the restored root@'%' is reported as Trove's guest reports it."""
        source.enable_root_with_password("Root-pw-1")
        try:
            full = source.create_backup({"id": "full-1",
                                         "type": "mariabackup"})
            _insert(source, 1001, 50)
            inc = source.create_backup({
                "id": "inc-1", "storage_driver": "file",
                "parent": {"location": full.location,
                           "checksum": full.checksum}})
        finally:
            source.disable_root()
        assert _states(source, "inc-1") == ["BUILDING", "COMPLETED"]
        done = source.reporter.backups[-1]
        assert done["backup_type"] == "incremental"
        assert done["location"] == "inc-1.xbstream.gz"
        copy = _restored(make_manager, backup_root, "physical-copy",
                         {"id": "inc-1", "location": inc.location})
        assert _rows(copy) == 150
        assert copy.restored_gtid()
        assert copy.is_root_enabled()
        assert copy.reporter.root_reports == 1
        copy.stop_db()


class TestFailures:
    """Failed, killed, full-disk and corrupt backups."""

    def _no_artifact(self, manager, location):
        storage = manager.backup_storage()
        assert not storage.exists(location)
        assert not os.path.exists(storage.path(location))
        assert not os.path.exists(storage.path(location) + ".partial")

    def _with_tool(self, manager, option, path):
        # make_conf sets no tool override, so clear_override restores it
        manager.conf.set_override(option, path, group="mysql")

    def test_tool_fails(self, source):
        """A dump tool exiting non-zero is reported FAILED, nothing
        kept."""
        self._with_tool(source, "dump_binary", "false")
        try:
            with pytest.raises(exceptions.BackupError,
                               match="exited with 1") as info:
                source.create_backup({"id": "fails"})
        finally:
            source.conf.clear_override("dump_binary", group="mysql")
        assert info.value.backup_id == "fails.sql.gz"
        assert _states(source, "fails") == ["BUILDING", "FAILED"]
        self._no_artifact(source, "fails.sql.gz")

    def test_physical_tool_fails(self, source):
        """A failing mariabackup leaves neither backup nor sidecar."""
        self._with_tool(source, "backup_binary", "false")
        try:
            with pytest.raises(exceptions.BackupError, match="exited"):
                source.create_backup({"id": "phys-fails",
                                      "type": "mariabackup"})
        finally:
            source.conf.clear_override("backup_binary", group="mysql")
        assert _states(source, "phys-fails") == ["BUILDING", "FAILED"]
        self._no_artifact(source, "phys-fails.xbstream.gz")
        self._no_artifact(source, "phys-fails.xbstream.gz.checkpoints")

    def test_incremental_needs_parent(self, source):
        """An incremental of a missing parent fails, naming it."""
        with pytest.raises(exceptions.NotFound, match="gone.xbstream.gz"):
            source.create_backup({"id": "orphan", "type": "mariabackup",
                                  "parent": {"location": "gone.xbstream.gz"}})
        assert _states(source, "orphan") == ["BUILDING", "FAILED"]
        self._no_artifact(source, "orphan.xbstream.gz")

    def test_killed_midway(self, source, tmp_path):
        """A dump killed mid-stream is never committed."""
        pid_file = tmp_path / "dump.pid"
        script = tmp_path / "slow-dump"
        script.write_text(
            "#!/bin/sh\necho $$ > %s\nmariadb-dump \"$@\" | head -c 4096\n"
            "exec sleep 60\n" % pid_file)
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        self._with_tool(source, "dump_binary", str(script))
        errors = []

        def run():
            try:
                source.create_backup({"id": "killed"})
            except exceptions.BackupError as exc:
                errors.append(exc)
        try:
            worker = threading.Thread(target=run)
            worker.start()
            deadline = time.monotonic() + 30
            while not pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            worker.join(60)
        finally:
            source.conf.clear_override("dump_binary", group="mysql")
        assert errors and "killed by signal 9" in str(errors[0])
        assert _states(source, "killed") == ["BUILDING", "FAILED"]
        self._no_artifact(source, "killed.sql.gz")

    def test_disk_full(self, source, tmp_path):
        """A backup that fills its storage is FAILED and leaves
        nothing."""
        mount = tmp_path / "tiny"
        mount.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                                 "tmpfs", str(mount)], capture_output=True,
                                check=False)
        if result.returncode != 0:
            pytest.skip("cannot mount a small tmpfs here: %s"
                        % result.stderr.decode().strip())
        root = source.options.backup_storage_root
        with source.server.admin() as cur:
            cur.execute("CREATE TABLE shop.bulk SELECT seq, "
                        "RANDOM_BYTES(1000) AS b FROM shop.seq_1_to_300")
        try:
            source.conf.set_override("backup_storage_root", str(mount),
                                     group="mysql")
            with pytest.raises(exceptions.BackupError,
                               match="No space left"):
                source.create_backup({"id": "full-disk"})
            assert _states(source, "full-disk") == ["BUILDING", "FAILED"]
            assert os.listdir(mount) == []
        finally:
            source.conf.set_override("backup_storage_root", root,
                                     group="mysql")
            subprocess.run(["umount", str(mount)], check=False)
            with source.server.admin() as cur:
                cur.execute("DROP TABLE shop.bulk")

    def test_corrupt_backup_not_restored(self, source, make_manager,
                                         backup_root):
        """A corrupt backup fails prepare before any data is written."""
        result = source.create_backup({"id": "corrupt",
                                       "type": "mariabackup"})
        path = source.backup_storage().path(result.location)
        with open(path, "r+b") as handle:
            handle.seek(result.size // 2)
            byte = handle.read(1)
            handle.seek(result.size // 2)
            handle.write(bytes([byte[0] ^ 0xFF]))
        victim = make_manager("corrupt-copy", storage=backup_root)
        with pytest.raises(exceptions.BackupError,
                           match="checksum mismatch"):
            victim.prepare(memory_mb=None, packages=[], databases=[],
                           users=[], backup_info={
                               "id": "corrupt", "type": "mariabackup",
                               "location": result.location})
        assert victim.status is ServiceStatus.FAILED
        assert victim.server.is_empty()
        assert not victim.server.runner.is_running()


class TestEncryptedAndChecked:
    """Encrypted backups, and the control plane's checksum."""

    KEY = "ab" * 32

    def test_encrypted_round_trip(self, source, make_manager, backup_root,
                                  tmp_path):
        """An encrypted backup restores with the key, and not without."""
        key_file = tmp_path / "backup.key"
        key_file.write_text(self.KEY + "\n")
        key_file.chmod(0o600)
        source.conf.set_override("backup_encryption_key_file",
                                 str(key_file), group="mysql")
        try:
            result = source.create_backup({"id": "enc-1"})
        finally:
            source.conf.clear_override("backup_encryption_key_file",
                                       group="mysql")
        assert result.encrypted
        info = {"id": "enc-1", "location": result.location,
                "checksum": result.checksum}
        keyless = make_manager("enc-keyless", storage=backup_root)
        with pytest.raises(exceptions.BackupError, match="give its key"):
            keyless.prepare(memory_mb=None, packages=[], databases=[],
                            users=[], backup_info=info)
        assert keyless.status is ServiceStatus.FAILED
        copy = make_manager("enc-copy", storage=backup_root,
                            backup_encryption_key_file=str(key_file))
        copy.prepare(memory_mb=None, packages=[], databases=[], users=[],
                     backup_info=info)
        assert _rows(copy) >= 100
        copy.stop_db()

    def test_checksum_mismatch_refused(self, source, make_manager,
                                       backup_root):
        """A checksum other than the stored one stops prepare."""
        result = source.create_backup({"id": "sum-1"})
        victim = make_manager("sum-victim", storage=backup_root)
        with pytest.raises(exceptions.BackupError,
                           match="expects checksum") as info:
            victim.prepare(memory_mb=None, packages=[], databases=[],
                           users=[], backup_info={
                               "id": "sum-1", "location": result.location,
                               "checksum": "sha256:" + "0" * 64})
        assert info.value.backup_id == "sum-1"
        assert victim.server.is_empty()


class TestReadLock:
    """pre_create_backup and post_create_backup."""

    def test_lock_blocks_writes(self, source):
        """Between pre and post, other sessions cannot write."""
        source.pre_create_backup()
        try:
            conn = source.server._admin_connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION lock_wait_timeout = 1")
                    with pytest.raises(pymysql.err.OperationalError,
                                       match="Lock wait timeout"):
                        cur.execute("INSERT INTO shop.items VALUES "
                                    "(99999, NULL)")
            finally:
                conn.close()
        finally:
            source.post_create_backup()
        _insert(source, 99999, 1)
        with source.server.admin() as cur:
            cur.execute("DELETE FROM shop.items WHERE id = 99999")
