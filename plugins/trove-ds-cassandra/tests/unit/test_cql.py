"""Unit tests of CQL construction: identifiers quoted, values bound."""

import pytest
from cassandra.encoder import Encoder
from cassandra.query import bind_params

from trove_core import exceptions
from trove_ds_cassandra import cql


def final_text(built):
    """The text the driver sends for a built statement."""
    statement, params = built
    if not params:
        return statement % ()
    return bind_params(statement, params, Encoder())


class TestIdentifiers:
    """Names are validated, then always one quoted identifier."""

    @pytest.mark.parametrize("name, quoted", [
        pytest.param("alice", '"alice"', id="plain"),
        pytest.param('a"b', '"a""b"', id="quote-doubled"),
        pytest.param('x"; DROP KEYSPACE k; --', '"x""; DROP KEYSPACE k; --"',
                     id="injection"),
    ])
    def test_quote(self, name, quoted):
        """Quotes inside a name are doubled."""
        assert cql.quote(name) == quoted

    @pytest.mark.parametrize("name", [
        pytest.param("Shop_2", id="mixed-case"),
        pytest.param("k" * 48, id="longest"),
    ])
    def test_keyspace_ok(self, name):
        """Cassandra's keyspace rule is accepted."""
        assert cql.validate_keyspace(name) == name

    @pytest.mark.parametrize("name, match", [
        pytest.param("a-b", "letters, digits or underscores", id="dash"),
        pytest.param('a"b', "letters, digits or underscores", id="quote"),
        pytest.param("k" * 49, "the limit is 48", id="long"),
        pytest.param("", "empty", id="empty"),
    ])
    def test_keyspace_refused(self, name, match):
        """Other keyspace names are refused before any CQL is built."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match=match) as info:
            cql.drop_keyspace(name)
        assert info.value.kind == "database"

    def test_role_refused(self):
        """Control characters in a role name are refused."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="unprintable") as info:
            cql.drop_role("a\nb")
        assert info.value.kind == "user"


class TestStatements:
    """Statements as the driver sends them."""

    def test_create_role_binds_password(self):
        """A hostile password becomes one escaped literal."""
        text = final_text(cql.create_role("bob", "p'w); DROP ROLE x; --",
                                          hashed=False))
        assert text == ("CREATE ROLE \"bob\" WITH PASSWORD = "
                        "'p''w); DROP ROLE x; --' AND LOGIN = true "
                        "AND SUPERUSER = false")

    def test_percent_in_name_survives_binding(self):
        """A ``%s`` inside a role name is not a parameter slot."""
        text = final_text(cql.create_role("a%sb%%", "pw", superuser=True,
                                          hashed=False))
        assert text == ("CREATE ROLE \"a%sb%%\" WITH PASSWORD = 'pw' "
                        "AND LOGIN = true AND SUPERUSER = true")
        assert final_text(cql.drop_role("a%sb")) == \
            'DROP ROLE IF EXISTS "a%sb"'

    def test_create_keyspace(self):
        """The replication map is bound as a map literal."""
        text = final_text(cql.create_keyspace(
            "shop", {"class": "SimpleStrategy", "replication_factor": 3}))
        assert text == ("CREATE KEYSPACE \"shop\" WITH replication = "
                        "{'class': 'SimpleStrategy', "
                        "'replication_factor': '3'}")

    def test_grants(self):
        """A user gets every keyspace permission but AUTHORIZE."""
        texts = [final_text(b) for b in cql.grant_keyspace('o"k', "shop")]
        assert texts == ['GRANT %s ON KEYSPACE "shop" TO "o""k"' % p
                         for p in ("ALTER", "CREATE", "DROP", "MODIFY",
                                   "SELECT")]
        assert final_text(cql.revoke_keyspace("u", "shop")) == \
            'REVOKE ALL PERMISSIONS ON KEYSPACE "shop" FROM "u"'

    def test_rename_keeps_hash(self):
        """A renamed role is created from the old role's hash, bound."""
        assert final_text(cql.role_hash('o"ld')) == (
            "SELECT salted_hash FROM system_auth.roles WHERE role = "
            "'o\"ld'")
        assert final_text(cql.create_role_hashed("new", "$2a$10$h")) == (
            "CREATE ROLE \"new\" WITH HASHED PASSWORD = '$2a$10$h' AND "
            "LOGIN = true AND SUPERUSER = false")

    def test_empty_password_refused(self):
        """A role cannot be created or altered without a password."""
        with pytest.raises(exceptions.BadRequest, match="needs a password"):
            cql.create_role("u", "")
        with pytest.raises(exceptions.BadRequest, match="needs a password"):
            cql.alter_password("u", None)

    def test_reset_superuser_binds_everything(self):
        """The direct role write binds the name and the hash."""
        text = final_text(cql.reset_superuser("os_admin", "$2a$10$x'y"))
        assert text.endswith("VALUES ('os_admin', true, true, "
                             "'$2a$10$x''y')")

    def test_keyspaces_of(self):
        """Only keyspace resources count as access."""
        assert cql.keyspaces_of(["data/b", "data", "data/a/t", "roles/x",
                                 "data/a"]) == ["a", "b"]


class TestReplication:
    """Keyspace replication maps are validated."""

    @pytest.mark.parametrize("given, expected", [
        pytest.param({"class": "SimpleStrategy", "replication_factor": 2},
                     {"class": "SimpleStrategy", "replication_factor": "2"},
                     id="simple"),
        pytest.param({"class": "org.apache.cassandra.locator."
                      "NetworkTopologyStrategy", "dc1": "3", "dc-2": 0},
                     {"class": "NetworkTopologyStrategy", "dc1": "3",
                      "dc-2": "0"}, id="nts-long-class"),
    ])
    def test_accepted(self, given, expected):
        """Known strategies with integer factors are accepted."""
        assert cql.validate_replication(given) == expected

    @pytest.mark.parametrize("given, match", [
        pytest.param({"class": "LocalStrategy"}, "must be one of",
                     id="class"),
        pytest.param({"class": "SimpleStrategy"}, "exactly",
                     id="no-factor"),
        pytest.param({"class": "SimpleStrategy", "replication_factor": "2",
                      "dc1": 1}, "exactly", id="extra-key"),
        pytest.param({"class": "SimpleStrategy",
                      "replication_factor": "1'}; DROP"},
                     "non-negative integer", id="injection"),
        pytest.param({"class": "SimpleStrategy",
                      "replication_factor": 1.5},
                     "non-negative integer", id="float"),
        pytest.param({"class": "SimpleStrategy",
                      "replication_factor": True},
                     "non-negative integer", id="bool"),
        pytest.param({"class": "SimpleStrategy", "replication_factor": 0},
                     "at least 1", id="zero"),
        pytest.param({"class": "NetworkTopologyStrategy"}, "per data center",
                     id="no-dc"),
        pytest.param({"class": "NetworkTopologyStrategy", "dc 1": 1},
                     "data center name", id="dc-space"),
        pytest.param({"class": "NetworkTopologyStrategy", "dc1": -1},
                     "non-negative integer", id="negative"),
        pytest.param({"class": "NetworkTopologyStrategy", "dc1": 0},
                     "above 0", id="all-zero"),
        pytest.param(["SimpleStrategy"], "must be a mapping", id="list"),
    ])
    def test_refused(self, given, match):
        """Anything else is refused with the reason."""
        with pytest.raises(exceptions.BadRequest, match=match) as info:
            cql.validate_replication(given)
        assert info.value.reason
