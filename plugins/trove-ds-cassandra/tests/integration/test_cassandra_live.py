"""Live tests of the Cassandra plugin (TROVE_TEST_CASSANDRA).

With a cassandra launcher they prepare a real node through the plugin;
with ``[user:password@]host:port`` only the CQL tests run against that
node. Skipped, with the reason printed, when the variable is unset.
"""

import contextlib
import os
import stat
import uuid

import pytest

from trove_core import models
from trove_guest_base.testing import helpers
from trove_ds_cassandra import cql
from trove_ds_cassandra import testing

pytestmark = [pytest.mark.cassandra, pytest.mark.slow]


@pytest.fixture(scope="module")
def prepared(cassandra_binary, tmp_path_factory):
    """One prepared node for the module."""
    root = tmp_path_factory.mktemp("cassandra-live")
    options = testing.spawner_options(cassandra_binary)(os.fspath(root))
    options.update(mount_point=os.fspath(root / "data"),
                   backup_storage_root=os.fspath(root / "backups"),
                   keyspace_replication={"class": "SimpleStrategy",
                                         "replication_factor": "1"})
    mgr = helpers.make_manager("cassandra", root, **options)
    # no role or permission caches: revocations are checked at once
    mgr.prepare(memory_mb=1024, packages=[],
                config_contents="roles_validity_in_ms: 0\n"
                "permissions_validity_in_ms: 0\n"
                "credentials_validity_in_ms: 0\n",
                databases=[models.Database("shop")],
                users=[models.User("alice", password="Alice-pw-1",
                                   databases=(models.Database("shop"),))])
    yield mgr, testing.CassandraProbe(mgr)
    mgr.do_stop()


class TestPrepared:
    """What prepare leaves behind."""

    def test_default_superuser_replaced(self, prepared):
        """cassandra/cassandra no longer logs in; os_admin does."""
        mgr, probe = prepared
        assert not probe.can_login("cassandra", "cassandra")
        assert probe.can_login("os_admin", mgr.admin_password())
        path = mgr.secret_path("admin_password")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def test_user_access(self, prepared):
        """The prepared user reaches its keyspace until revoked."""
        mgr, probe = prepared
        assert [d.name for d in mgr.list_access("alice", "%")] == ["shop"]
        assert probe.can_login("alice", "Alice-pw-1", database="shop")
        mgr.revoke_access("alice", "%", "shop")
        assert not probe.can_login("alice", "Alice-pw-1", database="shop")

    def test_hostile_role_and_rename(self, prepared):
        """A quote-laden role is stored exactly; a rename keeps its
        password."""
        mgr, probe = prepared
        name = 'o"brien\'; DROP KEYSPACE shop; --'
        mgr.create_user([models.User(name, password="Pw-1")])
        assert mgr.get_user(name, "%").name == name
        mgr.update_attributes(name, "%", {"name": "obrien"})
        assert probe.can_login("obrien", "Pw-1")
        assert probe.database_exists("shop")
        mgr.delete_user(models.User("obrien"))

    def test_no_plaintext_in_full_query_log(self, prepared, tmp_path):
        """With the full query log on, a created and a changed password
        are in no file it writes (the node got bcrypt hashes); the
        hashed role logs in."""
        mgr, probe = prepared
        fql = tmp_path / "fql"
        fql.mkdir()  # the test's node runs as the test's own user
        secret = "Fql-pw-%s" % uuid.uuid4().hex[:8]
        mgr._nodetool("enablefullquerylog", "--path", os.fspath(fql))
        try:
            mgr.create_user([models.User("carol", password=secret)])
            mgr.change_passwords([models.User("carol",
                                              password=secret + "x")])
        finally:
            mgr._nodetool("disablefullquerylog")
        assert probe.can_login("carol", secret + "x")
        written = b"".join(p.read_bytes() for p in fql.rglob("*")
                           if p.is_file())
        assert written, "the full query log wrote nothing"
        assert secret.encode() not in written
        mgr.delete_user(models.User("carol"))

    def test_create_user_all_or_nothing(self, prepared):
        """A missing keyspace for the second user creates neither."""
        mgr, _probe = prepared
        with pytest.raises(Exception, match="do not exist"):
            mgr.create_user([
                models.User("dora", password="Pw-1",
                            databases=(models.Database("shop"),)),
                models.User("eve", password="Pw-1",
                            databases=(models.Database("nope_ks"),))])
        assert mgr.get_user("dora", "%") is None
        assert mgr.get_user("eve", "%") is None


class TestRunningNode:
    """CQL built by the plugin against a running node (TROVE_TEST_CASSANDRA
    as an address with superuser credentials)."""

    def test_keyspace_role_grant(self, cassandra_target):
        """Keyspace, role and grants round trip."""
        from cassandra.cluster import Cluster

        from trove_ds_cassandra import manager

        kind, where = cassandra_target
        if kind != "address":
            pytest.skip("%s is a launcher; TestPrepared covers this"
                        % testing.ENV_VAR)
        cluster = Cluster(**manager.cluster_options(
            where["host"], where["port"], where["user"],
            where["password"]))
        ks = "trove_it_%s" % uuid.uuid4().hex[:8]
        role = 'it "%s"' % ks
        with contextlib.closing(cluster.connect()) as session:
            try:
                cql.execute(session, cql.create_keyspace(
                    ks, {"class": "SimpleStrategy",
                         "replication_factor": 1}))
                cql.execute(session, cql.create_role(role, "Pw-1"))
                for statement in cql.grant_keyspace(role, ks):
                    cql.execute(session, statement)
                rows = cql.execute(session, cql.list_permissions())
                resources = [r.resource for r in rows if r.role == role]
                assert cql.keyspaces_of(resources) == [ks]
            finally:
                cql.execute(session, cql.drop_role(role))
                cql.execute(session, cql.drop_keyspace(ks))
        cluster.shutdown()
