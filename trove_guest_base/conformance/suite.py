"""The abstract conformance tests, one class per capability.

Every test checks effects through the plugin's probe, never by asking the
manager about itself alone. A plugin runs all of them with a few lines::

    import pytest

    from trove_guest_base import testing
    from trove_guest_base import conformance


    class TestFakeConformance(conformance.DatastoreSuite):
        \"\"\"The fake datastore passes the conformance kit.\"\"\"

        datastore = "fake"

        @pytest.fixture(scope="class")
        @classmethod
        def trove_spawn(cls):
            with testing.Spawner(
                    "fake", probe_factory=testing.FakeProbe) as spawn:
                yield spawn

        @pytest.fixture(scope="class")
        @classmethod
        def trove_override(cls):
            return {"max_connections": 321}

Tests of a capability the manager does not declare are skipped with the
reason ``not declared``, and instead every operation of that capability
must raise :class:`~trove_core.exceptions.OperationNotSupported`.

The cluster protocol tests run once per cluster topology the
descriptor declares (``cluster`` strategies), on instances prepared with
a ``cluster_config``.

The backup round trip runs once per backup strategy the datastore's
descriptor declares (``test_backup_restore_round_trip[<strategy>]``); a
strategy that cannot run here is skipped with its reason. The
replication test exercises the configured ``replication_strategy``. Each
outcome is recorded per strategy in the report (see
:mod:`.strategies`).
"""

import uuid

import pytest

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import models
from trove_guest_base.conformance import corpus
from trove_guest_base.conformance import strategies
from trove_guest_base.conformance.fixtures import ConformanceBase
from trove_guest_base.conformance.fixtures import all_pages
from trove_guest_base.conformance.fixtures import tests_of
from trove_guest_base.conformance.hostile import BackupHostileTests
from trove_guest_base.conformance.hostile import BoundedTests
from trove_guest_base.conformance.hostile import RootHostileTests
from trove_guest_base.conformance.hostile import SecretsAtRestTests

__all__ = [
    "AccessTests", "BackupHostileTests", "BackupTests", "BoundedTests",
    "ClusterTests", "ConfigurationTests", "DatabasesTests",
    "DatastoreSuite", "DescriptorDataTests", "DiagnosticsTests",
    "GuestLogsTests", "LifecycleTests", "NotDeclaredTests", "ReplicationTests",
    "RootHostileTests", "RootTests", "SSLTests", "SecretsAtRestTests",
    "UsersTests",
]

PASSWORD = "Conformance-pass-1"  # noqa: S105 (a test account)
NEW_PASSWORD = "Conformance-pass-2"  # noqa: S105 (a test account)
BACKUP_USER_PASSWORD = "Conformance-backup-3"  # noqa: S105 (a test account)
_REJECTED = (exceptions.BadRequest,)
_REJECTED_OR_ABSENT = (exceptions.BadRequest, exceptions.NotFound)


def _unique(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def _database_names(manager):
    return [d.name for d in all_pages(manager.list_databases)]


def _user_keys(manager):
    return [(u.name, u.host) for u in all_pages(manager.list_users)]


@tests_of("lifecycle")
class LifecycleTests(ConformanceBase):
    """Prepare, status, stop, start and restart."""

    def test_lifecycle_prepared_and_running(self, trove_manager,
                                            trove_probe):
        """A prepared guest runs, as its own client sees it."""
        assert trove_manager.prepared
        assert trove_probe.is_running()
        assert trove_manager.refresh_status().is_running

    def test_lifecycle_engine_reported(self, trove_probe):
        """The probe names the engine and its version."""
        engine = trove_probe.engine()
        assert engine["name"] and engine["version"]

    def test_lifecycle_prepare_is_idempotent(self, trove_manager,
                                             trove_probe,
                                             trove_prepare_kwargs):
        """Preparing a prepared guest changes nothing and keeps it up."""
        trove_manager.prepare(**trove_prepare_kwargs)
        assert trove_probe.is_running()

    def test_lifecycle_stop_then_start(self, trove_manager, trove_probe):
        """stop_db stops the server; start_db_with_conf_changes starts it
        again."""
        trove_manager.stop_db()
        try:
            assert not trove_probe.is_running()
            assert not trove_manager.refresh_status().is_running
        finally:
            trove_manager.start_db_with_conf_changes(None)
        assert trove_probe.is_running()
        assert trove_manager.refresh_status().is_running

    def test_lifecycle_restart(self, trove_manager, trove_probe):
        """restart leaves the server running."""
        trove_manager.restart()
        assert trove_probe.is_running()

    def test_lifecycle_start_while_running_refused(self, trove_manager):
        """Starting a running server with a new configuration is
        refused."""
        with pytest.raises(exceptions.BadRequest, match="running") as info:
            trove_manager.start_db_with_conf_changes(None)
        assert info.value.kwargs["reason"]

    def test_lifecycle_filesystem_stats(self, trove_manager, tmp_path):
        """get_filesystem_stats answers in Trove's shape."""
        stats = trove_manager.get_filesystem_stats(str(tmp_path))
        assert {"block_size", "total_blocks", "free_blocks", "total",
                "free", "used"} <= set(stats)

    def test_lifecycle_unknown_operation(self, trove_manager):
        """An operation outside the guest API is refused by name."""
        with pytest.raises(exceptions.UnknownOperation,
                           match="trove_no_such_operation") as info:
            trove_manager.operation("trove_no_such_operation")
        assert info.value.operation == "trove_no_such_operation"


@tests_of("databases")
class DatabasesTests(ConformanceBase):
    """Creating, listing and dropping databases."""

    def test_databases_create_list_delete(self, trove_manager,
                                          trove_probe):
        """A created database exists for the client, is listed, and is
        gone after delete."""
        name = _unique("conf_db")
        trove_manager.create_database([models.Database(name)])
        assert trove_probe.database_exists(name)
        assert name in _database_names(trove_manager)
        trove_manager.delete_database(models.Database(name))
        assert not trove_probe.database_exists(name)
        assert name not in _database_names(trove_manager)

    def test_databases_pagination(self, trove_manager):
        """list_databases pages by name with a marker."""
        prefix = _unique("conf_page")
        names = ["%s_%d" % (prefix, i) for i in range(3)]
        trove_manager.create_database([models.Database(n) for n in names])
        try:
            first, marker = trove_manager.list_databases(limit=1)
            assert len(first) == 1 and marker == first[0].name
            assert set(names) <= set(_database_names(trove_manager))
        finally:
            for name in names:
                trove_manager.delete_database(models.Database(name))

    def test_databases_system_hidden(self, trove_manager):
        """System databases (ignore_dbs) are never listed."""
        hidden = set(getattr(trove_manager.options, "ignore_dbs", ()))
        assert not hidden & set(_database_names(trove_manager))

    @pytest.mark.parametrize("name", corpus.params(corpus.HOSTILE_NAMES))
    def test_databases_hostile_name(self, trove_manager, trove_probe,
                                    trove_sentinel, name):
        """A hostile name is rejected, or stored and read back exactly."""
        try:
            trove_manager.create_database([models.Database(name)])
        except _REJECTED:
            assert name not in _database_names(trove_manager)
        else:
            assert name in _database_names(trove_manager)
            assert trove_probe.database_exists(name)
            trove_manager.delete_database(models.Database(name))
            assert not trove_probe.database_exists(name)
        trove_sentinel.check()

    @pytest.mark.parametrize("name", corpus.params(corpus.HOSTILE_NAMES))
    def test_databases_hostile_delete(self, trove_manager, trove_sentinel,
                                      name):
        """Deleting a hostile, absent name harms nothing else."""
        try:
            trove_manager.delete_database(models.Database(name))
        except _REJECTED_OR_ABSENT:
            pass
        trove_sentinel.check()


@tests_of("users")
class UsersTests(ConformanceBase):
    """Creating, changing and dropping users."""

    def _create(self, manager, name, password=PASSWORD, host="%"):
        manager.create_user([models.User(name, host=host,
                                         password=password)])

    def test_users_create_login_delete(self, trove_manager, trove_probe):
        """A created user logs in with its password only, and not after
        delete."""
        name = _unique("conf_user")
        self._create(trove_manager, name)
        assert trove_probe.can_login(name, PASSWORD, host="%")
        assert not trove_probe.can_login(name, "wrong-password", host="%")
        assert (name, "%") in _user_keys(trove_manager)
        found = trove_manager.get_user(name, "%")
        assert found is not None and found.name == name
        trove_manager.delete_user(models.User(name, host="%"))
        assert not trove_probe.can_login(name, PASSWORD, host="%")
        assert trove_manager.get_user(name, "%") is None

    def test_users_change_password(self, trove_manager, trove_probe):
        """After change_passwords only the new password works."""
        name = _unique("conf_pw")
        self._create(trove_manager, name)
        try:
            trove_manager.change_passwords([models.User(
                name, host="%", password=NEW_PASSWORD)])
            assert trove_probe.can_login(name, NEW_PASSWORD, host="%")
            assert not trove_probe.can_login(name, PASSWORD, host="%")
        finally:
            trove_manager.delete_user(models.User(name, host="%"))

    def test_users_rename(self, trove_manager, trove_probe):
        """update_attributes renames a user; the old name is gone."""
        old, new = _unique("conf_old"), _unique("conf_new")
        self._create(trove_manager, old)
        try:
            trove_manager.update_attributes(old, "%", {"name": new})
            assert trove_probe.can_login(new, PASSWORD, host="%")
            assert trove_manager.get_user(old, "%") is None
        finally:
            for name in (old, new):
                if trove_manager.get_user(name, "%") is not None:
                    trove_manager.delete_user(models.User(name, host="%"))

    def test_users_system_hidden(self, trove_manager):
        """System users (ignore_users) are never listed."""
        hidden = set(getattr(trove_manager.options, "ignore_users", ()))
        assert not hidden & {n for n, _h in _user_keys(trove_manager)}

    @pytest.mark.parametrize("name", corpus.params(corpus.HOSTILE_NAMES))
    def test_users_hostile_name(self, trove_manager, trove_probe,
                                trove_sentinel, name):
        """A hostile user name is rejected, or stored exactly and can log
        in."""
        try:
            self._create(trove_manager, name)
        except _REJECTED:
            assert (name, "%") not in _user_keys(trove_manager)
        else:
            found = trove_manager.get_user(name, "%")
            assert found is not None and found.name == name
            assert trove_probe.can_login(name, PASSWORD, host="%")
            trove_manager.delete_user(models.User(name, host="%"))
            assert not trove_probe.can_login(name, PASSWORD, host="%")
        trove_sentinel.check()

    @pytest.mark.parametrize("host", corpus.params(corpus.HOSTILE_NAMES))
    def test_users_hostile_host(self, trove_manager, trove_sentinel, host):
        """A hostile host is rejected, or stored and read back exactly."""
        if not self.supports_hosts:
            pytest.skip("the datastore has no user hosts")
        name = _unique("conf_host")
        try:
            self._create(trove_manager, name, host=host)
        except _REJECTED:
            pass
        else:
            found = trove_manager.get_user(name, host)
            assert found is not None and found.host == host
            trove_manager.delete_user(models.User(name, host=host))
        trove_sentinel.check()

    @pytest.mark.parametrize("password",
                             corpus.params(corpus.HOSTILE_PASSWORDS))
    def test_users_hostile_password(self, trove_manager, trove_probe,
                                    trove_sentinel, password):
        """A hostile password is rejected, or works exactly as given."""
        name = _unique("conf_hpw")
        try:
            self._create(trove_manager, name, password=password)
        except _REJECTED:
            pass
        else:
            try:
                assert trove_probe.can_login(name, password, host="%")
            finally:
                trove_manager.delete_user(models.User(name, host="%"))
        trove_sentinel.check()

    @pytest.mark.parametrize("name", corpus.params(corpus.HOSTILE_NAMES))
    def test_users_hostile_rename(self, trove_manager, trove_probe,
                                  trove_sentinel, name):
        """Renaming to a hostile name is rejected, or stored exactly."""
        old = _unique("conf_ren")
        self._create(trove_manager, old)
        try:
            trove_manager.update_attributes(old, "%", {"name": name})
        except _REJECTED:
            assert trove_manager.get_user(old, "%") is not None
            trove_manager.delete_user(models.User(old, host="%"))
        else:
            found = trove_manager.get_user(name, "%")
            assert found is not None and found.name == name
            assert trove_probe.can_login(name, PASSWORD, host="%")
            trove_manager.delete_user(models.User(name, host="%"))
        trove_sentinel.check()


@tests_of("access")
class AccessTests(ConformanceBase):
    """Granting and revoking database access."""

    def test_access_grant_revoke(self, trove_manager, trove_probe):
        """A grant lets the user use the database; a revoke stops it."""
        db, user = _unique("conf_acc_db"), _unique("conf_acc_user")
        # access without databases: the datastore's namespaces need no
        # creation (Redis key prefixes)
        has_databases = "databases" in trove_manager.capabilities()
        if has_databases:
            trove_manager.create_database([models.Database(db)])
        trove_manager.create_user([models.User(user, host="%",
                                               password=PASSWORD)])
        try:
            assert not trove_probe.can_login(user, PASSWORD, database=db,
                                             host="%")
            trove_manager.grant_access(user, "%", [db])
            assert db in [d.name for d in
                          trove_manager.list_access(user, "%")]
            assert trove_probe.can_login(user, PASSWORD, database=db,
                                         host="%")
            trove_manager.revoke_access(user, "%", db)
            assert db not in [d.name for d in
                              trove_manager.list_access(user, "%")]
            assert not trove_probe.can_login(user, PASSWORD, database=db,
                                             host="%")
        finally:
            trove_manager.delete_user(models.User(user, host="%"))
            if has_databases:
                trove_manager.delete_database(models.Database(db))

    @pytest.mark.parametrize("name", corpus.params(corpus.HOSTILE_NAMES))
    def test_access_hostile_database(self, trove_manager, trove_sentinel,
                                     name):
        """Granting a hostile database name is rejected, or read back
        exactly."""
        user = _unique("conf_hacc")
        trove_manager.create_user([models.User(user, host="%",
                                               password=PASSWORD)])
        try:
            created = "databases" in trove_manager.capabilities()
            try:
                if created:
                    trove_manager.create_database([models.Database(name)])
            except _REJECTED:
                created = False
            try:
                trove_manager.grant_access(user, "%", [name])
            except _REJECTED_OR_ABSENT:
                pass
            else:
                granted = [d.name for d in
                           trove_manager.list_access(user, "%")]
                assert name in granted
                trove_manager.revoke_access(user, "%", name)
            if created:
                trove_manager.delete_database(models.Database(name))
        finally:
            trove_manager.delete_user(models.User(user, host="%"))
        trove_sentinel.check()


@tests_of("root")
class RootTests(ConformanceBase):
    """Enabling and disabling the superuser."""

    def test_root_enable_and_login(self, trove_manager, trove_probe):
        """enable_root returns a password the superuser logs in with."""
        root = trove_manager.enable_root()
        assert root.password
        assert trove_manager.is_root_enabled()
        assert trove_manager.get_root_password() == root.password
        assert trove_probe.can_login(trove_probe.root_user, root.password,
                                     host=root.host)

    def test_root_with_password_then_disable(self, trove_manager,
                                             trove_probe):
        """A given root password works until root is disabled."""
        root = trove_manager.enable_root_with_password(NEW_PASSWORD)
        assert trove_probe.can_login(trove_probe.root_user, NEW_PASSWORD,
                                     host=root.host)
        trove_manager.disable_root()
        assert not trove_probe.can_login(trove_probe.root_user,
                                         NEW_PASSWORD, host=root.host)


@tests_of("backup")
class BackupTests(ConformanceBase):
    """A backup restores, on a new instance, exactly what it saw: once
    per backup strategy the datastore declares (``trove_strategy``)."""

    trove_strategy_kind = "backup"

    def test_backup_restore_round_trip(self, trove_manager, trove_probe,
                                       trove_spawn, trove_prepare_kwargs,
                                       trove_strategy, request):
        """Data written before the backup is restored; data written after
        it is not."""
        from trove_guest_base.testing import helpers

        strategies.exercise(request, trove_manager, "backup",
                            trove_strategy)
        before, after = _unique("before"), _unique("after")
        trove_probe.write_marker(before, "kept")
        declared = set(trove_manager.capabilities())
        db = user = None
        if "databases" in declared:
            db = _unique("conf_bk_db")
            trove_manager.create_database([models.Database(db)])
        if "users" in declared:
            # a user (granted the database when access is declared) must
            # come back with the data: a restore that loses accounts or
            # grants is not a restore
            granted = (db is not None and "access" in declared)
            user = models.User(
                _unique("conf_bk_user"), host="%",
                password=BACKUP_USER_PASSWORD,
                databases=(models.Database(db),) if granted else ())
            trove_manager.create_user([user])
        backup_id = _unique("conformance")
        reporter, trove_manager.reporter = (trove_manager.reporter,
                                            helpers.RecordingReporter())
        try:
            trove_manager.create_backup({
                "id": backup_id, "location": None, "type": trove_strategy,
                "parent": None, "datastore": trove_manager.name})
            update = trove_manager.reporter.last_backup(backup_id)
        finally:
            trove_manager.reporter = reporter
        assert update is not None, "create_backup reported nothing"
        assert update.get("state") == "COMPLETED", update
        assert update.get("location") and update.get("checksum")
        if "backup_type" in update:  # what Trove's records hold
            assert update["backup_type"] == "full", update
        trove_probe.write_marker(after, "not in the backup")
        target = trove_spawn()
        kwargs = dict(trove_prepare_kwargs, backup_info={
            "id": backup_id, "location": update["location"],
            "checksum": update["checksum"], "type": trove_strategy})
        target.manager.prepare(**kwargs)
        assert target.probe.is_running()
        assert target.probe.read_marker(before) == "kept"
        assert target.probe.read_marker(after) is None
        if db is not None:
            assert target.probe.database_exists(db)
        if user is not None:
            grant = db if user.databases else None
            assert target.probe.can_login(
                user.name, BACKUP_USER_PASSWORD, database=grant,
                host=user.host), (
                "user %r%s did not come back with the restore"
                % (user.name, " with its grant on %r" % grant if grant
                   else ""))


@tests_of("replication")
class ReplicationTests(ConformanceBase):
    """A replica follows its primary."""

    def test_replication_follow_then_detach(self, trove_manager,
                                            trove_probe, trove_spawn,
                                            trove_prepare_kwargs, request):
        """What the primary writes is read on the replica; a detached
        replica accepts writes."""
        strategies.exercise(request, trove_manager, "replication", None)
        assert isinstance(trove_manager.backup_required_for_replication(),
                          bool)
        snapshot = trove_manager.get_replication_snapshot(
            {"id": _unique("snapshot"), "name": "conformance"}, None)
        replica = trove_spawn()
        replica.manager.prepare(**dict(trove_prepare_kwargs,
                                       snapshot=snapshot))
        key = _unique("replicated")
        trove_probe.write_marker(key, "from the primary")
        replica.manager.wait_for_txn(trove_manager.get_latest_txn_id())
        assert replica.probe.read_marker(key) == "from the primary"
        replica.manager.detach_replica()
        replica.manager.enable_as_master(None)
        own = _unique("own")
        replica.probe.write_marker(own, "on the detached replica")
        assert replica.probe.read_marker(own) == "on the detached replica"
        assert trove_probe.read_marker(own) is None


@tests_of("configuration")
class ConfigurationTests(ConformanceBase):
    """Configuration overrides, applied and persisted."""

    def _values(self, probe, names):
        return {name: str(probe.config_value(name)) for name in names}

    def test_configuration_apply_dynamic(self, trove_manager, trove_probe,
                                         trove_override):
        """apply_overrides changes the running server."""
        trove_override = self.overrides(trove_override)
        before = self._values(trove_probe, trove_override)
        try:
            trove_manager.apply_overrides(trove_override)
            assert self._values(trove_probe, trove_override) == {
                k: str(v) for k, v in trove_override.items()}
        finally:
            trove_manager.apply_overrides(before)

    def test_configuration_persisted_across_restart(
            self, trove_manager, trove_probe, trove_override):
        """update_overrides survives a restart; removing them restores
        the defaults."""
        trove_override = self.overrides(trove_override)
        before = self._values(trove_probe, trove_override)
        trove_manager.update_overrides(trove_override)
        trove_manager.restart()
        try:
            assert self._values(trove_probe, trove_override) == {
                k: str(v) for k, v in trove_override.items()}
        finally:
            trove_manager.update_overrides({}, remove=True)
            trove_manager.restart()
        assert self._values(trove_probe, trove_override) == before

    @pytest.mark.parametrize("name", [pytest.param(
        "trove_conformance_no_such_parameter", id="unknown")]
        + corpus.params(corpus.HOSTILE_NAMES))
    def test_configuration_bad_parameter_refused(self, trove_manager,
                                                 trove_sentinel, name):
        """An unknown or hostile parameter name is refused."""
        with pytest.raises(exceptions.BadRequest):
            trove_manager.update_overrides({name: "1"})
        with pytest.raises(exceptions.BadRequest):
            trove_manager.apply_overrides({name: "1"})
        trove_sentinel.check()


@tests_of("guest_logs")
class GuestLogsTests(ConformanceBase):
    """Listing, enabling, publishing and discarding guest logs."""

    def test_guest_logs_listed(self, trove_manager):
        """guest_log_list gives each log's name, type and status."""
        logs = trove_manager.guest_log_list()
        assert logs, "no exposed logs: set guest_log_exposed_logs"
        for log in logs:
            assert {"name", "type", "status"} <= set(log)

    def test_guest_logs_publish_discard(self, trove_manager):
        """An enabled log with activity publishes bytes; discard removes
        them."""
        user_logs = [log for log in trove_manager.guest_log_list()
                     if log["type"] == "USER"] or \
            trove_manager.guest_log_list()
        name = user_logs[0]["name"]
        trove_manager.guest_log_action(name, True, False, False, False)
        try:
            if "databases" in trove_manager.capabilities():
                db = _unique("conf_log")
                trove_manager.create_database([models.Database(db)])
                trove_manager.delete_database(models.Database(db))
            published = trove_manager.guest_log_action(
                name, False, False, True, False)
            assert published["published"] > 0, published
            discarded = trove_manager.guest_log_action(
                name, False, False, False, True)
            assert not discarded["published"], discarded
        finally:
            trove_manager.guest_log_action(name, False, True, False, False)

    @pytest.mark.parametrize("name", corpus.params(corpus.HOSTILE_NAMES))
    def test_guest_logs_hostile_name(self, trove_manager, trove_sentinel,
                                     name):
        """A hostile log name is refused."""
        with pytest.raises(_REJECTED_OR_ABSENT):
            trove_manager.guest_log_action(name, False, False, True, False)
        trove_sentinel.check()


@tests_of("ssl")
class SSLTests(ConformanceBase):
    """TLS with a certificate the control plane sends (API 1.3)."""

    def test_ssl_enable_show_rollback(self, trove_manager, trove_probe):
        """A sent certificate is served after the restart Trove's
        ``restart_required`` asks for; a rollback restores the state
        before."""
        from trove_guest_base.testing import certs

        before = trove_manager.ssl_show()["status"]
        container = certs.make_container("conformance.test")
        result = trove_manager.ssl_action(mode="enforced",
                                          container=container, enable=True,
                                          disable=False)
        assert result.get("restart_required") in (True, False), result
        try:
            if result["restart_required"]:
                trove_manager.restart()
            shown = trove_manager.ssl_show()
            assert shown["status"] == "on", shown
            assert shown["certificate"]["payload"] == container[
                "certificate"]
            assert trove_probe.is_running()
        finally:
            back = trove_manager.ssl_rollback()
            if back.get("restart_required"):
                trove_manager.restart()
        assert trove_manager.ssl_show()["status"] == before

    def test_ssl_bad_container_refused(self, trove_manager, trove_sentinel):
        """A container that is not a certificate and its key is refused
        and changes nothing."""
        before = trove_manager.ssl_show()
        with pytest.raises(exceptions.BadRequest):
            trove_manager.ssl_action(mode="enforced", container={
                "certificate": "x", "private_key": "y"}, enable=True,
                disable=False)
        assert trove_manager.ssl_show() == before
        trove_sentinel.check()


@tests_of("diagnostics")
class DiagnosticsTests(ConformanceBase):
    """get_diagnostics in the keys Trove's API returns."""

    def test_diagnostics_keys(self, trove_manager):
        """Trove's keys are there, the sizes are whole numbers."""
        out = trove_manager.get_diagnostics()
        keys = {"version", "fd_size", "vm_size", "vm_peak", "vm_rss",
                "vm_hwm", "threads"}
        assert keys <= set(out), out
        assert all(isinstance(out[k], int) for k in keys - {"version"})
        assert out["threads"] >= 1


@tests_of("cluster")
class ClusterTests(ConformanceBase):
    """The common cluster protocol (see
    :class:`~trove_core.capabilities.ICluster`), once per declared
    cluster topology: a member prepared with a ``cluster_config`` reports
    ``instance ready`` (not active) until ``cluster_complete``, keeps its
    identity across a guest restart, and a single instance refuses every
    cluster operation with ``NotClusterMember``."""

    def form_single_member_cluster(self, manager):
        """Make ``manager``, a lone prepared member, a whole cluster of
        one before ``cluster_complete`` (a family whose completion checks
        the cluster, such as Redis's slot coverage, overrides this)."""

    def test_cluster_member_ready_until_complete(
            self, request, trove_spawn, trove_prepare_kwargs,
            trove_strategy):
        from trove_core.status import ServiceStatus

        strategies.exercise(request, None, "cluster", trove_strategy)
        instance = trove_spawn()
        manager = instance.manager
        cluster_id = _unique("cluster")
        kwargs = dict(trove_prepare_kwargs)
        kwargs["cluster_config"] = {"id": cluster_id,
                                    "instance_type": "member"}
        manager.prepare(**kwargs)
        assert instance.probe.is_running()
        assert manager.refresh_status() is ServiceStatus.INSTANCE_READY
        assert manager.cluster_member["id"] == cluster_id
        # a guest restart: a new manager over the same state
        again = type(manager)(manager.name, manager.conf,
                              manager.state_dir)
        assert again.cluster_member["id"] == cluster_id
        assert again.cluster_member["instance_type"] == "member"
        assert again.refresh_status() is ServiceStatus.INSTANCE_READY
        self.form_single_member_cluster(again)
        again.operation("cluster_complete")()
        assert again.refresh_status().is_running
        assert again.status is not ServiceStatus.INSTANCE_READY
        assert type(manager)(manager.name, manager.conf,
                             manager.state_dir).cluster_member["complete"]

    # on the test, not the class: DatastoreSuite mixes every kit class
    test_cluster_member_ready_until_complete.trove_strategy_kind = "cluster"

    def test_cluster_bad_cluster_config_fails_prepare(
            self, trove_spawn, trove_prepare_kwargs):
        from trove_core.status import ServiceStatus

        instance = trove_spawn()
        kwargs = dict(trove_prepare_kwargs)
        kwargs["cluster_config"] = {"id": "c1", "instance_type": "boss"}
        with pytest.raises(exceptions.BadRequest, match="instance_type"):
            instance.manager.prepare(**kwargs)
        assert instance.manager.status is ServiceStatus.FAILED
        assert not instance.manager.prepared

    def test_cluster_operations_refused_on_single_instance(
            self, trove_manager):
        ops = [name for name, spec in trove_manager.operations().items()
               if caps.is_cluster_operation(name)]
        assert "cluster_complete" in ops
        for name in sorted(ops):
            with pytest.raises(exceptions.NotClusterMember) as info:
                trove_manager.operation(name)
            assert info.value.operation == name
            assert "cluster_config" in str(info.value)


def _family_members_only_test(capability):
    iface = caps.CAPABILITIES[capability]

    def test(self, trove_manager):
        for operation in sorted(iface.names()):
            with pytest.raises(exceptions.NotClusterMember) as info:
                trove_manager.operation(operation)
            assert info.value.operation == operation
    test.__name__ = "test_%s_members_only" % capability
    test.__doc__ = ("Every %s operation is refused with NotClusterMember "
                    "on a single instance, before it runs (the family's "
                    "live behaviour is the plugin's own cluster tests')."
                    % capability)
    test.trove_capability = capability
    test.trove_when = "declared"
    return test


for _cap in caps.CLUSTER_FAMILIES.values():
    _test = _family_members_only_test(_cap)
    setattr(ClusterTests, _test.__name__, _test)
del _cap, _test


def _not_declared_test(capability):
    iface = caps.CAPABILITIES[capability]

    def test(self, trove_manager):
        for operation in sorted(iface.names()):
            with pytest.raises(exceptions.OperationNotSupported) as info:
                trove_manager.operation(operation)
            assert info.value.operation == operation
            if not hasattr(type(trove_manager), operation):
                with pytest.raises(exceptions.OperationNotSupported):
                    getattr(trove_manager, operation)()
    test.__name__ = "test_%s_not_declared_refused" % capability
    test.__doc__ = ("Every %s operation raises OperationNotSupported when "
                    "the capability is not declared." % capability)
    test.trove_capability = capability
    test.trove_when = "undeclared"
    return test


class NotDeclaredTests(ConformanceBase):
    """Operations of undeclared capabilities are refused, typed."""


for _name in caps.CAPABILITIES:
    if _name != "lifecycle":
        _test = _not_declared_test(_name)
        setattr(NotDeclaredTests, _test.__name__, _test)
del _name, _test


class DescriptorDataTests(ConformanceBase):
    """The plugin's shipped descriptor data. Not a capability: it needs
    no running datastore and counts in no capability's result."""

    def test_descriptor_data_current(self):
        """The descriptor data the plugin ships (read by listings in
        place of its code) equals the descriptor its code builds."""
        from trove_core import descriptordata

        if not self.datastore:
            pytest.skip("the kit class sets no 'datastore': its shipped "
                        "descriptor data cannot be checked")
        found = descriptordata.check_shipped(self.datastore)
        stale = [p for _t, p in found if p.startswith("stale")]
        assert not stale, "; ".join(stale)
        missing = [p for _t, p in found if p]
        if missing:
            pytest.skip("no descriptor data shipped (listing imports the "
                        "plugin instead): %s" % "; ".join(missing))


class DatastoreSuite(DescriptorDataTests, LifecycleTests, DatabasesTests,
                     UsersTests, AccessTests, RootTests, BackupTests,
                     ReplicationTests, ConfigurationTests, GuestLogsTests,
                     SSLTests, DiagnosticsTests, ClusterTests,
                     NotDeclaredTests, BackupHostileTests, BoundedTests,
                     RootHostileTests, SecretsAtRestTests):
    """Every conformance test; subclass it and provide the fixtures."""
