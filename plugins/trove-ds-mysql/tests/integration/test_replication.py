"""GTID replication between live servers: a primary and two replicas
built from snapshots, then a promote and an eject in the order Trove
26's taskmanager drives them (trove/taskmanager/manager.py)."""

import pymysql
import pytest

from trove_core import exceptions
from trove_core import models
from trove_ds_mysql import replication

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]


def _query(manager, statement):
    with manager.server.admin() as cur:
        cur.execute(statement)
        return cur.fetchall()


def _slave_errors(manager):
    with manager.server.admin() as cur:
        cur = cur.connection.cursor(pymysql.cursors.DictCursor)
        cur.execute("SHOW SLAVE STATUS")
        status = cur.fetchone()
    assert status, "not a replica"
    return (status["Slave_IO_Running"], status["Slave_SQL_Running"],
            status["Last_SQL_Error"])


@pytest.fixture(scope="module")
def fleet(make_manager, backup_root):
    """A primary with data and two replicas, each prepared from a
    snapshot taken as Trove takes it (the second one incremental on the
    first, Trove's ``parent`` from the last completed backup)."""
    primary = make_manager("repl-primary", storage=backup_root)
    primary.prepare(memory_mb=None, packages=[],
                    databases=[models.Database("app")], users=[])
    _query(primary, "CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)")
    _query(primary, "INSERT INTO app.t VALUES (1, 'before snapshot')")
    assert primary.backup_required_for_replication()
    first = primary.get_replication_snapshot(
        {"id": "snap-1", "storage_driver": "file"})
    replica = make_manager("repl-replica", storage=backup_root)
    replica.prepare(memory_mb=None, packages=[], databases=[], users=[],
                    snapshot=first)
    _query(primary, "INSERT INTO app.t VALUES (10, 'between snapshots')")
    second = primary.get_replication_snapshot({
        "id": "snap-2", "storage_driver": "file",
        "parent": {"location": first["dataset"]["location"],
                   "checksum": first["dataset"]["checksum"]}})
    other = make_manager("repl-other", storage=backup_root)
    other.prepare(memory_mb=None, packages=[], databases=[], users=[],
                  snapshot=second)
    return primary, replica, other, first


class TestReplication:
    """Write on the primary, read on the replicas."""

    def test_snapshot_shape(self, fleet):
        """The snapshot has Trove's keys: dataset, master, replica_conf
        with the replication account."""
        primary, _replica, _other, snapshot = fleet
        assert snapshot["replication_strategy"] == "mysql-gtid"
        assert snapshot["master"] == {"host": "127.0.0.1",
                                      "port": primary.options.port}
        dataset = snapshot["dataset"]
        assert dataset["snapshot_id"] == "snap-1"
        assert dataset["datastore_manager"] == "mysql"
        assert {"dataset_size", "volume_size"} <= set(dataset)
        assert snapshot["replica_conf"]["replication_user"]["name"]
        assert "log_position" in snapshot["replica_conf"]

    def test_replicas_follow(self, fleet):
        """Rows written on the primary reach both read-only replicas;
        get_last_txn answers [master server id, sequence number]."""
        primary, replica, other, _snapshot = fleet
        _query(primary, "INSERT INTO app.t VALUES (2, 'after snapshot')")
        txn = primary.get_latest_txn_id()
        for follower in (replica, other):
            follower.wait_for_txn(txn)
            assert _query(follower, "SELECT COUNT(*) FROM app.t") == (
                (3,),)
            assert _query(follower, "SELECT @@read_only") == ((1,),)
            master_id, sequence = follower.get_last_txn()
            assert master_id == primary.server.server_id
            assert sequence == int(txn.split("-")[-1])
        assert not replica.restored_gtid()  # used once, then forgotten

    def test_replica_context(self, fleet):
        """The primary's context carries its address and an account."""
        primary = fleet[0]
        context = primary.get_replica_context()
        assert context["master"]["port"] == primary.options.port
        assert context["replica_conf"]["log_position"]["gtid_pos"]
        user = context["replica_conf"]["replication_user"]
        conn = pymysql.connect(host="127.0.0.1",
                               port=primary.options.port,
                               user=user["name"], password=user["password"])
        conn.close()

    def test_wait_for_missing_txn_times_out(self, fleet):
        """Waiting for a transaction that never comes fails, named."""
        replica = fleet[1]
        with pytest.raises(exceptions.DatastoreError,
                           match="not applied") as info:
            replica.replication.wait_for_txn("0-999-999", timeout=1)
        assert info.value.operation == "wait_for_txn"


class TestFailover:
    """Promote then eject, with two replicas, in Trove's order."""

    def test_promote_then_eject(self, fleet):
        """After a promote every server follows the new primary without
        replaying anything; after the old primary dies, eject picks the
        most current replica and the other follows it."""
        old, candidate, other, _snapshot = fleet
        # Trove's _promote_to_replica_source, step by step
        old.make_read_only(True)
        candidate.wait_for_txn(old.get_latest_txn_id())
        detached = candidate.detach_replica(for_failover=True)
        assert detached["master"]["port"] == old.options.port
        assert detached["replication_user"]
        candidate.enable_as_master(None)
        candidate.make_read_only(False)
        for replica in (candidate, other):
            if replica is not candidate:
                replica.detach_replica(for_failover=True)
                replica.attach_replica(candidate.get_replica_context(),
                                       None, restart=True)
        old.attach_replica(candidate.get_replica_context(), None,
                           restart=False)
        old.demote_replication_master()
        _query(candidate, "INSERT INTO app.t VALUES (3, 'promoted')")
        txn = candidate.get_latest_txn_id()
        for follower in (other, old):
            follower.wait_for_txn(txn)
            assert _query(follower, "SELECT v FROM app.t WHERE id = 3") \
                == (("promoted",),)
            assert _slave_errors(follower) == ("Yes", "Yes", "")
        # Trove's _eject_replica_source after the primary died
        candidate.stop_db()
        replicas = [other, old]
        txns = [[r] + r.get_last_txn() for r in replicas]
        assert len({t[1] for t in txns if t[1]}) == 1, txns
        assert txns[0][1] == candidate.server.server_id
        new = sorted(txns, key=lambda t: t[2], reverse=True)[0][0]
        new.detach_replica(for_failover=True)
        new.enable_as_master(None)
        new.make_read_only(False)
        for replica in replicas:
            if replica is not new:
                replica.detach_replica(for_failover=True)
                replica.attach_replica(new.get_replica_context(), None)
        _query(new, "INSERT INTO app.t VALUES (4, 'ejected')")
        follower = old if new is other else other
        follower.wait_for_txn(new.get_latest_txn_id())
        assert _query(follower, "SELECT COUNT(*) FROM app.t") == ((5,),)
        assert _slave_errors(follower) == ("Yes", "Yes", "")


class TestShapes:
    """Helpers and refusals without a server."""

    @pytest.mark.parametrize("position, master, expected", [
        pytest.param("", None, 0, id="empty"),
        pytest.param("0-7-12", 7, 12, id="master"),
        pytest.param("0-7-12,1-9-30", 9, 30, id="other-domain"),
        pytest.param("0-8-14", 7, 14, id="replicated-by-others"),
    ])
    def test_last_sequence(self, position, master, expected):
        """The sequence Trove compares to pick the most current."""
        assert replication.last_sequence(position, master) == expected

    def test_snapshot_of_another_datastore(self, make_manager):
        """A snapshot taken from another datastore fails prepare before
        anything is written, naming both datastores."""
        victim = make_manager("foreign-snapshot")
        snapshot = {"dataset": {"datastore_manager": "postgresql",
                                "snapshot_id": "x"},
                    "master": {"host": "127.0.0.1", "port": 1},
                    "replica_conf": {"replication_user": {
                        "name": "u", "password": "p"}}}
        with pytest.raises(exceptions.BadRequest,
                           match="from datastore 'postgresql', not "
                           "'mysql'"):
            victim.prepare(memory_mb=None, packages=[], databases=[],
                           users=[], snapshot=snapshot)
        assert victim.server.is_empty()
        assert not victim.server.runner.is_running()
