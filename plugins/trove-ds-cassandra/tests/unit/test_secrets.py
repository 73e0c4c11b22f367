"""Issue 15 points 5 and 6 for Cassandra, without a server: passwords
reach the server only as bcrypt hashes (no plaintext for its audit or
full query log), and create_user/grant_access are all-or-nothing."""

import types

import bcrypt
import pytest
from cassandra.encoder import Encoder
from cassandra.query import bind_params

from trove_core import exceptions
from trove_core import models
from trove_ds_cassandra import cql
from trove_ds_cassandra import plugin

PASSWORD = "S3cr3t-'pw\"--x"  # noqa: S105


def final_text(built):
    """The text the driver sends for a built statement."""
    statement, params = built
    if not params:
        return statement % ()
    return bind_params(statement, params, Encoder())


def _hash_in(text):
    return text.split("HASHED PASSWORD = '", 1)[1].split("'", 1)[0]


class TestHashedStatements:
    """The statements carry a bcrypt hash Cassandra checks logins
    against, never the password."""

    def test_declared_versions_take_hashes(self):
        """Every engine version the descriptor declares is 4.1 or
        later, so the plugin always hashes."""
        assert cql.takes_hashed_passwords(plugin.DESCRIPTOR.engine_versions)

    @pytest.mark.parametrize("versions, expected", [
        pytest.param(["4.1"], True, id="4.1"),
        pytest.param(["5.0.2", "4.1.3"], True, id="newer"),
        pytest.param(["4.0.11"], False, id="4.0"),
        pytest.param(["3.11", "5.0"], False, id="one-older"),
        pytest.param([], False, id="none"),
    ])
    def test_version_rule(self, versions, expected):
        """HASHED PASSWORD needs 4.1+ on every declared version."""
        assert cql.takes_hashed_passwords(versions) is expected

    def test_bad_version(self):
        """A version that is not numeric is a clear error."""
        with pytest.raises(ValueError, match="not numeric"):
            cql.takes_hashed_passwords(["latest"])

    @pytest.mark.parametrize("superuser", [False, True])
    def test_create_role(self, superuser):
        """CREATE ROLE sends a $2a$ bcrypt hash of the password."""
        text = final_text(cql.create_role("bob", PASSWORD,
                                          superuser=superuser))
        assert PASSWORD not in text
        assert text.startswith('CREATE ROLE "bob" WITH HASHED PASSWORD = ')
        assert text.endswith("AND LOGIN = true AND SUPERUSER = %s"
                             % ("true" if superuser else "false"))
        digest = _hash_in(text)
        assert digest.startswith("$2a$%02d$" % cql.BCRYPT_ROUNDS)
        assert bcrypt.checkpw(PASSWORD.encode(), digest.encode())

    def test_alter_password(self):
        """ALTER ROLE sends a hash too."""
        text = final_text(cql.alter_password('o"k', PASSWORD))
        assert PASSWORD not in text
        assert text.startswith('ALTER ROLE "o""k" WITH HASHED PASSWORD = ')
        assert bcrypt.checkpw(PASSWORD.encode(), _hash_in(text).encode())

    def test_long_password_as_cassandra_reads_it(self):
        """Past 72 bytes bcrypt (Cassandra's too) reads no further: the
        hash is made of the same bytes instead of failing."""
        long_pw = "é" * 50  # 100 bytes in UTF-8
        digest = _hash_in(final_text(cql.create_role("u", long_pw)))
        assert bcrypt.checkpw(long_pw.encode()[:72], digest.encode())

    @pytest.mark.parametrize("password, match", [
        pytest.param("", "needs a password", id="empty"),
        pytest.param(None, "needs a password", id="none"),
        pytest.param({"a": 1}, "must be a string", id="dict"),
        pytest.param("p\ud800", "lone surrogate", id="surrogate"),
    ])
    @pytest.mark.parametrize("hashed", [True, False])
    def test_bad_password(self, password, match, hashed):
        """A password that cannot be sent is a BadRequest either way."""
        with pytest.raises(exceptions.BadRequest, match=match):
            cql.create_role("u", password, hashed=hashed)
        with pytest.raises(exceptions.BadRequest, match=match):
            cql.alter_password("u", password, hashed=hashed)


class FakeSession:
    """Records the final text of every statement; answers the reads the
    manager makes from ``roles``, ``keyspaces`` and ``permissions``;
    fails a statement that contains ``fail_on``."""

    def __init__(self, roles=(), keyspaces=(), permissions=(),
                 fail_on=None):
        self.roles = {r: (False, True) for r in roles}
        self.keyspaces = set(keyspaces)
        self.permissions = list(permissions)
        self.fail_on = fail_on
        self.sent = []

    def execute(self, statement, params=None):
        text = (statement if params is None
                else bind_params(statement, params, Encoder()))
        if text.startswith("SELECT role, is_superuser"):
            return [types.SimpleNamespace(role=r, is_superuser=s,
                                          can_login=c)
                    for r, (s, c) in self.roles.items()]
        if text.startswith("SELECT keyspace_name"):
            return [types.SimpleNamespace(keyspace_name=k)
                    for k in sorted(self.keyspaces)]
        if text.startswith("SELECT role, resource"):
            return [types.SimpleNamespace(role=r, resource=res,
                                          permissions={"SELECT"})
                    for r, res in self.permissions]
        self.sent.append(text)
        if self.fail_on and self.fail_on in text:
            raise RuntimeError("server refused: %s" % self.fail_on)
        if text.startswith("CREATE ROLE"):
            self.roles[text.split('"')[1]] = (False, True)
        elif text.startswith("DROP ROLE"):
            self.roles.pop(text.split('"')[1], None)
        return []


@pytest.fixture
def session_of(cass_manager):
    """Connect ``cass_manager`` to a FakeSession made with the given
    settings; return the session."""
    cass_manager.store_secret("admin_password", "adminpw")

    def make(**settings):
        session = FakeSession(**settings)

        class Cluster:
            def __init__(self, **_kwargs):
                pass

            def connect(self):
                return session

            def shutdown(self):
                pass
        cass_manager.cluster_factory = Cluster
        return session
    return make


def _user(name, password=PASSWORD, dbs=()):
    return models.User(name=name, password=password,
                       databases=tuple(models.Database(d) for d in dbs))


class TestManagerSends:
    """What the manager's operations send: no plaintext password."""

    def test_create_user_and_passwords(self, cass_manager, session_of):
        """create_user, change_passwords, update_attributes and root
        send hashes only."""
        session = session_of(keyspaces=["shop"])
        cass_manager.create_user([_user("alice", dbs=["shop"])])
        cass_manager.change_passwords([_user("alice", "N3w-pw-1")])
        cass_manager.update_attributes("alice", "%",
                                       {"password": "N3w-pw-2"})
        cass_manager.update_attributes("alice", "%", {
            "name": "bob", "password": "N3w-pw-3"})
        cass_manager.enable_root_with_password("R00t-pw-x")
        text = "\n".join(session.sent)
        for secret in (PASSWORD, "N3w-pw-1", "N3w-pw-2", "N3w-pw-3",
                       "R00t-pw-x"):
            assert secret not in text
        assert sum("HASHED PASSWORD" in t for t in session.sent) == 5
        assert 'GRANT SELECT ON KEYSPACE "shop" TO "alice"' in session.sent


class TestAllOrNothing:
    """Refusals come before any change; a failure mid-way undoes it."""

    def test_missing_keyspace_refused_first(self, cass_manager, session_of):
        """A keyspace that does not exist is refused before any role is
        created (it could never be granted)."""
        session = session_of(keyspaces=["shop"])
        with pytest.raises(exceptions.BadRequest,
                           match=r"\['nope'\] do not exist"):
            cass_manager.create_user([
                _user("alice", dbs=["shop"]),
                _user("bob", dbs=["shop", "nope"])])
        assert session.sent == []

    @pytest.mark.parametrize("users, error", [
        pytest.param([_user("a", dbs=["shop"]), _user("b", dbs=["a-b"])],
                     exceptions.InvalidIdentifier, id="bad-keyspace"),
        pytest.param([_user("a"), _user("b", dbs=["system_auth"])],
                     exceptions.BadRequest, id="reserved-keyspace"),
        pytest.param([_user("a"), _user("b", password="")],
                     exceptions.BadRequest, id="no-password"),
        pytest.param([_user("a"), _user("os_admin")],
                     exceptions.BadRequest, id="reserved-user"),
        pytest.param([_user("a"), _user("a")],
                     exceptions.BadRequest, id="twice"),
        pytest.param([_user("a"), _user("taken")],
                     exceptions.BadRequest, id="exists"),
    ])
    def test_refusals_send_nothing(self, cass_manager, session_of, users,
                                   error):
        """Every refusal of create_user happens before any statement."""
        session = session_of(roles=["taken"], keyspaces=["shop"])
        with pytest.raises(error):
            cass_manager.create_user(users)
        assert session.sent == []

    def test_failure_rolls_back(self, cass_manager, session_of):
        """A grant the server refuses for the second user drops both
        roles this call created."""
        session = session_of(keyspaces=["shop", "bad"],
                             fail_on='ON KEYSPACE "bad" TO "bob"')
        with pytest.raises(RuntimeError):
            cass_manager.create_user([_user("alice", dbs=["shop"]),
                                      _user("bob", dbs=["shop", "bad"])])
        assert session.sent[-2:] == ['DROP ROLE IF EXISTS "bob"',
                                     'DROP ROLE IF EXISTS "alice"']
        assert set(session.roles) == set()

    def test_grant_refused_first(self, cass_manager, session_of):
        """grant_access checks every keyspace before the first grant."""
        session = session_of(roles=["alice"], keyspaces=["shop"])
        with pytest.raises(exceptions.BadRequest, match="do not exist"):
            cass_manager.grant_access("alice", "%", ["shop", "nope"])
        with pytest.raises(exceptions.InvalidIdentifier):
            cass_manager.grant_access("alice", "%", ["shop", "a b"])
        assert session.sent == []

    def test_grant_failure_revokes_new_only(self, cass_manager,
                                            session_of):
        """A failed grant revokes the keyspaces this call granted, not
        one the user already held."""
        session = session_of(roles=["alice"],
                             keyspaces=["held", "new", "bad"],
                             permissions=[("alice", "data/held")],
                             fail_on='ON KEYSPACE "bad"')
        with pytest.raises(RuntimeError):
            cass_manager.grant_access("alice", "%", ["held", "new", "bad"])
        revokes = [t for t in session.sent if t.startswith("REVOKE")]
        assert revokes == [
            'REVOKE ALL PERMISSIONS ON KEYSPACE "bad" FROM "alice"',
            'REVOKE ALL PERMISSIONS ON KEYSPACE "new" FROM "alice"']

    def test_rename_failure_drops_new_role(self, cass_manager, session_of):
        """A rename whose grant fails drops the new role and keeps the
        old one."""
        session = session_of(roles=["alice"], keyspaces=["shop"],
                             permissions=[("alice", "data/shop")],
                             fail_on='TO "bob"')
        with pytest.raises(RuntimeError):
            cass_manager.update_attributes("alice", "%", {
                "name": "bob", "password": PASSWORD})
        assert session.sent[-1] == 'DROP ROLE IF EXISTS "bob"'
        assert set(session.roles) == {"alice"}

    def test_rename_bad_password_sends_nothing(self, cass_manager,
                                               session_of):
        """A rename with a password that cannot be sent is refused
        before any statement."""
        session = session_of(roles=["alice"])
        with pytest.raises(exceptions.BadRequest, match="lone surrogate"):
            cass_manager.update_attributes("alice", "%", {
                "name": "bob", "password": "p\ud800"})
        assert session.sent == []
