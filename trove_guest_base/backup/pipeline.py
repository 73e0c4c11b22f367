"""The streaming backup and restore pipeline.

Stored format: one gzip member of the tool's output (deflated on
:data:`THREADS` cores by :class:`~.compress.ParallelGzip`; objects
written by one thread are the same format, and both restore alike).
When a key is given, that gzip stream is encrypted in independent
AES-256-GCM frames (``4-byte length | ciphertext``), each with a nonce of
a random 7-byte prefix, a 4-byte counter and a last-frame flag, so frames
cannot be reordered, dropped or truncated unnoticed. The SHA-256 of the
stored bytes is kept in the object's metadata and checked before a
restore starts.
"""

import contextlib
import contextvars
import dataclasses
import hashlib
import logging
import os
import struct
import subprocess
import threading
import time
import zlib

from trove_core import exceptions
from trove_guest_base import process
from trove_guest_base.backup import compress

__all__ = ["BackupResult", "Command", "File", "Stream", "expect_head",
           "expect_tail", "run_backup", "run_restore", "stream_limits",
           "time_limits"]

LOG = logging.getLogger(__name__)

CHUNK = 1024 * 1024
#: threads deflating a backup: two where the guest may use two cores (a
#: guest has few, and the tool and the datastore need theirs), else one.
THREADS = min(2, len(os.sched_getaffinity(0))
              if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
FORMAT = "trove-backup/1"
#: bytes of the start and the end of a backup kept for its ``check``.
PEEK = 4096
#: seconds a backup tool may go without output when nothing else says.
DEFAULT_STALL = 300
#: the same for a restore tool, which may work long on one statement
#: (an index build) before it takes the next bytes.
RESTORE_STALL = 3600

_LIMITS = contextvars.ContextVar("trove_backup_limits", default=None)


@contextlib.contextmanager
def time_limits(stall=None, total=None):
    """Bound every tool run by :func:`run_backup` and :func:`run_restore`
    in this block (a :class:`Command`'s own values take precedence).

    :param stall: seconds a tool may go without producing (or taking)
        a byte before it is killed: a lock held by another session can
        stall a dump for as long as the lock lasts.
    :param total: seconds a tool may run in all.
    """
    token = _LIMITS.set({"stall": stall, "total": total})
    try:
        yield
    finally:
        _LIMITS.reset(token)


@dataclasses.dataclass(frozen=True)
class Command:
    """A tool run without a shell: its stdout is the backup (as a source)
    or its stdin receives the restore (as a sink).

    ``check(head, tail)`` (optional) looks at the first and last
    :data:`PEEK` bytes the tool wrote and returns why they are not the
    backup that was asked for, or ``None``: a tool's exit 0 is not proof
    (``--help`` also exits 0).
    """

    argv: list
    env: dict = None
    secrets: tuple = ()
    timeout: float = None
    stall_timeout: float = None
    check: object = None


@dataclasses.dataclass(frozen=True)
class File:
    """A local file read as the backup, or written (atomically) by a
    restore; ``check`` as for :class:`Command`."""

    path: str
    mode: int = 0o600
    check: object = None


@dataclasses.dataclass(frozen=True)
class Stream:
    """A backup read from a source the caller opens in this process (a
    datastore's own protocol): ``open(chunk)`` returns an iterator of
    byte strings of at most about ``chunk`` bytes, and the iterator's
    ``close()`` (a generator's) releases the source, also when the
    backup fails half-way. The iterator enforces its own time limits
    (see :func:`stream_limits`) and raises when the stream is not
    complete; ``check`` as for :class:`Command`.
    """

    open: object
    check: object = None


def stream_limits(default=DEFAULT_STALL):
    """The limits a :class:`Stream` enforces: ``(stall, total)``, seconds
    without a byte (:func:`time_limits`' value, else ``default``) and in
    all (``None``: unbounded)."""
    limits = _LIMITS.get() or {}
    return limits.get("stall") or default, limits.get("total")


def expect_head(magic, what, offset=0):
    """A ``check`` that wants ``magic`` at ``offset`` of the output.

    :param what: the format, for the error (``"an RDB file"``).
    """
    def check(head, _tail):
        if head[offset:offset + len(magic)] != magic:
            return "it does not start as %s; it starts %s" % (
                what, exceptions.bounded(head[:40], 80))
        return None
    return check


def expect_tail(marker, what):
    """A ``check`` that wants ``marker`` in the last :data:`PEEK` bytes
    (a dump's completion line).

    :param what: the format, for the error.
    """
    def check(_head, tail):
        if marker not in tail:
            return "it does not end as %s; it ends %s" % (
                what, exceptions.bounded(tail[-80:], 120))
        return None
    return check


class _Watchdog:
    """Kills a tool that stalls or overruns, and says why."""

    def __init__(self, proc, command, what, default=DEFAULT_STALL):
        limits = _LIMITS.get() or {}
        self.stall = (command.stall_timeout or limits.get("stall")
                      or default)
        self.total = command.timeout or limits.get("total")
        self.proc, self.what = proc, what
        self.reason = None
        self.started = self.last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="backup-watchdog")
        self._thread.start()

    def tick(self):
        """Bytes moved: the tool is not stalled."""
        self.last = time.monotonic()

    def _watch(self):
        while not self._done.wait(min(1.0, self.stall / 4)):
            if self.proc.poll() is not None:
                return
            now = time.monotonic()
            if now - self.last > self.stall:
                self.reason = (
                    "%s moved no data for %s s and was stopped; a lock "
                    "held by another session (LOCK TABLES, a long "
                    "transaction) or a stopped datastore can stall it: "
                    "release it and retry" % (self.what, self.stall))
            elif self.total and now - self.started > self.total:
                self.reason = "%s ran longer than %s s and was stopped" % (
                    self.what, self.total)
            if self.reason:
                LOG.error("%s", self.reason)
                with contextlib.suppress(OSError):
                    self.proc.kill()
                return

    def close(self):
        """Stop watching."""
        self._done.set()


@dataclasses.dataclass(frozen=True)
class BackupResult:
    """What a committed backup is, and where its time went.

    ``seconds`` is the whole run; ``verify_seconds`` the read-back of
    the committed object; ``timings`` splits ``seconds`` by what the
    pipeline's thread was waiting for: ``source`` (the tool or file to
    produce bytes), ``compress`` (deflate workers, CRC-32),
    ``write`` (encryption, SHA-256, storage writes), ``commit``,
    ``verify`` and ``other`` (starting and reaping the tool, checks,
    bookkeeping).
    """

    location: str
    size: int
    raw_size: int
    checksum: str
    encrypted: bool
    seconds: float
    verify_seconds: float = 0.0
    timings: dict = None


class _Encryptor:
    def __init__(self, key):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.aead = AESGCM(_check_key(key))
        self.prefix = os.urandom(7)
        self.counter = 0

    def frame(self, data, last):
        nonce = self.prefix + struct.pack(">IB", self.counter, int(last))
        self.counter += 1
        sealed = self.aead.encrypt(nonce, data, None)
        return struct.pack(">I", len(sealed)) + nonce + sealed


def _check_key(key):
    if not isinstance(key, bytes) or len(key) != 32:
        raise exceptions.BadRequest(
            reason="a backup encryption key must be 32 bytes")
    return key


def _source_chunks(source, chunk):
    """Yield chunks of ``source``; return the process to wait on."""
    if isinstance(source, File):
        with open(source.path, "rb") as handle:
            while data := handle.read(chunk):
                yield data
        return
    raise TypeError("unsupported backup source %r" % (source,))


def run_backup(source, storage, location, key=None, progress=None,
               chunk=CHUNK, metadata=None, threads=THREADS):
    """Stream ``source`` into ``storage`` at ``location``.

    The committed object is read back before the backup counts (see
    :func:`verify`): its size and SHA-256 must be what was written.

    :param source: a :class:`Command` (its stdout), a :class:`File` or
        a :class:`Stream`.
    :param storage: a :class:`~trove_guest_base.backup.StorageDriver`.
    :param location: where the backup goes in that storage.
    :param key: 32 bytes to encrypt with, or ``None``.
    :param progress: called with the raw bytes read so far.
    :param metadata: extra fields kept with the backup.
    :param threads: threads deflating (1: zlib in this thread).
    :returns: :class:`BackupResult`.
    :raises BackupError: the tool failed or was killed, storage failed
        (a full disk...), or the read-back differs; nothing is
        committed.
    """
    clock = time.perf_counter
    started = clock()
    spent = dict.fromkeys(("source", "compress", "write", "commit",
                           "verify"), 0.0)
    encryptor = _Encryptor(key) if key is not None else None
    compressor = compress.compressor(threads)
    digest = hashlib.sha256()
    writer = storage.open_writer(location)
    committed = False
    stored = raw = 0
    pending = b""
    proc = chunks = None
    head = tail = b""

    def emit(data, last=False):
        nonlocal stored, pending
        mark = clock()
        if encryptor is None:
            if data:
                digest.update(data)
                writer.write(data)
                stored += len(data)
            spent["write"] += clock() - mark
            return
        pending += data
        while len(pending) >= chunk or (last and pending is not None):
            piece, pending = pending[:chunk], pending[chunk:]
            final = last and not pending
            framed = encryptor.frame(piece, final)
            digest.update(framed)
            writer.write(framed)
            stored += len(framed)
            if final:
                break
        spent["write"] += clock() - mark

    try:
        if isinstance(source, Command):
            proc, chunks = _spawn_source(source, chunk, location)
        elif isinstance(source, Stream):
            chunks = source.open(chunk)
        else:
            chunks = _source_chunks(source, chunk)
        chunks = iter(chunks)
        while True:
            mark = clock()
            data = next(chunks, None)
            spent["source"] += clock() - mark
            if data is None:
                break
            raw += len(data)
            if len(head) < PEEK:
                head += data[:PEEK - len(head)]
            tail = (tail + data[-PEEK:])[-PEEK:]
            mark = clock()
            out = compressor.compress(data)
            spent["compress"] += clock() - mark
            for piece in out:
                emit(piece)
            if progress:
                progress(raw)
        if proc is not None:
            _finish_source(proc, source, location)
        _check_output(source, location, raw, head, tail)
        mark = clock()
        out = compressor.flush()
        spent["compress"] += clock() - mark
        for piece in out[:-1]:
            emit(piece)
        emit(out[-1], last=True)
        meta = dict(metadata or {}, format=FORMAT, size=stored,
                    raw_size=raw, checksum="sha256:" + digest.hexdigest(),
                    encrypted=encryptor is not None,
                    created_at=time.time())
        mark = clock()
        writer.commit(meta)
        committed = True
        spent["commit"] = clock() - mark
        mark = clock()
        _check_stored(storage, location, meta)
        spent["verify"] = clock() - mark
    except BaseException as exc:
        if committed:
            with contextlib.suppress(Exception):
                storage.delete(location)
        else:
            writer.abort()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if isinstance(exc, exceptions.TroveError):
            raise
        if isinstance(exc, (OSError, ValueError, zlib.error)):
            raise exceptions.BackupError(
                backup_id=location, reason="%s: %s"
                % (type(exc).__name__, exc)) from exc
        raise
    finally:
        compressor.close()
        with contextlib.suppress(Exception):
            chunks.close()
        if proc is not None:
            _close_pipes(proc)
    seconds = clock() - started
    spent["other"] = max(0.0, seconds - sum(spent.values()))
    return BackupResult(location, stored, raw, meta["checksum"],
                        encryptor is not None, round(seconds, 3),
                        verify_seconds=round(spent["verify"], 3),
                        timings={k: round(v, 3) for k, v in spent.items()})


def _check_output(source, location, raw, head, tail):
    """Refuse a tool's output that cannot be the backup asked for."""
    if raw == 0:
        raise exceptions.BackupError(
            backup_id=location, reason="the backup tool produced no "
            "output; nothing was stored")
    why = source.check(head, tail) if source.check else None
    if why:
        raise exceptions.BackupError(
            backup_id=location, reason="the backup tool's output is not a "
            "backup (%s); nothing was stored" % why)


def _check_stored(storage, location, meta):
    """Read back what was committed: it must be what was written."""
    stored = verify(storage, location)
    if stored.get("checksum") != meta["checksum"]:
        raise exceptions.BackupError(
            backup_id=location, reason="storage returned other metadata "
            "than was committed; the backup was removed")


def _spawn_source(source, chunk, location):
    env = dict(os.environ)
    env.update(source.env or {})
    shown = process.redact(" ".join(source.argv), source.secrets)
    try:
        proc = subprocess.Popen(source.argv, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
    except FileNotFoundError:
        raise exceptions.BackupError(
            backup_id=location,
            reason="%r is not installed" % source.argv[0]) from None
    errors = []
    reader = threading.Thread(target=lambda: errors.append(
        proc.stderr.read()), daemon=True)
    reader.start()
    proc._trove_stderr = (reader, errors, shown)
    watchdog = _Watchdog(proc, source, os.path.basename(source.argv[0]))
    proc._trove_watchdog = watchdog

    def chunks():
        while data := proc.stdout.read(chunk):
            watchdog.tick()
            yield data
    return proc, chunks()


def _close_pipes(proc):
    watchdog = getattr(proc, "_trove_watchdog", None)
    if watchdog is not None:
        watchdog.close()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None and not pipe.closed:
            try:
                pipe.close()
            except OSError:
                LOG.debug("closing a pipe of pid %d failed", proc.pid)


def _finish_source(proc, source, location):
    reader, errors, shown = proc._trove_stderr
    code = proc.wait()
    reader.join(timeout=10)
    if proc._trove_watchdog.reason:
        raise exceptions.BackupError(backup_id=location,
                                     reason=proc._trove_watchdog.reason)
    if code != 0:
        err = process.redact(b"".join(errors).decode("utf-8", "replace"),
                             source.secrets).strip()[-1500:]
        how = ("was killed by signal %d" % -code if code < 0
               else "exited with %d" % code)
        raise exceptions.BackupError(
            backup_id=location, reason="%s %s: %s" % (shown, how, err))


def verify(storage, location):
    """Read the stored object through and check it against the
    committed metadata: its size and SHA-256 (the checks a restore makes
    before it touches the datastore).

    This proves storage holds exactly the bytes the pipeline produced.
    It does not decompress them: that the gzip stream decodes is the
    compressor's property, tested, and decoding would cost a quarter of
    the compression time again (see ``docs/benchmarks.rst``).

    :returns: the backup's metadata.
    :raises BackupError: the object is corrupt, truncated or not a
        trove-core backup.
    """
    meta = storage.metadata(location)
    if meta.get("format") != FORMAT:
        raise exceptions.BackupError(
            backup_id=location, reason="unknown backup format %r"
            % meta.get("format"))
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with storage.open_reader(location) as handle:
        readinto = getattr(handle, "readinto", None)
        while True:
            if readinto is not None:
                count = readinto(buffer)
                data = view[:count]
            else:
                data = handle.read(CHUNK)
                count = len(data)
            if not count:
                break
            digest.update(data)
            size += count
    actual = "sha256:" + digest.hexdigest()
    if actual != meta.get("checksum") or size != meta.get("size"):
        raise exceptions.BackupError(
            backup_id=location, reason="checksum mismatch: stored object "
            "has %s (%d bytes), metadata says %s (%s bytes); refusing to "
            "restore" % (actual, size, meta.get("checksum"),
                         meta.get("size")))
    return meta


def _plain_chunks(handle, key, encrypted, location):
    decompressor = zlib.decompressobj(31)
    if not encrypted:
        while data := handle.read(CHUNK):
            yield decompressor.decompress(data)
    else:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        aead = AESGCM(_check_key(key))
        counter, last = 0, False
        while not last:
            header = handle.read(4)
            if len(header) < 4:
                raise exceptions.BackupError(
                    backup_id=location, reason="encrypted stream is truncated")
            (length,) = struct.unpack(">I", header)
            nonce = handle.read(12)
            sealed = handle.read(length)
            count, last = struct.unpack(">IB", nonce[7:])
            if count != counter or len(sealed) != length:
                raise exceptions.BackupError(
                    backup_id=location, reason="encrypted frames out of order")
            try:
                data = aead.decrypt(nonce, sealed, None)
            except Exception:  # cryptography raises InvalidTag
                raise exceptions.BackupError(
                    backup_id=location, reason="decryption failed: wrong key "
                    "or tampered backup") from None
            counter += 1
            yield decompressor.decompress(data)
    tail = decompressor.flush()
    if tail:
        yield tail
    if not decompressor.eof:
        raise exceptions.BackupError(backup_id=location,
                                     reason="compressed stream is truncated")


def run_restore(storage, location, sink, key=None, progress=None):
    """Verify the backup at ``location``, then stream it into ``sink``.

    :param sink: a :class:`Command` (fed on stdin) or a :class:`File`
        (written to a temporary file, moved into place when complete).
    :returns: the raw bytes restored.
    :raises BackupError: checksum mismatch, wrong key, or the sink
        failed; a :class:`File` sink is left untouched then.
    """
    meta = verify(storage, location)
    if meta.get("encrypted") and key is None:
        raise exceptions.BackupError(
            backup_id=location, reason="the backup is encrypted; give its "
            "key")
    done = 0
    with storage.open_reader(location) as handle:
        chunks = _plain_chunks(handle, key, meta.get("encrypted"),
                                location)
        if isinstance(sink, File):
            partial = sink.path + ".restoring"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         sink.mode)
            try:
                with os.fdopen(fd, "wb") as out:
                    for data in chunks:
                        out.write(data)
                        done += len(data)
                        if progress:
                            progress(done)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(partial, sink.path)
            except BaseException:
                if os.path.exists(partial):
                    os.unlink(partial)
                raise
            return done
        env = dict(os.environ)
        env.update(sink.env or {})
        proc = subprocess.Popen(sink.argv, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)
        errors = []
        reader = threading.Thread(target=lambda: errors.append(
            proc.stderr.read()), daemon=True)
        reader.start()
        watchdog = _Watchdog(proc, sink, os.path.basename(sink.argv[0]),
                             default=RESTORE_STALL)
        proc._trove_watchdog = watchdog
        try:
            for data in chunks:
                watchdog.tick()
                proc.stdin.write(data)
                done += len(data)
                if progress:
                    progress(done)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            proc.kill()
            proc.wait()
            _close_pipes(proc)
            raise
        # after the last byte the tool may work on: only its total bound
        watchdog.stall = watchdog.total or 24 * 3600
        code = proc.wait()
        reader.join(timeout=10)
        _close_pipes(proc)
        if watchdog.reason:
            raise exceptions.BackupError(backup_id=location,
                                         reason=watchdog.reason)
        if code != 0:
            shown = process.redact(" ".join(sink.argv), sink.secrets)
            err = process.redact(b"".join(errors).decode("utf-8", "replace"),
                                 sink.secrets).strip()[-1500:]
            raise exceptions.BackupError(
                backup_id=location, reason="%s exited with %d: %s"
                % (shown, code, err))
    return done
