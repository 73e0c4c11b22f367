"""Live tests of the redis-rdb backup and redis-sync replication
strategies with real servers."""

import os

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from trove_core import exceptions

pytestmark = pytest.mark.redis


def _fill(client, prefix, count):
    with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            pipe.set("%s:%d" % (prefix, i), "v%d" % i)
        pipe.execute()


def _impatient_client(mgr):
    """An admin client that gives up on a blocked write after 0.5 s."""
    return redis.Redis(host=mgr.host, port=mgr.options.port,
                       username="os_admin", password=mgr.admin_password(),
                       socket_timeout=0.5, retry=Retry(NoBackoff(), 0))


class TestBackup:
    """Backups stream a snapshot (a SYNC, else a completed BGSAVE);
    restores go through prepare."""

    @pytest.mark.parametrize("aof", [
        pytest.param(False, id="rdb"), pytest.param(True, id="aof")])
    def test_backup_then_restore_into_a_new_guest(self, make, aof):
        """Data written before the backup is there after the restore."""
        source = make("src-%s" % aof, appendonly=aof)
        source.prepare(memory_mb=None, packages=[], databases=[],
                       users=[])
        _fill(source.client(), "k", 500)
        result = source.create_backup({"id": "bk-%s" % aof})
        states = [f["state"] for _, f in source.reporter.backups]
        assert states == ["BUILDING", "COMPLETED"]
        done = source.reporter.backups[-1][1]
        assert done["checksum"] == result.checksum
        assert done["location"] == "bk-%s.rdb.gz" % aof

        target = make("dst-%s" % aof, appendonly=aof)
        target.prepare(memory_mb=None, packages=[], databases=[],
                       users=[], backup_info={
                           "id": "bk-%s" % aof,
                           "location": done["location"],
                           "checksum": done["checksum"]})
        client = target.client()
        assert client.dbsize() == 500
        assert client.get("k:499") == "v499"
        info = client.info("persistence")
        assert info["aof_enabled"] == (1 if aof else 0)
        if aof:
            target.restart()
            assert target.client().dbsize() == 500

    def test_streamed_without_the_replica_delay(self, make):
        """The snapshot streams over an RDB-only SYNC: it does not wait
        for the server's diskless-sync delay, which is put back."""
        import time

        source = make("src-stream")
        source.prepare(memory_mb=None, packages=[], databases=[],
                       users=[])
        _fill(source.client(), "s", 2000)
        client = source.client()
        client.config_set("repl-diskless-sync", "yes")
        client.config_set("repl-diskless-sync-delay", "5")
        started = time.monotonic()
        result = source.create_backup({"id": "streamed"})
        assert time.monotonic() - started < 4
        assert client.config_get("repl-diskless-sync-delay") == {
            "repl-diskless-sync-delay": "5"}
        storage = source.backup_storage()
        assert storage.metadata(result.location)["source"] == "sync"
        assert client.info("replication")["connected_slaves"] == 0
        target = make("dst-stream")
        target.prepare(memory_mb=None, packages=[], databases=[],
                       users=[], backup_info={"id": "streamed",
                                              "location": result.location})
        assert target.client().dbsize() == 2000

    def test_bgsave_when_sync_is_refused(self, make):
        """Where the server will not serve the guest an RDB (here: an
        ACL without SYNC), the backup takes a BGSAVE and the file."""
        source = make("src-nosync")
        source.prepare(memory_mb=None, packages=[], databases=[],
                       users=[])
        _fill(source.client(), "n", 300)
        client = source.client()
        client.acl_setuser("os_admin", commands=["-sync", "-replconf"])
        try:
            result = source.create_backup({"id": "fallback"})
        finally:
            client.acl_setuser("os_admin", commands=["+@all"])
        storage = source.backup_storage()
        assert storage.metadata(result.location)["source"] == "bgsave"
        target = make("dst-nosync")
        target.prepare(memory_mb=None, packages=[], databases=[],
                       users=[], backup_info={"id": "fallback",
                                              "location": result.location})
        assert target.client().dbsize() == 300

    def test_failed_backup_is_never_reported_complete(self, make,
                                                      redis_root):
        """A storage failure reports FAILED and commits nothing."""
        blocker = redis_root / "not-a-directory"
        blocker.write_text("x")
        mgr = make("fails", backup_storage_root=str(blocker / "sub"))
        mgr.prepare(memory_mb=None, packages=[], databases=[], users=[])
        with pytest.raises(exceptions.BackupError) as info:
            mgr.create_backup({"id": "doomed"})
        assert info.value.backup_id in ("doomed", "doomed.rdb.gz")
        states = [f["state"] for _, f in mgr.reporter.backups]
        assert states == ["BUILDING", "FAILED"]

    def test_corrupt_backup_is_refused_before_restore(self, make):
        """A tampered backup fails prepare; no RDB is put in place."""
        source = make("src-corrupt")
        source.prepare(memory_mb=None, packages=[], databases=[],
                       users=[])
        source.client().set("a", "b")
        result = source.create_backup({"id": "tampered"})
        path = source.backup_storage().path(result.location)
        with open(path, "r+b") as handle:
            handle.seek(20)
            handle.write(b"\xff\xff\xff\xff")
        target = make("dst-corrupt")
        with pytest.raises(exceptions.BackupError, match="checksum"):
            target.prepare(memory_mb=None, packages=[], databases=[],
                           users=[], backup_info={"id": "tampered",
                                                  "location":
                                                  result.location})
        assert not os.path.exists(target.rdb_path)

    def test_backup_id_cannot_escape_storage(self, prepared):
        """A backup id with a path is refused."""
        with pytest.raises(exceptions.BadRequest, match="'id'"):
            prepared.create_backup({"id": "../x"})

    def test_pre_and_post_create_backup_pause_writes(self, prepared):
        """pre_create_backup pauses writes, post lets them through."""
        prepared.pre_create_backup()
        try:
            assert prepared.client().get("paused") is None
            blocked = _impatient_client(prepared)
            with pytest.raises(redis.TimeoutError):
                blocked.set("paused", "1")
        finally:
            prepared.post_create_backup()
        assert prepared.client().set("paused", "2")
        assert not os.path.exists(prepared.write_pause_mark)

    def test_guest_killed_between_pre_and_post_unpauses(self, prepared):
        """A guest that dies after pre_create_backup does not leave writes
        paused for the hour: its next start lets them through."""
        prepared.pre_create_backup()
        assert os.stat(prepared.write_pause_mark).st_mode & 0o777 == 0o600
        # the guest dies here: no post_create_backup
        blocked = _impatient_client(prepared)
        with pytest.raises(redis.TimeoutError):
            blocked.set("paused", "1")
        prepared.recover_after_restart()
        assert blocked.set("paused", "3")
        assert not os.path.exists(prepared.write_pause_mark)

    def test_guest_killed_during_sync_puts_delay_back(self, make):
        """The diskless-sync delay a streamed backup sets to 0 is put back
        by the next start when the guest died before doing it."""
        source = make("src-delay")
        source.prepare(memory_mb=None, packages=[], databases=[],
                       users=[])
        client = source.client()
        client.config_set("repl-diskless-sync-delay", "7")
        held = source.backup_strategy()._no_sync_delay()
        held.__enter__()  # the guest dies inside: no __exit__
        assert client.config_get("repl-diskless-sync-delay") == {
            "repl-diskless-sync-delay": "0"}
        mark = source.sync_delay_mark
        assert os.stat(mark).st_mode & 0o777 == 0o600
        with open(mark, encoding="utf-8") as handle:
            assert handle.read() == "7"
        assert source.recover_after_restart() == {}
        assert client.config_get("repl-diskless-sync-delay") == {
            "repl-diskless-sync-delay": "7"}
        assert not os.path.exists(mark)
        # a backup that completes leaves no mark
        source.create_backup({"id": "delay-kept"})
        assert not os.path.exists(mark)
        assert client.config_get("repl-diskless-sync-delay") == {
            "repl-diskless-sync-delay": "7"}


class TestReplication:
    """Two real servers: attach, catch up, promote, demote, detach."""

    def test_full_cycle(self, make):
        """A replica follows with authentication and roles can swap."""
        first = make("repl-a")
        second = make("repl-b")
        for mgr in (first, second):
            mgr.prepare(memory_mb=None, packages=[], databases=[],
                        users=[])
        assert first.backup_required_for_replication() is False
        _fill(first.client(), "before", 50)
        snapshot = first.get_replication_snapshot({"id": "s"})
        assert snapshot["master"]["username"] == "os_repl"

        second.attach_replica(snapshot, slave_config=None)
        with open(second.options.config_file, encoding="utf-8") as f:
            assert "replicaof %s %d" % (
                first.host, first.options.port) in f.read().splitlines()
        _fill(first.client(), "after", 50)
        txn = first.get_latest_txn_id()
        second.wait_for_txn(txn)
        replica = second.client()
        assert replica.get("after:49") == "v49"
        with pytest.raises(redis.ReadOnlyError):
            replica.set("x", "1")

        # a restarted replica keeps following
        second.restart()
        second.wait_for_txn(first.get_latest_txn_id())
        assert second.client().info("replication")["role"] == "slave"

        # failover: the replica becomes the primary, the old one follows
        first.make_read_only(True)
        second.enable_as_master(None)
        first.make_read_only(False)
        first.demote_replication_master()
        first.attach_replica(second.get_replica_context(), None)
        second.client().set("swapped", "yes")
        first.wait_for_txn(second.get_last_txn())
        assert first.client().get("swapped") == "yes"

        former = first.detach_replica()
        assert former["master"]["port"] == second.options.port
        assert first.client().set("own", "1")
        assert first.client().info("replication")["role"] == "master"

    def test_wrong_password_does_not_attach(self, make):
        """Bad credentials fail attach with a reason."""
        primary = make("repl-c", replication_timeout=3)
        replica = make("repl-d", replication_timeout=3)
        for mgr in (primary, replica):
            mgr.prepare(memory_mb=None, packages=[], databases=[],
                        users=[])
        context = primary.get_replica_context()
        context["master"]["password"] = "wrong"
        with pytest.raises(exceptions.DatastoreError,
                           match="replication password") as info:
            replica.attach_replica(context, None)
        assert info.value.operation == "attach_replica"
        replica.detach_replica()

    @pytest.mark.parametrize("master", [
        pytest.param({"host": "a b", "port": 1, "password": "p"},
                     id="host-space"),
        pytest.param({"host": "h", "port": 0, "password": "p"},
                     id="port-zero"),
        pytest.param({"host": "h", "port": 1, "password": ""},
                     id="no-password"),
        pytest.param({"host": "h", "port": 1, "password": "p",
                      "username": "+@all"}, id="user-rule"),
    ])
    def test_malformed_replica_info_is_refused(self, prepared, master):
        """Bad replica_info is refused before any change."""
        with pytest.raises(exceptions.BadRequest):
            prepared.attach_replica({"master": master}, None)
        assert prepared.client().info("replication")["role"] == "master"
