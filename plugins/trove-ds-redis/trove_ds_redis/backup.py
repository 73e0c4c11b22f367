"""The ``redis-rdb`` backup strategy: RDB snapshots through the shared
pipeline.

A backup streams a fresh snapshot the way ``redis-cli --rdb`` does, but
in the guest's process: it connects as the guest's admin (the password
goes over the connection, never to a command line or an environment),
asks for the RDB only (``REPLCONF rdb-only 1``, Redis 7) and sends
``SYNC``; the server forks and writes the snapshot to the socket, which
feeds :func:`trove_guest_base.backup.run_backup` (gzip, optional
encryption, SHA-256, storage) while the server still writes it. A
diskless transfer ends with a 40-byte mark the server chose, which is
not stored; a transfer that ends without it is refused. Redis delays a
diskless sync by ``repl-diskless-sync-delay`` (5 s) to batch replicas:
the backup sets it to 0 for the moment its ``SYNC`` takes and puts the
server's value back as soon as the transfer started.

Where that cannot work (a server before 7.0, an ACL without
``REPLCONF``), the backup asks for a snapshot on disk (``BGSAVE``),
waits until that very save finished (``rdb_saves`` moved on) and
succeeded (``rdb_last_bgsave_status: ok``), then streams the RDB file.
Redis writes a snapshot to a temporary file and renames it, so the file
read is always one complete point-in-time snapshot.

With the AOF enabled the backup is the same RDB snapshot: it holds the
whole dataset at one instant. A restore places it as ``dump.rdb``, removes
the AOF directory, starts with the AOF off so Redis loads the RDB, then
turns the AOF on, which makes Redis write a new AOF base from the data
(the manager does those steps).

Redis keeps its ACL users outside the RDB, so the Trove users (not the
guest's own accounts) go with the snapshot: their ``ACL LIST`` rules
(hashed passwords, key patterns) are a second object of the backup,
``<location>.acl``, through the same pipeline (encrypted with the same
key, checksummed). A restore checks every rule names a valid Trove user
and appends them to the new server's ACL file before it starts.

Registered as ``redis-rdb`` in ``trove.guestagent.backup_strategies``; the
reporting, storage, key and checksum checks around it are the shared
:class:`trove_guest_base.backup.BackupOperations`.
"""

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time

from trove_core import exceptions
from trove_guest_base import backup as pipeline
from trove_guest_base import files
from trove_guest_base import net
from trove_guest_base.backup import pipeline as pipeline_mod

#: the second object of a backup: the Trove users' ACL rules
USERS_SUFFIX = ".acl"
#: first and longest pause (s) between looks at a running BGSAVE.
POLL = (0.01, 0.05)
#: how a complete RDB ends: the EOF opcode and an 8-byte CRC-64.
_RDB_EOF = 0xFF
#: the length of the mark that ends a diskless transfer.
_MARK = 40


def _rdb_check(head, tail):
    """A ``check`` for an RDB: its magic first, its EOF opcode before
    the 8-byte checksum last."""
    why = pipeline.expect_head(b"REDIS", "an RDB file")(head, tail)
    if why is None and (len(tail) < 9 or tail[-9] != _RDB_EOF):
        why = "it does not end as a complete RDB file (no EOF opcode)"
    return why


class SyncRefused(Exception):
    """The server does not serve an RDB-only ``SYNC`` to the guest."""


def _command(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class _SyncReader:
    """A replication connection reading one RDB (Redis's ``SYNC``)."""

    def __init__(self, sock, total):
        self.sock = sock
        self.buffer = bytearray()
        self.deadline = time.monotonic() + total if total else None

    def _fill(self):
        if self.deadline and time.monotonic() > self.deadline:
            raise exceptions.BackupError(
                backup_id="-", reason="the RDB transfer ran longer than "
                "the backup's time limit and was stopped")
        data = self.sock.recv(1024 * 1024)
        if not data:
            raise exceptions.BackupError(
                backup_id="-", reason="redis-server closed the connection "
                "before the RDB was complete")
        self.buffer += data

    def line(self):
        """The next reply line, skipping the keepalive newlines a server
        sends while it prepares the snapshot."""
        while True:
            while self.buffer[:1] == b"\n":
                del self.buffer[:1]
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                text = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                return text
            self._fill()

    def simple(self, what):
        reply = self.line()
        if not reply.startswith(b"+"):
            raise SyncRefused("%s: %s" % (what, reply[:200].decode(
                "utf-8", "replace")))
        return reply

    def payload(self, chunk):
        """Yield the RDB's bytes (without a diskless transfer's mark)."""
        header = self.line()
        if not header.startswith(b"$"):
            raise SyncRefused("SYNC: %s" % header[:200].decode(
                "utf-8", "replace"))
        if header.startswith(b"$EOF:"):
            mark = bytes(header[5:])
            if len(mark) != _MARK:
                raise SyncRefused("SYNC: a diskless mark of %d bytes"
                                  % len(mark))
            yield from self._until_mark(mark, chunk)
            return
        left = int(header[1:])
        while left:
            if not self.buffer:
                self._fill()
            piece = bytes(self.buffer[:min(left, chunk)])
            del self.buffer[:len(piece)]
            left -= len(piece)
            yield piece

    def _until_mark(self, mark, chunk):
        while True:
            if self.buffer.endswith(mark):
                del self.buffer[-_MARK:]
                while self.buffer:
                    piece = bytes(self.buffer[:chunk])
                    del self.buffer[:chunk]
                    yield piece
                return
            if len(self.buffer) >= chunk + _MARK:
                piece = bytes(self.buffer[:chunk])
                del self.buffer[:chunk]
                yield piece
                continue
            self._fill()

__all__ = ["RedisRDBBackup"]

LOG = logging.getLogger(__name__)


class RedisRDBBackup(pipeline.BackupStrategy):
    """Back up and restore RDB snapshots.

    :param manager: the :class:`~trove_ds_redis.manager.Manager` whose
        server, options and reporter are used.
    """

    name = "redis-rdb"
    suffix = ".rdb.gz"
    sidecars = (USERS_SUFFIX,)

    def snapshot(self, timeout=None):
        """Run a ``BGSAVE`` and wait until it completed successfully.

        :returns: the path of the RDB file holding the snapshot.
        :raises BackupError: the save failed or did not finish in time.
        """
        client = self.manager.client()
        before = client.info("persistence")["rdb_saves"]
        # SCHEDULE queues the save behind a running AOF rewrite instead of
        # failing; a save already running does not count as ours.
        client.execute_command("BGSAVE", "SCHEDULE")

        def finished():
            info = client.info("persistence")
            # rdb_saves counts a save when it forks, so a larger count with
            # no save in progress means ours (or a later one) has ended.
            if info["rdb_saves"] > before and not info[
                    "rdb_bgsave_in_progress"]:
                return info
            return False

        # a small save ends in tens of milliseconds: poll at 10-50 ms,
        # not at the manager's readiness pace (up to 0.5 s)
        info = net.wait_until(finished, timeout or 24 * 3600, "BGSAVE",
                              interval=POLL[0], max_interval=POLL[1])
        if info["rdb_last_bgsave_status"] != "ok":
            raise exceptions.BackupError(
                backup_id="-", reason="BGSAVE failed (rdb_last_bgsave_"
                "status=%s); see the Redis log"
                % info["rdb_last_bgsave_status"])
        return self.manager.rdb_path

    #: stream the snapshot over a replication connection (else
    #: BGSAVE, then read the file).
    stream = True

    def _connect(self):
        mgr = self.manager
        timeout, _total = pipeline_mod.stream_limits()
        sock = socket.create_connection((mgr.host, mgr.options.port),
                                        timeout=min(timeout, 30))
        try:
            tls = mgr.tls.client_kwargs()
            if tls:
                import ssl

                context = ssl.create_default_context(
                    cafile=tls["ssl_ca_certs"])
                context.check_hostname = False
                sock = context.wrap_socket(sock)
            sock.settimeout(timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                            4 * 1024 * 1024)
        except BaseException:
            sock.close()
            raise
        return sock

    @contextlib.contextmanager
    def _no_sync_delay(self):
        """Let the next diskless sync start at once; yields a callable
        that puts the server's delay back (also called on exit)."""
        from redis import exceptions as redis_errors

        client = self.manager.client()
        try:
            delay = client.config_get("repl-diskless-sync-delay").get(
                "repl-diskless-sync-delay", "0")
        except redis_errors.ResponseError:
            delay = "0"
        changed = [delay not in ("0", "")]
        mark = self.manager.sync_delay_mark
        if changed[0]:
            # a guest killed before put_back() leaves the mark, and its
            # next start puts the delay back (Manager.recover_after_restart)
            files.atomic_write(mark, delay, mode=0o600)
            client.config_set("repl-diskless-sync-delay", "0")

        def put_back():
            if changed[0]:
                changed[0] = False
                client.config_set("repl-diskless-sync-delay", delay)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(mark)
        try:
            yield put_back
        finally:
            with contextlib.suppress(Exception):
                put_back()

    def sync_chunks(self, chunk):
        """Yield the RDB of an RDB-only ``SYNC`` (see the module doc).

        :raises SyncRefused: the server does not serve one (before any
            byte of RDB was yielded).
        :raises BackupError: the transfer broke off or overran.
        """
        from trove_ds_redis import manager as redis_manager

        mgr = self.manager
        sock = self._connect()
        try:
            reader = _SyncReader(sock, pipeline_mod.stream_limits()[1])
            sock.sendall(_command("AUTH", redis_manager.ADMIN_USER,
                                  mgr.admin_password()))
            reader.simple("AUTH")
            sock.sendall(_command("REPLCONF", "capa", "eof")
                         + _command("REPLCONF", "rdb-only", "1"))
            reader.simple("REPLCONF capa")
            reader.simple("REPLCONF rdb-only")
            with self._no_sync_delay() as put_back:
                sock.sendall(_command("SYNC"))
                payload = reader.payload(chunk)
                first = next(payload, b"")
                put_back()
            yield first
            yield from payload
        finally:
            sock.close()

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Stream a snapshot to ``storage`` (see the module doc).

        :returns: the :class:`~trove_guest_base.backup.BackupResult`.
        :raises BackupError: the save or the upload failed; nothing is
            committed then.
        """
        rules = self._user_rules()
        metadata = self.metadata(aof=self.manager.aof_wanted(),
                                 users=len(rules))
        result = None
        if self.stream:
            try:
                result = pipeline.run_backup(
                    pipeline.Stream(self.sync_chunks, check=_rdb_check),
                    storage, location, key=key, progress=progress,
                    metadata=dict(metadata, source="sync"))
            except SyncRefused as exc:
                LOG.warning("redis-server does not stream an RDB to the "
                            "guest (%s); taking a BGSAVE to disk instead",
                            exc)
        if result is None:
            path = self.snapshot()
            result = pipeline.run_backup(
                pipeline.File(path, check=_rdb_check), storage, location,
                key=key, progress=progress,
                metadata=dict(metadata, source="bgsave"))
        if rules:
            # The users are part of the backup: without them the backup
            # is not committed.
            try:
                with self._scratch() as scratch:
                    with open(scratch, "w", encoding="utf-8") as handle:
                        handle.write("".join(r + "\n" for r in rules))
                    pipeline.run_backup(pipeline.File(scratch), storage,
                                        location + USERS_SUFFIX, key=key,
                                        metadata=self.metadata(
                                            users=len(rules), of=location))
            except BaseException:
                storage.delete(location)
                raise
        return result

    def _user_rules(self):
        """The ``ACL LIST`` rules of the Trove users (not the guest's,
        replication's or the superuser's)."""
        from trove_ds_redis import manager as redis_manager

        own = {redis_manager.ROOT_USER, redis_manager.ADMIN_USER,
               redis_manager.REPLICATION_USER}
        rules = []
        for rule in self.manager.client().execute_command("ACL", "LIST"):
            rule = rule.decode() if isinstance(rule, bytes) else rule
            parts = rule.split(" ", 2)
            if len(parts) > 1 and parts[1] not in own:
                rules.append(rule)
        return rules

    def _scratch(self):
        """A private temporary file in the guest's state directory."""
        import contextlib

        @contextlib.contextmanager
        def scratch():
            os.makedirs(self.manager.state_dir, exist_ok=True)
            fd, path = tempfile.mkstemp(dir=self.manager.state_dir,
                                        prefix=".users-")
            os.close(fd)
            try:
                yield path
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return scratch()

    def _restore_users(self, storage, location, key):
        """Append the backup's Trove users to the ACL file."""
        from trove_ds_redis import manager as redis_manager
        from trove_ds_redis import users as acl

        if not storage.exists(location + USERS_SUFFIX):
            return 0
        reserved = (redis_manager.ROOT_USER, redis_manager.ADMIN_USER,
                    redis_manager.REPLICATION_USER)
        with self._scratch() as scratch:
            pipeline.run_restore(storage, location + USERS_SUFFIX,
                                 pipeline.File(scratch), key=key)
            with open(scratch, encoding="utf-8") as handle:
                rules = [line.rstrip("\n") for line in handle if line.strip()]
        for rule in rules:
            parts = rule.split(" ")
            if len(parts) < 3 or parts[0] != "user" or "\r" in rule:
                raise exceptions.BackupError(
                    backup_id="-", reason="the users of backup %s hold a "
                    "line that is not an ACL user rule; refusing it"
                    % location)
            try:
                acl.check_user_name(parts[1], reserved=reserved)
            except exceptions.InvalidIdentifier as exc:
                raise exceptions.BackupError(
                    backup_id="-", reason="the users of backup %s: %s"
                    % (location, exc)) from None
        with open(self.manager.acl_file, "a", encoding="utf-8") as handle:
            handle.write("".join(r + "\n" for r in rules))
        return len(rules)

    def restore(self, storage, location, key=None, progress=None):
        """Verify the backup, place it as ``dump.rdb`` and remove the AOF
        so the server loads the RDB on its next start.

        :returns: the bytes restored.
        :raises BadRequest: the server runs (stop it first).
        :raises BackupError: missing or corrupt backup; the data
            directory is left untouched then.
        """
        if self.manager.runner.is_running():
            raise exceptions.BadRequest(
                reason="redis-server is running; a restore needs it "
                "stopped")
        done = pipeline.run_restore(storage, location,
                                    pipeline.File(self.manager.rdb_path),
                                    key=key, progress=progress)
        if self.manager.service_owner:
            shutil.chown(self.manager.rdb_path,
                         user=self.manager.service_owner)
        if os.path.isdir(self.manager.aof_dir):
            shutil.rmtree(self.manager.aof_dir)
        users = self._restore_users(storage, location, key)
        LOG.info("restored %d bytes and %d users from %s", done, users,
                 location)
        return done
