"""Issue 15 points 5 and 6 for MongoDB, without a server: the password
is digested by the server into SCRAM-SHA-256 keys only, the guest never
logs or echoes it, and create_user is all-or-nothing."""

import logging

import pytest

from trove_core import exceptions
from trove_core import models
from trove_ds_mongodb import admin

PASSWORD = "S3cr3t-pw-{x}"  # noqa: S105


class FakeClient:
    """Records every command document by database; ``usersInfo`` finds
    the users created here (and ``existing``); a command whose user is
    ``fail_user`` is refused with an error echoing the document."""

    def __init__(self, existing=(), fail_user=None):
        self.users = set(existing)
        self.fail_user = fail_user
        self.sent = []

    def __getitem__(self, database):
        client = self

        class Database:
            def command(self, command):
                return client.command(database, command)
        return Database()

    def close(self):
        pass

    def command(self, database, command):
        verb = next(iter(command))
        if verb == "usersInfo":
            name = "%s.%s" % (database, command[verb])
            found = name in self.users
            return {"users": [{"user": command[verb], "db": database,
                               "roles": []}] if found else []}
        self.sent.append((database, dict(command)))
        if command[verb] == self.fail_user:
            raise RuntimeError("command failed: %r" % (command,))
        if verb == "createUser":
            self.users.add("%s.%s" % (database, command[verb]))
        elif verb == "dropUser":
            self.users.discard("%s.%s" % (database, command[verb]))
        return {"ok": 1}


@pytest.fixture
def fake(mongo_manager):
    """``mongo_manager`` talking to a FakeClient made with the given
    settings; returns the client."""
    mongo_manager.store_secret("admin_password", "s3cret-admin-pw")

    def make(**settings):
        client = FakeClient(**settings)
        mongo_manager.client_factory = lambda **_kwargs: client
        return client
    return make


def _user(name, password=PASSWORD, dbs=()):
    return models.User(name=name, password=password,
                       databases=tuple(models.Database(d) for d in dbs))


class TestServerSideDigest:
    """createUser/updateUser ask for SCRAM-SHA-256 keys only, digested
    by the server."""

    def test_create_user_command(self):
        """The document names the mechanism and the server digest."""
        cmd = admin.create_user_command("u", PASSWORD,
                                        admin.access_roles(["a", "b"]))
        assert cmd["mechanisms"] == ["SCRAM-SHA-256"]
        assert cmd["digestPassword"] is True
        assert cmd["roles"] == [{"role": "readWrite", "db": "a"},
                                {"role": "readWrite", "db": "b"}]

    def test_update_user_command(self):
        """A new password gets the same; a roles-only change does not
        carry the fields."""
        cmd = admin.update_user_command("u", password=PASSWORD)
        assert cmd == {"updateUser": "u", "pwd": PASSWORD,
                       "mechanisms": ["SCRAM-SHA-256"],
                       "digestPassword": True}
        assert admin.update_user_command("u", roles=[]) == {
            "updateUser": "u", "roles": []}

    def test_redact(self):
        """A command fit for a log line has its password masked."""
        cmd = admin.create_user_command("u", PASSWORD, [])
        shown = admin.redact_command(cmd)
        assert shown["pwd"] == "***"
        assert PASSWORD not in repr(shown)
        assert cmd["pwd"] == PASSWORD

    @pytest.mark.parametrize("password, match", [
        pytest.param({"a": 1}, "must be a string", id="dict"),
        pytest.param(["x"], "must be a string", id="list"),
        pytest.param("p\ud800", "lone surrogate", id="surrogate"),
    ])
    def test_bad_password_type(self, password, match):
        """A password that is not text is a BadRequest."""
        with pytest.raises(exceptions.BadRequest, match=match):
            admin.check_password("u", password)

    def test_nothing_logged_or_echoed(self, mongo_manager, fake, caplog):
        """At DEBUG, every user operation logs no password; a server
        error that echoes the command is re-raised masked."""
        client = fake(existing={"admin.root"})
        caplog.set_level(logging.DEBUG)
        mongo_manager.create_user([_user("shop.alice", dbs=["shop"])])
        mongo_manager.change_passwords([_user("shop.alice", "N3w-pw-1")])
        mongo_manager.update_attributes("shop.alice", "%",
                                        {"password": "N3w-pw-2"})
        mongo_manager.enable_root_with_password("R00t-pw-x")
        client.fail_user = "bob"
        with pytest.raises(exceptions.DatastoreError) as info:
            mongo_manager.create_user([_user("shop.bob")])
        assert PASSWORD not in str(info.value)
        assert "***" in str(info.value)
        logged = caplog.text
        for secret in (PASSWORD, "N3w-pw-1", "N3w-pw-2", "R00t-pw-x"):
            assert secret not in logged
        assert "'pwd': '***'" in logged
        with_pwd = [c for _db, c in client.sent if "pwd" in c]
        assert len(with_pwd) == 5
        assert all(c["mechanisms"] == ["SCRAM-SHA-256"]
                   and c["digestPassword"] is True for c in with_pwd)


class TestAllOrNothing:
    """Refusals come before any command; a failure mid-way undoes the
    users this call created."""

    @pytest.mark.parametrize("users, error", [
        pytest.param([_user("shop.a", dbs=["shop"]),
                      _user("shop.b", dbs=["shop", "bad$db"])],
                     exceptions.InvalidIdentifier, id="bad-database"),
        pytest.param([_user("shop.a", dbs=["shop"]),
                      _user("shop.b", dbs=["shop", "x" * 64])],
                     exceptions.InvalidIdentifier, id="long-database"),
        pytest.param([_user("shop.a"), _user("shop.b", dbs=["admin"])],
                     exceptions.BadRequest, id="reserved-database"),
        pytest.param([_user("shop.a"), _user("shop.b", password="a\nb")],
                     exceptions.BadRequest, id="bad-password"),
        pytest.param([_user("shop.a"), _user("os_admin")],
                     exceptions.BadRequest, id="reserved-user"),
        pytest.param([_user("a"), _user("admin.a")],
                     exceptions.BadRequest, id="twice"),
        pytest.param([_user("shop.a"), _user("shop.taken")],
                     exceptions.BadRequest, id="exists"),
    ])
    def test_refusals_send_nothing(self, mongo_manager, fake, users, error):
        """Every refusal happens before the first command."""
        client = fake(existing={"shop.taken"})
        with pytest.raises(error):
            mongo_manager.create_user(users)
        assert client.sent == []

    def test_several_roles_in_one_command(self, mongo_manager, fake):
        """A user with several databases is one createUser holding every
        role: the server applies them together."""
        client = fake()
        mongo_manager.create_user([_user("shop.a", dbs=["d1", "d2", "d3"])])
        assert [c for _db, c in client.sent] == [
            admin.create_user_command(
                "a", PASSWORD, admin.access_roles(["d1", "d2", "d3"]))]

    def test_failure_rolls_back(self, mongo_manager, fake):
        """When the server refuses the third user, the first two are
        dropped again."""
        client = fake(fail_user="c")
        with pytest.raises(exceptions.DatastoreError):
            mongo_manager.create_user([_user("shop.a", dbs=["d1"]),
                                       _user("b", dbs=["d1", "d2"]),
                                       _user("shop.c")])
        assert [(db, next(iter(c)), c[next(iter(c))])
                for db, c in client.sent[-2:]] == [
            ("admin", "dropUser", "b"), ("shop", "dropUser", "a")]
        assert client.users == set()

    def test_grant_is_one_command(self, mongo_manager, fake):
        """grant_access checks every name first and sends one
        grantRolesToUser."""
        client = fake(existing={"shop.a"})
        with pytest.raises(exceptions.InvalidIdentifier):
            mongo_manager.grant_access("shop.a", "%", ["d1", "b/d"])
        assert client.sent == []
        mongo_manager.grant_access("shop.a", "%", ["d1", "d2"])
        assert client.sent == [("shop", admin.grant_roles_command(
            "a", admin.access_roles(["d1", "d2"])))]
