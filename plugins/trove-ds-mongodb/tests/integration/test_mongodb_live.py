"""Live tests of the MongoDB plugin (TROVE_TEST_MONGOD).

With a mongod binary they prepare real servers through the plugin; with
a mongodb:// URL only the admin-client tests run against that server.
Skipped, with the reason printed, when the variable is unset.
"""

import os
import stat
import uuid

import pytest

from trove_core import models
from trove_guest_base.testing import helpers
from trove_ds_mongodb import admin
from trove_ds_mongodb import testing

pytestmark = pytest.mark.mongodb


def _spawn(root, mongod, name):
    options = testing.spawner_options(mongod)(os.fspath(root / name))
    options.update(mount_point=os.fspath(root / name / "data"),
                   backup_storage_root=os.fspath(root / "backups"))
    return helpers.make_manager("mongodb", root / name, **options)


@pytest.fixture(scope="module")
def prepared(mongod_binary, tmp_path_factory):
    """One prepared server (with a Trove-named user) for the module."""
    root = tmp_path_factory.mktemp("mongo-live")
    mgr = _spawn(root, mongod_binary, "a")
    mgr.prepare(memory_mb=512, packages=[],
                databases=[models.Database("shop")],
                users=[models.User("shop.alice", password="Alice-pw-1",
                                   databases=(models.Database("shop"),))])
    yield root, mgr, testing.MongoProbe(mgr)
    mgr.do_stop()


class TestPrepared:
    """What prepare leaves behind."""

    def test_authentication_enforced(self, prepared):
        """Without credentials the server refuses to list databases."""
        import pymongo
        from pymongo import errors

        _root, mgr, _probe = prepared
        client = pymongo.MongoClient("127.0.0.1", mgr.options.port,
                                     directConnection=True,
                                     serverSelectionTimeoutMS=3000)
        with pytest.raises(errors.OperationFailure):
            client.list_database_names()
        client.close()

    def test_admin_secret_private(self, prepared):
        """The admin password file is 0600 and not in mongod.conf."""
        _root, mgr, _probe = prepared
        path = mgr.secret_path("admin_password")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(mgr.options.config_file, encoding="utf-8") as handle:
            assert mgr.load_secret("admin_password") not in handle.read()

    def test_trove_named_user(self, prepared):
        """'shop.alice' is listed by its Trove name with its access."""
        _root, mgr, probe = prepared
        users = {u.name: u for u in mgr.list_users()[0]}
        assert [d.name for d in users["shop.alice"].databases] == ["shop"]
        assert probe.can_login("shop.alice", "Alice-pw-1", database="shop")
        mgr.revoke_access("shop.alice", "%", "shop")
        assert not probe.can_login("shop.alice", "Alice-pw-1",
                                   database="shop")

    def test_rename_keeps_password(self, prepared):
        """A rename without a password keeps the old password."""
        _root, mgr, probe = prepared
        mgr.create_user([models.User("shop.bob", password="Bob-pw-1")])
        mgr.update_attributes("shop.bob", "%", {"name": "shop.robert"})
        assert probe.can_login("shop.robert", "Bob-pw-1")
        assert mgr.get_user("shop.bob", "%") is None
        mgr.delete_user(models.User("shop.robert"))

    def test_password_not_at_rest(self, prepared):
        """With the most verbose log and every command profiled, a
        created and a changed password are in no file of the server nor
        in system.profile; only SCRAM-SHA-256 keys are stored."""
        _root, mgr, probe = prepared
        secret = "Carol-pw-%s" % uuid.uuid4().hex[:8]
        mgr.apply_overrides({"systemLog.verbosity": 5})
        try:
            with mgr._admin() as adm:
                adm.client["shop"].command({"profile": 2})
            mgr.create_user([models.User(
                "shop.carol", password=secret,
                databases=(models.Database("shop"),))])
            mgr.change_passwords([models.User("shop.carol",
                                              password=secret + "x")])
            with mgr._admin() as adm:
                adm.client["shop"].command({"profile": 0})
                profile = list(adm.client["shop"]["system.profile"].find())
                info = adm.client["shop"].command(
                    {"usersInfo": "carol", "showCredentials": True})
        finally:
            mgr.apply_overrides({"systemLog.verbosity": 0})
        assert probe.can_login("shop.carol", secret + "x")
        assert set(info["users"][0]["credentials"]) == {"SCRAM-SHA-256"}
        assert profile and secret not in repr(profile)
        for top in (mgr.data_dir, os.path.dirname(mgr.options.log_file),
                    mgr.state_dir):
            for dirpath, _dirs, names in os.walk(top):
                for name in names:
                    path = os.path.join(dirpath, name)
                    with open(path, "rb") as handle:
                        assert secret.encode() not in handle.read(), path
        mgr.delete_user(models.User("shop.carol"))

    def test_create_user_all_or_nothing(self, prepared):
        """A bad database for the second user creates neither."""
        from trove_core import exceptions

        _root, mgr, _probe = prepared
        with pytest.raises(exceptions.InvalidIdentifier):
            mgr.create_user([
                models.User("shop.dora", password="Pw-1-x",
                            databases=(models.Database("shop"),)),
                models.User("shop.eve", password="Pw-1-x",
                            databases=(models.Database("a$b"),))])
        assert mgr.get_user("shop.dora", "%") is None

    def test_backup_restore(self, prepared, mongod_binary):
        """A backup restored by prepare carries data and users."""
        root, mgr, probe = prepared
        probe.write_marker("live", "kept")
        result = mgr.create_backup({"id": "live-1"})
        target = _spawn(root, mongod_binary, "b")
        try:
            target.prepare(memory_mb=512, packages=[], databases=[],
                           users=[], backup_info={
                               "id": "live-1",
                               "location": result.location})
            other = testing.MongoProbe(target)
            assert other.read_marker("live") == "kept"
            assert other.can_login("shop.alice", "Alice-pw-1")
        finally:
            target.do_stop()


class TestAdminClient:
    """The admin client against a running server (TROVE_TEST_MONGOD as a
    mongodb:// URL with root credentials)."""

    def test_databases_and_users(self, mongod_target):
        """Databases and users round trip through command documents."""
        import pymongo

        kind, value = mongod_target
        if kind != "url":
            pytest.skip("%s is a binary; TestPrepared covers this"
                        % testing.ENV_VAR)
        client = pymongo.MongoClient(value, serverSelectionTimeoutMS=5000)
        adm = admin.MongoAdmin(client)
        db = "trove_it_%s" % uuid.uuid4().hex[:8]
        user = "%s.bob" % db
        try:
            adm.create_database(db)
            assert db in adm.database_names()
            adm.create_user(user, "Bob-pw-1", admin.access_roles([db]))
            record = adm.find_user(user)
            assert admin.databases_of(record["roles"]) == [db]
            adm.revoke(user, admin.access_roles([db]))
            assert admin.databases_of(adm.find_user(user)["roles"]) == []
        finally:
            if adm.find_user(user) is not None:
                adm.drop_user(user)
            adm.drop_database(db)
            assert db not in adm.database_names()
            client.close()
