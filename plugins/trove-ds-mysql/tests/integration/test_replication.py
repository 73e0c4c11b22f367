"""GTID replication between two live servers, then a promotion."""

import pymysql
import pytest

from trove_core import exceptions
from trove_core import models

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]


def _query(manager, statement):
    with manager.server.admin() as cur:
        cur.execute(statement)
        return cur.fetchall()


@pytest.fixture(scope="module")
def pair(make_manager, backup_root):
    """A primary with data and a replica prepared from its snapshot."""
    primary = make_manager("repl-primary", storage=backup_root)
    primary.prepare(memory_mb=None, packages=[],
                    databases=[models.Database("app")], users=[])
    _query(primary, "CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)")
    _query(primary, "INSERT INTO app.t VALUES (1, 'before snapshot')")
    assert primary.backup_required_for_replication()
    snapshot = primary.get_replication_snapshot({"id": "snap-1"})
    replica = make_manager("repl-replica", storage=backup_root)
    replica.prepare(memory_mb=None, packages=[], databases=[], users=[],
                    snapshot=snapshot)
    return primary, replica, snapshot


class TestReplication:
    """Write on the primary, read on the replica, promote the replica."""

    def test_snapshot_shape(self, pair):
        """The snapshot names the dataset, the primary and an account."""
        primary, _replica, snapshot = pair
        assert snapshot["replication_strategy"] == "mysql-gtid"
        assert snapshot["master"] == {"host": "127.0.0.1",
                                      "port": primary.options.port}
        assert snapshot["dataset"]["snapshot_id"] == "snap-1"
        assert snapshot["log_position"]["replication_user"]["name"]

    def test_replica_follows(self, pair):
        """Rows written on the primary reach the read-only replica."""
        primary, replica, _snapshot = pair
        assert _query(replica, "SELECT v FROM app.t WHERE id = 1") == (
            ("before snapshot",),)
        _query(primary, "INSERT INTO app.t VALUES (2, 'after snapshot')")
        txn = primary.get_latest_txn_id()
        replica.wait_for_txn(txn)
        assert _query(replica, "SELECT v FROM app.t WHERE id = 2") == (
            ("after snapshot",),)
        server_id, position = replica.get_last_txn()
        assert txn.split("-")[-1] in position
        assert _query(replica, "SELECT @@read_only") == ((1,),)

    def test_replica_context(self, pair):
        """The primary's context carries its address and an account."""
        primary, _replica, _snapshot = pair
        context = primary.get_replica_context()
        assert context["master"]["port"] == primary.options.port
        user = context["log_position"]["replication_user"]
        conn = pymysql.connect(host="127.0.0.1",
                               port=primary.options.port,
                               user=user["name"], password=user["password"])
        conn.close()

    def test_wait_for_missing_txn_times_out(self, pair):
        """Waiting for a transaction that never comes fails, named."""
        _primary, replica, _snapshot = pair
        with pytest.raises(exceptions.DatastoreError,
                           match="not applied") as info:
            replica.replication.wait_for_txn("0-999-999", timeout=1)
        assert info.value.operation == "wait_for_txn"

    def test_promote_replica(self, pair):
        """After a failover the old replica takes writes and the old
        primary follows it."""
        primary, replica, _snapshot = pair
        primary.make_read_only(True)
        replica.wait_for_txn(primary.get_latest_txn_id())
        detached = replica.detach_replica(for_failover=True)
        assert detached["master"]["port"] == primary.options.port
        replica.enable_as_master(None)
        primary.demote_replication_master()
        primary.attach_replica(replica.get_replica_context(), None)
        _query(replica, "INSERT INTO app.t VALUES (3, 'after promotion')")
        primary.wait_for_txn(replica.get_latest_txn_id())
        assert _query(primary, "SELECT v FROM app.t WHERE id = 3") == (
            ("after promotion",),)
        primary.detach_replica()
        assert _query(primary, "SELECT @@read_only") == ((0,),)
