"""Identifier validation, quoting and grant-pattern escaping."""

import pytest

from trove_core import exceptions
from trove_ds_mysql import sql


class TestCheckDatabase:
    """Database names."""

    @pytest.mark.parametrize("name", [
        pytest.param("db1", id="plain"),
        pytest.param("a" * 64, id="longest"),
        pytest.param("we`ird", id="backtick"),
        pytest.param("with space", id="inner-space"),
    ])
    def test_accepts(self, name):
        """Names MySQL stores as directories are accepted."""
        assert sql.check_database(name) == name

    @pytest.mark.parametrize("name,reason", [
        pytest.param("a" * 65, "limit is 64", id="too-long"),
        pytest.param("trailing ", "ends with a space", id="trailing-space"),
        pytest.param("a/b", "contains '/'", id="slash"),
        pytest.param("a.b", "contains '.'", id="dot"),
        pytest.param("", "empty", id="empty"),
        pytest.param("a\nb", "control", id="newline"),
    ])
    def test_refuses(self, name, reason):
        """Bad names are refused with the reason."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match=reason) as info:
            sql.check_database(name)
        assert info.value.kind == "database"
        assert info.value.value == name


class TestCheckUser:
    """User and host names."""

    def test_mariadb_allows_80(self):
        """MariaDB user names may have 80 characters."""
        assert sql.check_user("u" * 80, is_mariadb=True)

    def test_mysql_limit(self):
        """MySQL user names stop at 32 characters."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="limit is 32") as info:
            sql.check_user("u" * 33, is_mariadb=False)
        assert info.value.kind == "user"

    @pytest.mark.parametrize("name", [
        pytest.param("a'b", id="quote"),
        pytest.param("a@b", id="at"),
        pytest.param("a b", id="space"),
        pytest.param("a`b", id="backtick"),
    ])
    def test_refuses_specials(self, name):
        """Quotes, @, spaces and backticks are refused in user names."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="only letters") as info:
            sql.check_user(name)
        assert info.value.value == name

    @pytest.mark.parametrize("host", [
        pytest.param("%", id="any"), pytest.param("10.0.%", id="pattern"),
        pytest.param("::1", id="ipv6"),
        pytest.param("10.0.0.0/255.0.0.0", id="netmask"),
        pytest.param("db.example.org", id="name"),
    ])
    def test_hosts(self, host):
        """Host names, addresses and patterns are accepted."""
        assert sql.check_host(host) == host

    def test_bad_host(self):
        """A host with a quote is refused."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="host name") as info:
            sql.check_host("x' OR '1")
        assert info.value.kind == "host"


class TestQuoting:
    """Backtick quoting and grant patterns."""

    def test_quote_doubles_backticks(self):
        """Inner backticks are doubled."""
        assert sql.quote("a`b") == "`a``b`"

    @pytest.mark.parametrize("name", [
        pytest.param("my_db", id="underscore"),
        pytest.param("100%", id="percent"),
        pytest.param("back\\slash", id="backslash"),
    ])
    def test_grant_pattern_round_trip(self, name):
        """Wildcards are escaped in grants and unescaped when listed."""
        pattern = sql.grant_pattern(name)[1:-1]
        assert "_" not in pattern.replace("\\_", "")
        assert sql.unescape_pattern(pattern) == name

    def test_literal(self):
        """Percent signs survive PyMySQL's parameter formatting."""
        assert sql.literal("`100%`") % () == "`100%`"


class TestGrantable:
    """A database that can be created can be granted."""

    @pytest.mark.parametrize("name, ok", [
        pytest.param("a" * 64, True, id="64-plain"),
        pytest.param("a_" * 21 + "a" * 22, False, id="64-with-underscores"),
        pytest.param("a_b" * 16, True, id="48-escaped-64"),
        pytest.param("%" * 33, False, id="percent"),
    ])
    def test_escaped_length(self, name, ok):
        """The escaped grant pattern must fit in 64 characters."""
        from trove_ds_mysql import sql

        if ok:
            assert sql.check_grantable(name) == name
        else:
            with pytest.raises(exceptions.InvalidIdentifier,
                               match="grant names at most 64") as info:
                sql.check_grantable(name)
            assert info.value.kind == "database"


class TestPasswordClause:
    """Passwords reach MariaDB as hashes, never in plaintext."""

    def test_mariadb_hash(self):
        """The mysql_native_password hash of a known password."""
        from trove_ds_mysql import sql

        clause, value = sql.identified("password")
        assert clause == "IDENTIFIED BY PASSWORD %s"
        assert value == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"

    def test_mysql_plaintext(self):
        """MySQL rewrites passwords in its logs itself."""
        from trove_ds_mysql import sql

        assert sql.identified("pw", is_mariadb=False) == (
            "IDENTIFIED BY %s", "pw")
