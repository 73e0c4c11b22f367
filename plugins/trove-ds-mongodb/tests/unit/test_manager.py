"""Unit tests of the MongoDB manager without a server (mongomock where
the driver logic is meaningful)."""

import getpass
import os
import stat

import pytest
import yaml

from trove_core import discovery
from trove_core import exceptions
from trove_core import models
from trove_ds_mongodb import manager as manager_mod
from trove_ds_mongodb import plugin


class TestDeclaration:
    """The manager implements what the descriptor declares."""

    def test_capabilities_match_descriptor(self):
        """verify_manager accepts the class against its descriptor."""
        declared = discovery.verify_manager(
            "mongodb", manager_mod.Manager, plugin.DESCRIPTOR)
        assert declared == sorted(plugin.DESCRIPTOR.capabilities)
        assert {"replication", "cluster", "cluster_mongodb"} <= set(declared)

    def test_undeclared_operation(self, mongo_manager):
        """An operation of an undeclared capability is refused."""
        with pytest.raises(exceptions.OperationNotSupported,
                           match="guest_log_list") as info:
            mongo_manager.operation("guest_log_list")
        assert info.value.datastore == "mongodb"


class TestConfiguration:
    """The rendered mongod.conf in both phases of prepare."""

    def test_bootstrap_is_local_without_auth(self, mongo_manager):
        """The bootstrap phase listens on 127.0.0.1 only, no auth."""
        data = yaml.safe_load(mongo_manager.render_config(bootstrap=True))
        assert data["net"]["bindIp"] == "127.0.0.1"
        assert data["net"]["port"] == 27999
        assert data["security"] == {"authorization": "disabled"}

    def test_final_has_auth_and_replica_set(self, mongo_manager):
        """The final phase enables authorization, and the key file with a
        replica set."""
        mongo_manager._save_state(replica_set="rs0")
        data = yaml.safe_load(mongo_manager.render_config())
        assert data["security"] == {"authorization": "enabled",
                                    "keyFile": mongo_manager.key_file}
        assert data["replication"] == {"replSetName": "rs0"}
        assert data["storage"]["dbPath"] == mongo_manager.data_dir

    def test_overrides_rendered_and_removed(self, mongo_manager):
        """update_overrides renders the file; remove drops them all."""
        mongo_manager.update_overrides({"systemLog.verbosity": "2"})
        path = mongo_manager.options.config_file
        with open(path, encoding="utf-8") as handle:
            assert yaml.safe_load(handle)["systemLog"]["verbosity"] == 2
        mongo_manager.update_overrides(None, remove=True)
        with open(path, encoding="utf-8") as handle:
            assert "verbosity" not in yaml.safe_load(handle)["systemLog"]

    def test_base_cannot_disable_auth(self, mongo_manager):
        """A base configuration cannot turn authorization off."""
        mongo_manager.write_config(
            "security:\n  authorization: disabled\nnet:\n  bindIp: 1.2.3.4\n")
        with open(mongo_manager.options.config_file,
                  encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        assert data["security"]["authorization"] == "enabled"
        assert data["net"]["bindIp"] == mongo_manager.options.bind_address

    def test_apply_rejects_before_connecting(self, mongo_manager):
        """Unknown overrides are refused before any connection (no admin
        password is stored, so connecting would fail differently)."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="net.port") as info:
            mongo_manager.apply_overrides({"net.port": 1})
        assert info.value.name == "net.port"

    def test_no_password_no_connection(self, mongo_manager):
        """Operations before prepare say the guest is not prepared."""
        with pytest.raises(exceptions.DatastoreError,
                           match="not been prepared") as info:
            mongo_manager.list_databases()
        assert info.value.operation == "connect"


class TestDatabases:
    """Database operations through the driver (mongomock)."""

    def test_create_list_delete(self, mock_manager):
        """Created databases list (paged), system ones stay hidden."""
        mock_manager.create_database(
            [models.Database("shop"), models.Database("blog"),
             models.Database("crm")])
        page, marker = mock_manager.list_databases(limit=2)
        assert [d.name for d in page] == ["blog", "crm"]
        assert marker == "crm"
        page, marker = mock_manager.list_databases(marker=marker)
        assert [d.name for d in page] == ["shop"] and marker is None
        mock_manager.delete_database(models.Database("crm"))
        names = [d.name for d in mock_manager.list_databases()[0]]
        assert names == ["blog", "shop"]

    def test_marker_collection(self, mock_manager):
        """A database is created with its marker collection."""
        mock_manager.create_database([models.Database("shop")])
        client = mock_manager._client()
        assert client["shop"].list_collection_names() == ["dummy"]

    @pytest.mark.parametrize("name, error", [
        pytest.param("admin", exceptions.BadRequest, id="reserved"),
        pytest.param("a.b", exceptions.InvalidIdentifier, id="dot"),
        pytest.param("$cmd", exceptions.InvalidIdentifier, id="dollar"),
    ])
    def test_refused_names(self, mock_manager, name, error):
        """Reserved and hostile names never reach the server."""
        with pytest.raises(error) as info:
            mock_manager.create_database([models.Database("ok"),
                                          models.Database(name)])
        assert name in str(info.value)
        assert mock_manager._client().list_database_names() == []


class TestUsersValidation:
    """User operations validate names before connecting."""

    @pytest.mark.parametrize("name, error, match", [
        pytest.param("admin.os_admin", exceptions.BadRequest, "reserved",
                     id="admin"),
        pytest.param("os_admin", exceptions.BadRequest, "reserved",
                     id="admin-bare"),
        pytest.param(".alice", exceptions.InvalidIdentifier,
                     "'<database>.<user>'", id="no-database"),
    ])
    def test_refused(self, mongo_manager, name, error, match):
        """Reserved and malformed user names are refused."""
        user = models.User(name=name, password="pw")
        with pytest.raises(error, match=match):
            mongo_manager.create_user([user])
        with pytest.raises(error, match=match):
            mongo_manager.delete_user(user)

    def test_missing_password(self, mongo_manager):
        """A new user needs a password."""
        with pytest.raises(exceptions.BadRequest,
                           match="needs a password") as info:
            mongo_manager.create_user([models.User(name="a.b")])
        assert "'a.b'" in info.value.reason

    def test_rename_to_host_refused(self, mock_manager):
        """MongoDB users have no host to change."""
        with pytest.raises(exceptions.BadRequest, match="no host"):
            mock_manager.update_attributes("a.b", "%", {"host": "10.0.0.1"})


class TestBackupCommands:
    """mongodump/mongorestore command lines keep secrets out of argv."""

    def test_backup_argv(self, mock_manager):
        """The password is only in the 0600 --config file."""
        strategy = mock_manager.backup_strategy()
        path = strategy.write_tool_config()
        argv = strategy.backup_argv(path, oplog=True)
        assert argv == ["mongodump", "--host=127.0.0.1", "--port=27999",
                        "--archive", "--gzip", "--username=os_admin",
                        "--authenticationDatabase=admin",
                        "--config=%s" % path, "--oplog"]
        assert not any("s3cret" in a for a in argv)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path, encoding="utf-8") as handle:
            assert yaml.safe_load(handle) == {"password": "s3cret-admin-pw"}

    def test_restore_argv_bootstrap(self, mock_manager):
        """During bootstrap mongorestore needs no credentials."""
        argv = mock_manager.backup_strategy().restore_argv(None, oplog=True)
        assert argv == ["mongorestore", "--host=127.0.0.1", "--port=27999",
                        "--archive", "--gzip", "--oplogReplay"]

    def test_failed_backup_reported_and_not_committed(self, mock_manager,
                                                      tmp_path):
        """A tool that cannot run fails the backup: FAILED is reported
        and storage holds nothing."""
        mock_manager.conf.set_override(
            "mongodump_binary", os.fspath(tmp_path / "no-mongodump"),
            group="mongodb")
        with pytest.raises(exceptions.BackupError,
                           match="not installed") as info:
            mock_manager.create_backup({"id": "b1"})
        assert info.value.backup_id == "mongodb/b1.gz"
        states = [f["state"] for _, f in mock_manager.reporter.backups]
        assert states == ["BUILDING", "FAILED"]
        root = tmp_path / "backups"
        assert not root.exists() or not any(
            p.is_file() for p in root.rglob("*"))


class TestReplicationRequests:
    """Replication requests are checked before anything changes."""

    def test_no_backup_needed(self, mongo_manager):
        """Members copy data by initial sync, not from a backup."""
        assert mongo_manager.backup_required_for_replication() is False

    @pytest.mark.parametrize("info, missing", [
        pytest.param({"master": {"host": "10.0.0.1:27017"}}, "replica_set",
                     id="no-set"),
        pytest.param({"host": "h:1", "replica_set": "rs0", "key": "k"},
                     "admin_password", id="no-password"),
    ])
    def test_attach_needs_snapshot(self, mongo_manager, info, missing):
        """attach_replica names what the snapshot lacks."""
        with pytest.raises(exceptions.BadRequest, match=missing) as info_:
            mongo_manager.attach_replica(info, None)
        assert "get_replication_snapshot" in info_.value.reason
        assert "replica_set" not in mongo_manager._state


class TestStartFailure:
    """A mongod that dies at start-up (no server needed)."""

    def test_fails_at_once_quoting_its_output(self, tmp_path):
        """do_start fails without waiting start_timeout, naming the
        port and quoting what mongod printed."""
        from trove_guest_base.testing import helpers

        binary = helpers.failing_server(
            tmp_path / "mongod", "ERROR: listen(): bind() failed :: "
            "Address already in use", exit_code=48)
        mgr = helpers.make_manager(
            "mongodb", tmp_path, runner="child", server_binary=binary,
            mount_point=os.fspath(tmp_path / "data"),
            config_file=os.fspath(tmp_path / "etc" / "mongod.conf"),
            log_file=os.fspath(tmp_path / "log" / "mongod.log"),
            port=27999, start_timeout=600,
            service_user=getpass.getuser())
        with pytest.raises(exceptions.DatastoreError,
                           match="mongod on port 27999 exited before it "
                           "was ready") as info:
            mgr.do_start()
        assert "bind() failed :: Address already in use" in str(info.value)
        assert not mgr.runner.is_running()
