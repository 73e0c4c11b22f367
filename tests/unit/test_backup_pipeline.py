"""The shared backup pipeline and the file storage driver."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest

from trove_core import exceptions
from trove_guest_base import backup
from trove_guest_base.backup import pipeline

KEY = bytes(range(32))
PAYLOAD = os.urandom(300_000) + b"\x00" * 3_000_000


@pytest.fixture
def storage(tmp_path):
    return backup.get_storage("file", root=str(tmp_path / "store"))


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(PAYLOAD)
    return path


def cat(path):
    return backup.Command([sys.executable, "-c",
                           "import shutil, sys; shutil.copyfileobj("
                           "open(sys.argv[1], 'rb'), sys.stdout.buffer)",
                           str(path)])


def listing(storage):
    return sorted(os.listdir(storage.root)) if os.path.isdir(
        storage.root) else []


class TestRoundTrip:
    @pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
    def test_command_to_file(self, storage, source, tmp_path, key):
        """A tool's output comes back byte for byte."""
        result = backup.run_backup(cat(source), storage, "b/1", key=key,
                                   chunk=64 * 1024)
        assert result.raw_size == len(PAYLOAD)
        assert result.encrypted is (key is not None)
        assert result.size < len(PAYLOAD)  # compressed
        meta = storage.metadata("b/1")
        assert meta["checksum"] == result.checksum
        out = tmp_path / "restored"
        assert backup.run_restore(storage, "b/1", backup.File(str(out)),
                                  key=key) == len(PAYLOAD)
        assert out.read_bytes() == PAYLOAD

    def test_file_to_command(self, storage, source, tmp_path):
        """A restore can feed a tool's standard input."""
        backup.run_backup(backup.File(str(source)), storage, "b")
        out = tmp_path / "via-tool"
        backup.run_restore(storage, "b", backup.Command(
            [sys.executable, "-c", "import shutil, sys; shutil.copyfileobj("
             "sys.stdin.buffer, open(sys.argv[1], 'wb'))", str(out)]))
        assert out.read_bytes() == PAYLOAD

    def test_progress_is_reported(self, storage, source):
        """Progress callbacks see the raw bytes grow."""
        seen = []
        backup.run_backup(cat(source), storage, "b", progress=seen.append,
                          chunk=256 * 1024)
        assert seen == sorted(seen) and seen[-1] == len(PAYLOAD)


class TestFailures:
    def test_failing_tool_commits_nothing(self, storage):
        """A tool exiting non-zero leaves no artifact at all."""
        tool = backup.Command([sys.executable, "-c",
                               "import sys; sys.stdout.write('x' * 99999);"
                               "sys.stderr.write('pw=hunter2 boom');"
                               "sys.exit(4)"], secrets=("hunter2",))
        with pytest.raises(exceptions.BackupError,
                           match="exited with 4: pw=\\*\\*\\* boom") as info:
            backup.run_backup(tool, storage, "b")
        assert info.value.backup_id == "b"
        assert listing(storage) == []
        assert not storage.exists("b")

    def test_killed_tool_commits_nothing(self, storage, tmp_path):
        """A tool killed mid-stream is a failed backup, not a short one."""
        pid_file = tmp_path / "pid"
        code = ("import os, sys\n"
                "with open(sys.argv[1], 'w') as f: f.write(str(os.getpid()))\n"
                "while True: sys.stdout.buffer.write(os.urandom(65536))\n")
        tool = backup.Command([sys.executable, "-c", code, str(pid_file)])

        def kill_midway(done):
            if done > 1_000_000:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)

        with pytest.raises(exceptions.BackupError,
                           match="killed by signal 9"):
            backup.run_backup(tool, storage, "b", progress=kill_midway)
        assert listing(storage) == []

    def test_missing_tool(self, storage):
        """A missing backup tool is named."""
        with pytest.raises(exceptions.BackupError,
                           match="'no-such-dump' is not installed"):
            backup.run_backup(backup.Command(["no-such-dump"]), storage, "b")
        assert listing(storage) == []

    @pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"),
                        reason="mounting a small tmpfs needs root")
    def test_full_disk_commits_nothing(self, tmp_path, source):
        """ENOSPC aborts the backup and removes the partial file."""
        root = tmp_path / "tiny"
        root.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                        str(root)], check=True)
        try:
            storage = backup.get_storage("file", root=str(root))
            big = backup.File(str(source))
            with pytest.raises(exceptions.BackupError,
                               match="No space left on device"):
                backup.run_backup(big, storage, "b", key=KEY)
            assert os.listdir(root) == []
        finally:
            subprocess.run(["umount", str(root)], check=True)


class TestRestoreSafety:
    @pytest.fixture
    def stored(self, storage, source):
        backup.run_backup(cat(source), storage, "b", key=KEY,
                          chunk=16 * 1024)
        return storage

    def test_tampered_refused_before_any_write(self, stored, tmp_path):
        """A flipped byte is caught by the checksum; the target is
        untouched."""
        with open(stored.path("b"), "r+b") as handle:
            handle.seek(200)
            byte = handle.read(1)
            handle.seek(200)
            handle.write(bytes([byte[0] ^ 1]))
        target = tmp_path / "target"
        target.write_bytes(b"precious")
        with pytest.raises(exceptions.BackupError,
                           match="checksum mismatch"):
            backup.run_restore(stored, "b", backup.File(str(target)),
                               key=KEY)
        assert target.read_bytes() == b"precious"

    def test_wrong_key(self, stored, tmp_path):
        """A wrong key fails authentication and writes nothing."""
        target = tmp_path / "target"
        with pytest.raises(exceptions.BackupError, match="wrong key"):
            backup.run_restore(stored, "b", backup.File(str(target)),
                               key=b"\x01" * 32)
        assert not target.exists()
        assert not (tmp_path / "target.restoring").exists()

    def test_missing_key(self, stored, tmp_path):
        """An encrypted backup without its key is refused."""
        with pytest.raises(exceptions.BackupError, match="give its key"):
            backup.run_restore(stored, "b", backup.File(str(tmp_path / "t")))

    def test_truncated_frames(self, stored, tmp_path):
        """Dropping the last frame is detected even with a matching
        checksum."""
        import hashlib
        import json

        path = pathlib.Path(stored.path("b"))
        data = path.read_bytes()
        first_len = int.from_bytes(data[:4], "big")
        cut = data[:4 + 12 + first_len]
        path.write_bytes(cut)
        meta = stored.metadata("b")
        meta.update(size=len(cut),
                    checksum="sha256:" + hashlib.sha256(cut).hexdigest())
        pathlib.Path(str(path) + ".meta.json").write_text(json.dumps(meta))
        with pytest.raises(exceptions.BackupError, match="truncated"):
            backup.run_restore(stored, "b",
                               backup.File(str(tmp_path / "t")), key=KEY)

    def test_bad_key_size(self, storage, source):
        """A key that is not 32 bytes is refused up front."""
        with pytest.raises(exceptions.BadRequest, match="32 bytes"):
            backup.run_backup(cat(source), storage, "b", key=b"short")
        assert listing(storage) == []


class TestFileStorage:
    @pytest.mark.parametrize("location", ["../escape", "/etc/passwd",
                                          "a/../../b"])
    def test_cannot_leave_root(self, storage, location):
        """Locations outside the storage root are refused."""
        with pytest.raises(exceptions.BadRequest, match="outside"):
            storage.path(location)

    def test_missing_backup(self, storage):
        """Reading an absent backup is NotFound."""
        with pytest.raises(exceptions.NotFound):
            storage.open_reader("nope")
        with pytest.raises(exceptions.NotFound):
            pipeline.verify(storage, "nope")

    def test_delete(self, storage, source):
        """delete removes data and metadata."""
        backup.run_backup(backup.File(str(source)), storage, "b")
        storage.delete("b")
        assert not storage.exists("b") and listing(storage) == []

    def test_unknown_driver(self):
        """An unknown storage driver is a clear error."""
        with pytest.raises(exceptions.PluginNotFound,
                           match="no backup storage driver 'swiftish'"):
            backup.get_storage("swiftish")
