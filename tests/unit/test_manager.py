"""BaseDatastoreManager: capabilities, dispatch, lifecycle, secrets."""

import os
import stat

import pytest
from zope.interface import implementer

from trove_core import capabilities
from trove_core import discovery
from trove_core import exceptions
from trove_core import models
from trove_core import options
from trove_core.status import ServiceStatus


@pytest.fixture
def manager_cls():
    _record, cls = discovery.load_manager_class("goodtest")
    return cls


@pytest.fixture
def make(conf, tmp_path, manager_cls):
    conf.register_opts(options.guest_opts(mount_point=str(tmp_path)),
                       group="goodtest")

    def factory():
        return manager_cls("goodtest", conf, tmp_path / "state")
    return factory


class Recorder:
    def __init__(self):
        self.statuses = []

    def status_changed(self, status):
        self.statuses.append(status)

    def progress(self, operation, done, total=None, message=""):
        pass

    def backup_update(self, backup_id, **fields):
        pass


class TestCapabilities:
    def test_every_operation_is_tagged(self):
        """Each interface method carries its RPC spec."""
        for name, iface in capabilities.CAPABILITIES.items():
            for op in iface.names():
                spec = iface[op].getTaggedValue("spec")
                assert spec.capability == name
                assert spec.kind in ("call", "cast")

    def test_trove_names_are_covered(self):
        """Trove's guest API methods are all known operations."""
        trove = {
            "change_passwords", "update_attributes", "create_user",
            "get_user", "list_users", "delete_user", "list_access",
            "grant_access", "revoke_access", "create_database",
            "list_databases", "delete_database", "enable_root",
            "enable_root_with_password", "disable_root", "is_root_enabled",
            "get_root_password", "prepare", "restart", "stop_db",
            "start_db_with_conf_changes", "reset_configuration",
            "pre_upgrade", "post_upgrade", "upgrade", "rebuild",
            "get_filesystem_stats", "mount_volume", "unmount_volume",
            "resize_fs", "update_overrides", "apply_overrides",
            "create_backup", "pre_create_backup", "post_create_backup",
            "backup_required_for_replication", "get_replication_snapshot",
            "attach_replica", "detach_replica", "get_replica_context",
            "make_read_only", "enable_as_master", "get_last_txn",
            "get_latest_txn_id", "wait_for_txn", "demote_replication_master",
            "guest_log_list", "guest_log_action", "module_list",
            "module_apply", "module_remove", "ssl_show", "ssl_action",
            "ssl_rollback", "get_diagnostics"}
        assert trove <= set(capabilities.OPERATIONS)
        assert capabilities.OPERATIONS["ssl_action"].since == "1.3"

    def test_derived_from_declaration(self, manager_cls):
        """The capability set comes from @implementer, nothing else."""
        assert manager_cls.capabilities() == ["databases", "lifecycle"]
        assert "create_database" in manager_cls.operations()
        assert "create_user" not in manager_cls.operations()

    def test_undeclared_method_is_not_exposed(self, manager_cls):
        """A method of an undeclared interface is not an operation."""

        @implementer(capabilities.IDatabases)
        class Sneaky(manager_cls):
            def create_user(self, users):
                raise AssertionError("must not be reachable")

        assert "create_user" not in Sneaky.operations()


class TestDispatch:
    def test_unsupported_operation_is_typed(self, make):
        """An undeclared operation raises OperationNotSupported."""
        mgr = make()
        with pytest.raises(exceptions.OperationNotSupported,
                           match="'goodtest' does not support operation "
                           "'create_user'") as info:
            mgr.operation("create_user")
        assert (info.value.datastore, info.value.operation) == (
            "goodtest", "create_user")
        with pytest.raises(exceptions.OperationNotSupported):
            mgr.enable_root()

    def test_unknown_operation(self, make):
        """A name outside the guest API is UnknownOperation."""
        with pytest.raises(exceptions.UnknownOperation,
                           match="'__init__' is not an operation"):
            make().operation("__init__")
        with pytest.raises(AttributeError):
            make().no_such_attribute  # noqa: B018 (attribute access test)

    def test_declared_operation_dispatches(self, make):
        """A declared operation returns the bound method."""
        mgr = make()
        mgr.operation("create_database")([models.Database("a")])
        page, marker = mgr.operation("list_databases")()
        assert [db.name for db in page] == ["a"] and marker is None


class TestLifecycle:
    def test_prepare_once_and_survives_restart(self, make):
        """prepare persists its outcome; a new manager sees it."""
        mgr = make()
        mgr.reporter = Recorder()
        mgr.prepare(512, None, [models.Database("db1")], [])
        assert mgr.prepared and mgr.status is ServiceStatus.HEALTHY
        assert mgr.dbs.keys() == {"db1"}
        assert mgr.reporter.statuses == [ServiceStatus.BUILDING,
                                         ServiceStatus.HEALTHY]
        again = make()
        assert again.prepared
        again.prepare(512, None, [models.Database("db2")], [])
        assert again.prepare_calls == 0 and again.running
        assert "db2" not in again.dbs

    def test_failed_prepare_is_not_healthy(self, make, manager_cls):
        """A failed prepare leaves status failed, persisted, and raises."""
        manager_cls.fail_prepare = True
        try:
            mgr = make()
            with pytest.raises(RuntimeError, match="disk on fire"):
                mgr.prepare(512, None, [], [])
            assert mgr.status is ServiceStatus.FAILED
            assert not mgr.prepared
            assert make().status is ServiceStatus.FAILED
        finally:
            manager_cls.fail_prepare = False

    def test_prepare_of_undeclared_users_fails_cleanly(self, make):
        """Users given to a datastore without users fail the prepare."""
        mgr = make()
        with pytest.raises(exceptions.OperationNotSupported):
            mgr.prepare(512, None, [], [models.User("u")])
        assert mgr.status is ServiceStatus.FAILED

    def test_stop_restart(self, make):
        """stop_db and restart drive the hooks and the status."""
        mgr = make()
        mgr.prepare(512, None, [], [])
        mgr.stop_db()
        assert mgr.status is ServiceStatus.SHUTDOWN and not mgr.running
        mgr.restart()
        assert mgr.status is ServiceStatus.HEALTHY

    def test_start_with_conf_changes_refuses_running(self, make):
        """A running datastore is not restarted behind the user's back."""
        mgr = make()
        mgr.prepare(512, None, [], [])
        with pytest.raises(exceptions.BadRequest, match="stop it before"):
            mgr.start_db_with_conf_changes("x=1")
        mgr.stop_db()
        mgr.start_db_with_conf_changes("x=1")
        assert mgr.config == "x=1" and mgr.running

    def test_filesystem_stats(self, make, tmp_path):
        """Filesystem stats come back in Trove's shape."""
        stats = make().get_filesystem_stats(str(tmp_path))
        assert set(stats) == {"block_size", "total_blocks", "free_blocks",
                              "total", "free", "used"}
        with pytest.raises(exceptions.BadRequest, match="cannot stat"):
            make().get_filesystem_stats(str(tmp_path / "nope"))


class TestSecrets:
    def test_secret_files_are_private(self, make):
        """Secrets live in 0600 files in a 0700 directory."""
        mgr = make()
        mgr.store_secret("admin", "s3cret")
        path = mgr.secret_path("admin")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert mgr.load_secret("admin") == "s3cret"
        assert mgr.load_secret("other") is None

    @pytest.mark.parametrize("name", ["../etc/passwd", ".hidden", "a/b",
                                      "", "x\x00"])
    def test_secret_names_cannot_escape(self, make, name):
        """A secret name cannot point outside the secrets directory."""
        with pytest.raises(exceptions.InvalidIdentifier):
            make().secret_path(name)

    def test_generated_passwords(self, make):
        """Generated passwords have the configured length and vary."""
        mgr = make()
        first, second = mgr.generate_password(), mgr.generate_password()
        assert len(first) == 36 and first != second


class TestTrove13Refusals:
    """API 1.3's TLS calls, diagnostics and prepare's modules: refused,
    logged, never dropped, by a datastore that does not declare them."""

    @pytest.mark.parametrize("name, kwargs", [
        pytest.param("ssl_show", {}, id="ssl_show"),
        pytest.param("ssl_action", {"mode": "REQUIRED", "container": {},
                                    "enable": True, "disable": False},
                     id="ssl_action"),
        pytest.param("ssl_rollback", {}, id="ssl_rollback"),
        pytest.param("get_diagnostics", {}, id="get_diagnostics"),
    ])
    def test_refused_with_a_log_line(self, tmp_path, caplog, name, kwargs):
        """OperationNotSupported names the operation; a warning names
        the capability."""
        from trove_guest_base.testing import helpers

        mgr = helpers.make_fake_manager(tmp_path)
        with caplog.at_level("WARNING"), pytest.raises(
                exceptions.OperationNotSupported, match=name) as info:
            mgr.operation(name)(**kwargs)
        assert info.value.kwargs["operation"] == name
        assert any("refusing %s" % name in r.getMessage()
                   for r in caplog.records)

    def test_prepare_modules_refused_before_anything(self, tmp_path):
        """prepare with modules on a datastore without the modules
        capability fails before the datastore is touched."""
        from trove_core.status import ServiceStatus
        from trove_guest_base.testing import helpers

        mgr = helpers.make_fake_manager(tmp_path)
        with pytest.raises(exceptions.OperationNotSupported,
                           match="module_apply"):
            mgr.prepare(memory_mb=64, packages=[], databases=[], users=[],
                        modules=[{"id": "m1", "contents": "x"}])
        assert mgr.status is ServiceStatus.FAILED
        assert not os.path.exists(os.path.join(str(tmp_path), "data"))
