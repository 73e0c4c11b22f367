"""Tests of the fake datastore plugin of trove_guest_base.testing."""

import pytest

from trove_core import discovery
from trove_core import exceptions
from trove_core import models
from trove_core import options
from trove_core.status import ServiceStatus
from trove_guest_base.testing import backend
from trove_guest_base.testing import helpers


@pytest.fixture
def fake(tmp_path):
    """A prepared fake manager with one database and one user."""
    mgr = helpers.make_fake_manager(tmp_path)
    mgr.prepare(256, [], [models.Database("db1")],
                [models.User("alice", password="s3cret",
                             databases=(models.Database("db1"),))])
    yield mgr
    mgr.server.stop()


class TestEntryPoints:
    """The test distribution registers the fake through real entry
    points."""

    def test_listed_with_its_distribution(self):
        """discover() lists 'fake' from the trove-ds-fake distribution."""
        record = discovery.find("fake")
        assert record.distribution == "trove-ds-fake"
        assert record.descriptor.tier.label == "experimental"

    def test_manager_loads_and_matches_descriptor(self):
        """load_manager_class verifies the manager against the
        descriptor."""
        record, cls = discovery.load_manager_class("fake")
        assert set(cls.capabilities()) == record.descriptor.capabilities

    @pytest.mark.parametrize("side", [
        pytest.param("server", id="server"),
        pytest.param("guest", id="guest")])
    def test_options_exported_per_side(self, side):
        """Both option sides load through oslo.config.opts."""
        [(group, opts)] = options.load_side("fake", side)
        assert group.name == "fake"
        assert opts

    def test_make_manager_through_entry_point(self, tmp_path):
        """make_manager builds the registered manager class."""
        mgr = helpers.make_manager("fake", tmp_path,
                                   mount_point=str(tmp_path / "data"))
        assert mgr.options.mount_point == str(tmp_path / "data")
        assert mgr.status is ServiceStatus.NEW


class TestFakeManager:
    """The fake's manager acts on its server as seen from outside."""

    def test_prepared_user_logs_in(self, fake):
        """A user created by prepare can log in to its database."""
        client = fake.server.client("alice", "s3cret", database="db1")
        client.put("k", "v")
        assert client.get("k") == "v"
        assert fake.status is ServiceStatus.HEALTHY

    def test_wrong_password_refused(self, fake):
        """The server refuses a wrong password."""
        with pytest.raises(exceptions.DatastoreError,
                           match="access denied") as info:
            fake.server.client("alice", "nope")
        assert info.value.operation == "connect"

    def test_system_objects_hidden(self, fake):
        """The admin user and the system database are not listed."""
        dbs, _ = fake.list_databases()
        users, _ = fake.list_users()
        assert [d.name for d in dbs] == ["db1"]
        assert [u.name for u in users] == ["alice"]

    def test_reserved_user_refused(self, fake):
        """Creating the internal admin account is refused."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="reserved") as info:
            fake.create_user([models.User(backend.ADMIN_USER,
                                          password="x")])
        assert info.value.kind == "user"

    def test_unknown_override_refused(self, fake):
        """An override outside the schema is refused by name."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="nosuch") as info:
            fake.apply_overrides({"nosuch": 1})
        assert info.value.name == "nosuch"

    def test_restart_required_override(self, fake):
        """A static override is reported as needing a restart."""
        assert fake.apply_overrides({"buffer_pool_mb": 64}) == [
            "buffer_pool_mb"]
        assert fake.status is ServiceStatus.RESTART_REQUIRED

    def test_base_config_read_at_start(self, fake):
        """write_config takes effect on the next start."""
        fake.stop_db()
        fake.write_config("max_connections 7\n")
        fake.start_db_with_conf_changes(None)
        client = fake.server.client("alice", "s3cret")
        assert client.variables()["max_connections"] == 7

    def test_stopped_server_refuses_clients(self, fake):
        """Clients cannot connect to a stopped server."""
        fake.stop_db()
        assert fake.refresh_status() is ServiceStatus.SHUTDOWN
        with pytest.raises(exceptions.DatastoreError, match="not running"):
            fake.server.client("alice", "s3cret")


class TestFakeBackupAndReplication:
    """Backups never report success on failure; replicas follow."""

    def test_backup_of_stopped_server_fails(self, fake):
        """A backup of a stopped server is reported FAILED and raises."""
        fake.stop_db()
        with pytest.raises(exceptions.DatastoreError,
                           match="not running") as info:
            fake.create_backup({"id": "b1"})
        assert info.value.operation == "connect"
        assert fake.reporter.last_backup("b1")["state"] == "FAILED"
        assert not fake._storage().exists("fake/b1.json.gz")

    @pytest.mark.parametrize("backup_id", [
        pytest.param("../escape", id="traversal"),
        pytest.param("", id="empty")])
    def test_backup_id_checked(self, fake, backup_id):
        """A backup id that is not a bare name is refused."""
        with pytest.raises(exceptions.InvalidIdentifier) as info:
            fake.create_backup({"id": backup_id})
        assert info.value.kind == "backup"

    def test_replica_read_only_with_own_admin(self, fake, tmp_path):
        """A replica refuses client writes and keeps its own admin."""
        replica = helpers.make_fake_manager(tmp_path / "replica")
        snapshot = fake.get_replication_snapshot({"id": "s1"})
        replica.prepare(256, [], [], [], snapshot=snapshot)
        try:
            client = replica.server.client("alice", "s3cret",
                                           database="db1")
            with pytest.raises(exceptions.DatastoreError,
                               match="read-only"):
                client.put("k", "v")
            assert replica.get_last_txn()[0] == fake.server.client(
                backend.ADMIN_USER, fake.load_secret("admin_password")
            ).status()["server_id"]
            replica.detach_replica()
            assert replica.probe_status() is ServiceStatus.HEALTHY
        finally:
            replica.server.stop()
