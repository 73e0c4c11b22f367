"""The parallel gzip compressor and the pipeline around it."""

import gzip
import os
import shutil
import subprocess
import sys
import zlib

import pytest

from trove_core import exceptions
from trove_guest_base import backup
from trove_guest_base.backup import compress
from trove_guest_base.backup import pipeline

MIB = 1024 * 1024
TEXT = b"".join(b"row %d: %s\n" % (i, b"abcdefgh" * (i % 13))
                for i in range(60000))


def deflate(blocks, threads=2):
    engine = compress.compressor(threads)
    try:
        out = [piece for block in blocks for piece in engine.compress(block)]
        out.extend(engine.flush())
    finally:
        engine.close()
    return b"".join(out)


def members(data):
    """The number of gzip members in ``data``."""
    count = 0
    while data:
        engine = zlib.decompressobj(31)
        engine.decompress(data)
        assert engine.eof, "a truncated member"
        data = engine.unused_data
        count += 1
    return count


def blocks_of(data, size=MIB):
    return [data[i:i + size] for i in range(0, len(data), size)]


class TestParallelGzip:
    @pytest.mark.parametrize("data", [
        pytest.param(TEXT, id="text"),
        pytest.param(os.urandom(3 * MIB + 17), id="random"),
        pytest.param(TEXT[:1000], id="one-small-block"),
        pytest.param(b"\x00" * (4 * MIB), id="multiple-of-block"),
    ])
    def test_one_member_same_bytes(self, data):
        """The output is one gzip member that decodes to the input."""
        out = deflate(blocks_of(data))
        assert out.startswith(compress.GZIP_HEADER)
        assert members(out) == 1
        assert gzip.decompress(out) == data

    def test_empty_input(self):
        """No input is still a valid, empty gzip member."""
        out = deflate([])
        assert members(out) == 1
        assert gzip.decompress(out) == b""

    def test_uneven_blocks(self):
        """Blocks smaller than the window still reach across blocks."""
        out = deflate(blocks_of(TEXT, 1000), threads=3)
        assert gzip.decompress(out) == TEXT

    @pytest.mark.skipif(shutil.which("gzip") is None,
                        reason="the gzip tool is not installed")
    def test_gunzip_reads_it(self):
        """The gzip tool reads it and finds its CRC and length right."""
        data = TEXT * 3
        out = deflate(blocks_of(data))
        result = subprocess.run(["gzip", "-dc"], input=out,
                                stdout=subprocess.PIPE, check=True,
                                timeout=60)
        assert result.stdout == data

    def test_size_as_single_thread(self):
        """Priming each block with its predecessor's window keeps the
        size within 1 % of zlib's single stream."""
        data = TEXT * 4
        single = deflate(blocks_of(data), threads=1)
        parallel = deflate(blocks_of(data), threads=2)
        assert len(parallel) <= len(single) * 1.01

    def test_single_thread_is_zlib(self):
        """One thread is zlib's own stream (what older backups hold)."""
        expected = zlib.compressobj(6, zlib.DEFLATED, 31)
        assert deflate([TEXT], threads=1) == (expected.compress(TEXT)
                                              + expected.flush())

    def test_worker_error_raised(self, monkeypatch):
        """An error in a worker comes out of compress or flush."""
        def broken(level, data, zdict):
            raise MemoryError("deflate failed")
        monkeypatch.setattr(compress, "_deflate", broken)
        engine = compress.ParallelGzip(threads=2)
        with pytest.raises(MemoryError, match="deflate failed"):
            for block in blocks_of(TEXT * 4):
                engine.compress(block)
            engine.flush()
        engine.close()

    def test_compress_after_flush_refused(self):
        """A flushed member takes no more input."""
        engine = compress.ParallelGzip()
        engine.flush()
        with pytest.raises(ValueError, match="after flush"):
            engine.compress(b"x")

    def test_in_flight_bounded(self, monkeypatch):
        """No more than ``threads`` blocks wait for a worker."""
        engine = compress.ParallelGzip(threads=2)
        seen = []
        real = engine.compress

        def watched(data):
            out = real(data)
            seen.append(len(engine._pending))
            return out
        for block in blocks_of(os.urandom(8 * MIB)):
            watched(block)
        engine.flush()
        assert max(seen) <= 2


@pytest.fixture
def storage(tmp_path):
    return backup.get_storage("file", root=str(tmp_path / "store"))


def tool(script):
    return backup.Command([sys.executable, "-c", script])


class TestPipeline:
    @pytest.mark.parametrize("threads", [1, 2], ids=["old", "new"])
    @pytest.mark.parametrize("key", [None, bytes(range(32))],
                             ids=["plain", "encrypted"])
    def test_both_formats_restore(self, storage, tmp_path, threads, key):
        """Objects written by one thread (older guests) and by the
        parallel compressor restore alike, encrypted or not."""
        source = tmp_path / "src"
        source.write_bytes(TEXT)
        result = backup.run_backup(backup.File(str(source)), storage,
                                   "b", key=key, threads=threads)
        out = tmp_path / "out"
        backup.run_restore(storage, "b", backup.File(str(out)), key=key)
        assert out.read_bytes() == TEXT
        assert result.verify_seconds >= 0
        assert set(result.timings) == {"source", "compress", "write",
                                       "commit", "verify", "other"}
        assert sum(result.timings.values()) == pytest.approx(
            result.seconds, abs=0.01)

    def test_stored_object_is_gzip(self, storage, tmp_path):
        """An unencrypted backup is a plain .gz file."""
        source = tmp_path / "src"
        source.write_bytes(TEXT)
        backup.run_backup(backup.File(str(source)), storage, "b.gz")
        with open(storage.driver.path("b.gz"), "rb") as handle:
            stored = handle.read()
        assert members(stored) == 1
        assert gzip.decompress(stored) == TEXT

    def test_worker_error_commits_nothing(self, storage, tmp_path,
                                          monkeypatch):
        """A deflate worker failing mid-stream leaves nothing that looks
        complete, and says why."""
        calls = []

        def failing(level, data, zdict):
            calls.append(1)
            if len(calls) == 3:
                raise zlib.error("Error -2 while compressing")
            return (compress.zlib.compressobj(level, zlib.DEFLATED,
                                              -15).compress(data), b"")
        monkeypatch.setattr(compress, "_deflate", failing)
        source = tmp_path / "src"
        source.write_bytes(os.urandom(6 * MIB))
        with pytest.raises(exceptions.BackupError,
                           match="while compressing"):
            backup.run_backup(backup.File(str(source)), storage, "b")
        assert not storage.exists("b")
        assert os.listdir(storage.root) == []

    def test_killed_backup_leaves_nothing(self, storage, tmp_path):
        """A guest killed mid-backup (SIGKILL) leaves a partial upload
        only: nothing at the location, nothing a restore accepts."""
        script = tmp_path / "guest.py"
        script.write_text(
            "import os, sys\n"
            "from trove_guest_base import backup\n"
            "storage = backup.get_storage('file', root=sys.argv[1])\n"
            "def progress(done):\n"
            "    if done > 3 * 1024 * 1024:\n"
            "        os.kill(os.getpid(), 9)\n"
            "backup.run_backup(backup.Command([sys.executable, '-c', "
            "'import os, sys\\nwhile True: sys.stdout.buffer.write("
            "os.urandom(65536))']), storage, 'b', progress=progress)\n")
        proc = subprocess.run([sys.executable, str(script), storage.root],
                              timeout=120, stderr=subprocess.PIPE,
                              check=False)
        assert proc.returncode == -9, proc.stderr
        assert not storage.exists("b")
        with pytest.raises(exceptions.NotFound):
            pipeline.verify(storage, "b")
        assert os.listdir(storage.root) == ["b.partial"]
