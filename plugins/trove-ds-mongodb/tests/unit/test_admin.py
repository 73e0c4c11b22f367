"""Unit tests of MongoDB names and command documents."""

import pytest

from trove_core import exceptions
from trove_ds_mongodb import admin
from trove_ds_mongodb import replication


class TestNames:
    """Database and user names are validated before any command."""

    @pytest.mark.parametrize("name, match", [
        pytest.param("a.b", "it contains '.'", id="dot"),
        pytest.param("a/b", "it contains '/'", id="slash"),
        pytest.param('a"b', "it contains '\"'", id="quote"),
        pytest.param("a$b", "it contains '\\$'", id="dollar"),
        pytest.param("a b", "it contains ' '", id="space"),
        pytest.param("x" * 64, "the limit is 63", id="long"),
        pytest.param("\u65e5" * 22, "66 bytes long", id="long-utf8"),
        pytest.param("", "it is empty", id="empty"),
        pytest.param("a\x00b", "NUL byte", id="nul"),
        pytest.param("a\nb", "unprintable", id="newline"),
    ])
    def test_bad_database(self, name, match):
        """Hostile database names are refused with the reason."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match=match) as info:
            admin.validate_database(name)
        assert info.value.kind == "database"

    def test_split_user(self):
        """``db.user`` splits at the first dot; the user part may hold
        dots; a bare name is an admin account."""
        assert admin.split_user("shop.alice.b") == ("shop", "alice.b")
        assert admin.split_user("alice") == ("admin", "alice")

    @pytest.mark.parametrize("database, user, name", [
        pytest.param("shop", "alice", "shop.alice", id="other-db"),
        pytest.param("admin", "alice", "alice", id="admin-bare"),
        pytest.param("admin", "a.b", "admin.a.b", id="admin-dotted"),
    ])
    def test_user_name_round_trip(self, database, user, name):
        """Listed names split back into the same account."""
        assert admin.user_name(database, user) == name
        assert admin.split_user(name) == (database, user)

    def test_same_user(self):
        """``admin.x`` and ``x`` are one account; bad names match
        nothing."""
        assert admin.same_user("admin.os_admin", "os_admin")
        assert not admin.same_user("shop.x", "x")
        assert not admin.same_user(".x", ".x")

    @pytest.mark.parametrize("name, kind", [
        pytest.param(".alice", "user", id="no-db"),
        pytest.param("shop.", "user", id="no-user"),
        pytest.param("sh$op.alice", "database", id="bad-db"),
    ])
    def test_bad_user(self, name, kind):
        """User names not of the form ``<db>.<user>`` are refused."""
        with pytest.raises(exceptions.InvalidIdentifier) as info:
            admin.split_user(name)
        assert info.value.kind == kind


class TestCommands:
    """Command documents carry names and passwords as values."""

    def test_create_user(self):
        """createUser is the first key; the password is a value."""
        cmd = admin.create_user_command(
            'x"}); db.dropDatabase(); //', "p'w", admin.access_roles(["a"]))
        assert list(cmd) == ["createUser", "pwd", "roles", "mechanisms",
                             "digestPassword"]
        assert cmd["createUser"] == 'x"}); db.dropDatabase(); //'
        assert cmd["roles"] == [{"role": "readWrite", "db": "a"}]

    def test_create_user_needs_password(self):
        """An empty password is refused before the server sees it."""
        with pytest.raises(exceptions.BadRequest,
                           match="needs a password") as info:
            admin.create_user_command("u", "", [])
        assert "'u'" in info.value.reason

    @pytest.mark.parametrize("password", [
        pytest.param("a\nb", id="newline"),
        pytest.param("a\x07b", id="bell"),
    ])
    def test_password_saslprep(self, password):
        """Passwords SCRAM-SHA-256 cannot carry are refused up front."""
        with pytest.raises(exceptions.BadRequest, match="SASLprep") as info:
            admin.update_user_command("u", password=password)
        assert "'u'" in info.value.reason

    def test_password_kept_exactly(self):
        """Quotes and shell syntax are kept as given."""
        pw = "x'; $(touch /tmp/c) `id` %s"
        assert admin.create_user_command("u", pw, [])["pwd"] == pw

    def test_update_only_given_fields(self):
        """updateUser carries only what changes."""
        assert admin.update_user_command("u", password="p") == {
            "updateUser": "u", "pwd": "p", "mechanisms": ["SCRAM-SHA-256"],
            "digestPassword": True}
        assert admin.update_user_command("u", roles=[]) == {
            "updateUser": "u", "roles": []}

    def test_role_commands(self):
        """grant/revoke/drop documents name the user and roles."""
        roles = admin.access_roles(["a", "b"])
        assert admin.grant_roles_command("u", roles) == {
            "grantRolesToUser": "u", "roles": roles}
        assert admin.revoke_roles_command("u", roles) == {
            "revokeRolesFromUser": "u", "roles": roles}
        assert admin.drop_user_command("u") == {"dropUser": "u"}

    def test_access_roles_validate(self):
        """Access to a hostile database name is refused."""
        with pytest.raises(exceptions.InvalidIdentifier):
            admin.access_roles(["ok", "$where"])

    def test_databases_of(self):
        """Only readWrite roles count as access."""
        roles = [{"role": "readWrite", "db": "b"},
                 {"role": "read", "db": "c"},
                 {"role": "readWrite", "db": "a"}]
        assert admin.databases_of(roles) == ["a", "b"]


class TestReplicaSetConfig:
    """Membership changes computed on the configuration document."""

    CONFIG = {"_id": "rs0", "version": 3,
              "members": [{"_id": 0, "host": "10.0.0.1:27017"},
                          {"_id": 4, "host": "10.0.0.2:27017"}]}

    def test_add(self):
        """New hosts get fresh ids; known ones are kept once."""
        new = replication.add_members(
            self.CONFIG, ["10.0.0.2:27017", "10.0.0.3:27017"])
        assert new["version"] == 4
        assert new["members"][-1] == {"_id": 5, "host": "10.0.0.3:27017"}
        assert len(new["members"]) == 3
        assert self.CONFIG["version"] == 3

    def test_remove(self):
        """Removed hosts are gone and the version is raised."""
        new = replication.remove_members(self.CONFIG, ["10.0.0.1:27017"])
        assert [m["host"] for m in new["members"]] == ["10.0.0.2:27017"]
        assert new["version"] == 4

    def test_remove_all_refused(self):
        """A set cannot lose its last member."""
        with pytest.raises(exceptions.BadRequest,
                           match="without members") as info:
            replication.remove_members(
                self.CONFIG, ["10.0.0.1:27017", "10.0.0.2:27017"])
        assert "rs0" in info.value.reason

    def test_initiate_and_key(self):
        """The initiate document and a key MongoDB accepts."""
        assert replication.initiate_command("rs0", "h:1") == {
            "replSetInitiate": {"_id": "rs0",
                                "members": [{"_id": 0, "host": "h:1"}]}}
        key = replication.generate_key()
        assert 6 <= len(key) <= 1024
        assert key.isascii() and " " not in key
