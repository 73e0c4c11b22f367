"""Databases, users, access and root against a live server."""

import pymysql
import pytest

from trove_core import exceptions
from trove_core import models

pytestmark = pytest.mark.mariadb


def _login(manager, user, password, database=None):
    conn = pymysql.connect(host="127.0.0.1", port=manager.options.port,
                           user=user, password=password, database=database,
                           connect_timeout=5, ssl_disabled=True)
    conn.close()
    return True


def _all(list_operation):
    items, marker = list_operation(limit=2)
    while marker:
        page, marker = list_operation(limit=2, marker=marker)
        items += page
    return items


class TestDatabases:
    """Create, list with paging, delete."""

    def test_create_list_delete(self, mysql):
        """Databases appear in pages of the requested size, then go."""
        names = ["pg_a", "pg_b", "pg_c", "we`ird", "100%"]
        mysql.create_database([models.Database(n) for n in names])
        listed = [d.name for d in _all(mysql.list_databases)]
        assert set(names) <= set(listed)
        assert listed == sorted(listed)
        for name in names:
            mysql.delete_database(models.Database(name))
        listed = [d.name for d in _all(mysql.list_databases)]
        assert not set(names) & set(listed)

    def test_paging_marker(self, mysql):
        """A page ends on a marker the next page starts after."""
        mysql.create_database([{"_name": "mk_1"}, {"_name": "mk_2"},
                               {"_name": "mk_3"}])
        page, marker = mysql.list_databases(limit=1, marker="mk_1")
        assert [d.name for d in page] == ["mk_2"] and marker == "mk_2"
        page, _ = mysql.list_databases(limit=1, marker="mk_1",
                                       include_marker=True)
        assert [d.name for d in page] == ["mk_1"]

    def test_system_databases_hidden(self, mysql):
        """mysql, sys and the schemas stay out of listings."""
        names = {d.name for d in _all(mysql.list_databases)}
        assert not names & {"mysql", "sys", "information_schema",
                            "performance_schema"}

    def test_charset_and_collation(self, mysql):
        """The character set and collation asked for are used."""
        mysql.create_database([models.Database("cs_db", "latin1",
                                               "latin1_swedish_ci")])
        (found,) = [d for d in _all(mysql.list_databases)
                    if d.name == "cs_db"]
        assert (found.character_set, found.collate) == (
            "latin1", "latin1_swedish_ci")

    @pytest.mark.parametrize("database,match", [
        pytest.param(models.Database("x1", "klingon"),
                     "unknown character set", id="charset"),
        pytest.param(models.Database("x2", None, "nope_ci"),
                     "unknown collation", id="collation"),
        pytest.param(models.Database("x3", "latin1", "utf8mb4_bin"),
                     "belongs to character set", id="mismatch"),
    ])
    def test_bad_charset(self, mysql, database, match):
        """Character sets and collations are checked against the
        server."""
        with pytest.raises(exceptions.BadRequest, match=match):
            mysql.create_database([database])
        assert database.name not in {
            d.name for d in _all(mysql.list_databases)}

    def test_system_database_refused(self, mysql):
        """Dropping a system database is refused."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="system database") as info:
            mysql.delete_database(models.Database("mysql"))
        assert info.value.value == "mysql"


class TestUsers:
    """Create, get, list, change, rename, delete."""

    def test_create_and_login(self, mysql):
        """A created user logs in and reaches its database."""
        mysql.create_user([{"_name": "alice", "_password": "Alice-pw-1",
                            "_host": "%",
                            "_databases": [{"_name": "alice_db"}]}])
        mysql.create_database([models.Database("alice_db")])
        assert _login(mysql, "alice", "Alice-pw-1", "alice_db")
        user = mysql.get_user("alice", "%")
        assert [d.name for d in user.databases] == ["alice_db"]

    def test_duplicate_refused(self, mysql):
        """Creating an existing user is refused."""
        mysql.create_user([models.User("dup", "%", "Dup-pw-1")])
        with pytest.raises(exceptions.BadRequest, match="already exists"):
            mysql.create_user([models.User("dup", "%", "Dup-pw-1")])

    def test_list_paging_hides_system(self, mysql):
        """Users page by name@host; system users are hidden."""
        mysql.create_user([models.User("lu%d" % i, "%", "Lu-pw-1")
                           for i in range(3)])
        keys = [u.key for u in _all(mysql.list_users)]
        assert {"lu0@%", "lu1@%", "lu2@%"} <= set(keys)
        assert keys == sorted(keys)
        assert not {k.split("@")[0] for k in keys} & {
            "root", "os_admin", "mariadb.sys"}

    def test_get_missing(self, mysql):
        """A missing user is None."""
        assert mysql.get_user("nobody", "%") is None

    def test_change_passwords(self, mysql):
        """New passwords work and old ones stop working."""
        mysql.create_user([models.User("pwu", "%", "Old-pw-1")])
        mysql.change_passwords([{"_name": "pwu", "_host": "%",
                                 "_password": "New-pw-1"}])
        assert _login(mysql, "pwu", "New-pw-1")
        with pytest.raises(pymysql.err.OperationalError):
            _login(mysql, "pwu", "Old-pw-1")

    def test_change_password_missing_user(self, mysql):
        """Nothing changes when one of the users does not exist."""
        mysql.create_user([models.User("pwv", "%", "Old-pw-1")])
        with pytest.raises(exceptions.NotFound, match="ghost") as info:
            mysql.change_passwords([
                models.User("pwv", "%", "New-pw-1"),
                models.User("ghost", "%", "New-pw-1")])
        assert info.value.kind == "user"
        assert _login(mysql, "pwv", "Old-pw-1")

    def test_update_attributes(self, mysql):
        """Rename, new host and new password at once."""
        mysql.create_user([models.User("ren", "%", "Ren-pw-1",
                                       (models.Database("alice_db"),))])
        mysql.update_attributes("ren", "%", {"name": "ren2",
                                             "host": "127.0.0.1",
                                             "password": "Ren-pw-2"})
        assert mysql.get_user("ren", "%") is None
        moved = mysql.get_user("ren2", "127.0.0.1")
        assert [d.name for d in moved.databases] == ["alice_db"]
        assert _login(mysql, "ren2", "Ren-pw-2")

    def test_update_attributes_all_or_nothing(self, mysql):
        """Renaming onto an existing user changes nothing."""
        mysql.create_user([models.User("keep1", "%", "Keep-pw-1"),
                           models.User("keep2", "%", "Keep-pw-2")])
        with pytest.raises(exceptions.BadRequest, match="already exists"):
            mysql.update_attributes("keep1", "%", {"name": "keep2",
                                                   "password": "X-pw-9"})
        assert _login(mysql, "keep1", "Keep-pw-1")
        assert _login(mysql, "keep2", "Keep-pw-2")

    def test_delete(self, mysql):
        """A deleted user cannot log in; deleting again is NotFound."""
        mysql.create_user([models.User("gone", "%", "Gone-pw-1")])
        mysql.delete_user({"_name": "gone", "_host": "%"})
        with pytest.raises(pymysql.err.OperationalError):
            _login(mysql, "gone", "Gone-pw-1")
        with pytest.raises(exceptions.NotFound):
            mysql.delete_user(models.User("gone", "%"))

    @pytest.mark.parametrize("name,host", [
        pytest.param("x'; DROP USER os_admin; --", "%", id="quote-name"),
        pytest.param("evil", "%' OR '1'='1", id="quote-host"),
        pytest.param("os_admin", "localhost", id="system-user"),
    ])
    def test_hostile_names(self, mysql, name, host):
        """Hostile or system names are refused before any SQL runs."""
        with pytest.raises(exceptions.InvalidIdentifier):
            mysql.create_user([models.User(name, host, "Pw-123456")])
        assert mysql.probe_status().is_running


class TestAccess:
    """Grant, list, revoke."""

    def test_grant_list_revoke(self, mysql):
        """Access follows grants and revokes."""
        mysql.create_database([models.Database("acc_1"),
                               models.Database("acc_2")])
        mysql.create_user([models.User("acc", "%", "Acc-pw-1")])
        mysql.grant_access("acc", "%", ["acc_1", "acc_2"])
        assert [d.name for d in mysql.list_access("acc", "%")] == [
            "acc_1", "acc_2"]
        mysql.revoke_access("acc", "%", "acc_1")
        assert [d.name for d in mysql.list_access("acc", "%")] == ["acc_2"]
        with pytest.raises(pymysql.err.OperationalError):
            _login(mysql, "acc", "Acc-pw-1", "acc_1")

    def test_underscore_is_not_a_wildcard(self, mysql):
        """A grant on a_b does not open aXb."""
        mysql.create_database([models.Database("u_b"),
                               models.Database("uXb")])
        mysql.create_user([models.User("wild", "%", "Wild-pw-1")])
        mysql.grant_access("wild", "%", ["u_b"])
        assert _login(mysql, "wild", "Wild-pw-1", "u_b")
        with pytest.raises(pymysql.err.OperationalError):
            _login(mysql, "wild", "Wild-pw-1", "uXb")


class TestRoot:
    """Enable, disable and inspect root."""

    def test_root_cycle(self, mysql):
        """Root can be enabled with a password, used, and disabled."""
        assert not mysql.is_root_enabled()
        user = mysql.enable_root()
        assert user.is_root and len(user.password) >= 16
        assert _login(mysql, "root", user.password)
        assert mysql.get_root_password() == user.password
        mysql.enable_root_with_password("Chosen-root-1")
        assert _login(mysql, "root", "Chosen-root-1")
        mysql.disable_root()
        assert not mysql.is_root_enabled()
        assert mysql.get_root_password() is None
        with pytest.raises(pymysql.err.OperationalError):
            _login(mysql, "root", "Chosen-root-1")


class TestAllOrNothing:
    """create_user validates everything before it creates anything."""

    def test_ungrantable_database(self, mysql):
        """A database a tenant created with SQL whose grant pattern is
        too long: the user is refused, not created half."""
        name = "a_" * 21 + "a" * 22
        with mysql.server.admin() as cur:
            cur.execute("CREATE DATABASE `%s`" % name)
        try:
            user = models.User("halfuser", "%", password="Pw-12345678",
                               databases=(models.Database(name),))
            with pytest.raises(exceptions.InvalidIdentifier,
                               match="grant names at most 64"):
                mysql.create_user([user])
            assert not any(u.name == "halfuser"
                           for u in _all(mysql.list_users))
            with pytest.raises(exceptions.InvalidIdentifier):
                mysql.create_database([models.Database("b_" * 32)])
        finally:
            with mysql.server.admin() as cur:
                cur.execute("DROP DATABASE `%s`" % name)

    def test_grant_failure_rolls_back(self, mysql, monkeypatch):
        """A grant that fails after CREATE USER drops the user again."""
        def boom(*_args):
            raise RuntimeError("grant failed")
        monkeypatch.setattr(mysql.admin, "_grant", boom)
        user = models.User("rollback", "%", password="Pw-12345678",
                           databases=(models.Database("shop_rb"),))
        with pytest.raises(RuntimeError):
            mysql.create_user([user])
        monkeypatch.undo()
        assert not any(u.name == "rollback" for u in _all(mysql.list_users))
