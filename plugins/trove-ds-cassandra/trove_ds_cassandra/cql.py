"""CQL statements, built safely.

Names (keyspaces, roles) are validated, then written as double-quoted
identifiers with any ``"`` doubled, so a name is always one identifier.
Passwords go as bcrypt hashes (``WITH HASHED PASSWORD``) to the engine
versions that take them, so no plaintext reaches the server's audit or
full query log. Values (hashes, replication maps) are never written into
the text:
each builder returns ``(statement, params)`` for the driver, which binds
``%s`` parameters as escaped literals. Every statement is in that
``%``-format (a ``%`` inside a name is written ``%%``); :func:`execute`
runs one. The builders are pure functions, tested without a server.
"""

import re

from trove_core import exceptions
from trove_core import models

__all__ = ["HASHED_PASSWORD_SINCE", "KEYSPACE_PERMISSIONS",
           "alter_password", "create_keyspace", "create_role",
           "create_role_hashed", "drop_keyspace", "drop_role", "execute",
           "grant_keyspace", "hash_password", "keyspaces_of",
           "list_keyspaces", "list_permissions", "list_roles", "quote",
           "reset_superuser", "revoke_keyspace", "role_hash",
           "takes_hashed_passwords", "validate_keyspace",
           "validate_replication", "validate_role"]

#: Everything on a keyspace but AUTHORIZE, as Trove granted: a user can
#: use a keyspace fully but cannot hand its rights on.
KEYSPACE_PERMISSIONS = ("ALTER", "CREATE", "DROP", "MODIFY", "SELECT")

_KEYSPACE = re.compile(r"^[A-Za-z0-9_]{1,48}$")
_DATA_CENTER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_STRATEGIES = {"SimpleStrategy", "NetworkTopologyStrategy"}
_LOCATOR = "org.apache.cassandra.locator."


def quote(name):
    """Return ``name`` as a quoted CQL identifier."""
    return '"%s"' % name.replace('"', '""')


def _ident(name):
    # a quoted identifier inside a %-format statement
    return quote(name).replace("%", "%%")


def execute(session, built):
    """Run a ``(statement, params)`` pair built here on ``session``.

    :returns: the driver's result set.
    """
    statement, params = built
    if not params:
        # the driver formats only when given parameters; undo the %%
        return session.execute(statement % ())
    return session.execute(statement, params)


def validate_keyspace(name):
    """Check a keyspace name against Cassandra's own rule.

    :returns: ``name``.
    :raises InvalidIdentifier: not 1-48 letters, digits or underscores.
    """
    models.check_name("database", name, max_length=48)
    if not _KEYSPACE.match(name):
        raise exceptions.InvalidIdentifier(
            kind="database", value=name,
            reason="Cassandra keyspace names are 1 to 48 letters, digits "
            "or underscores")
    return name


def validate_role(name):
    """Check a role name (any printable text; it is always quoted).

    :returns: ``name``.
    :raises InvalidIdentifier: empty, over 128 characters, or holding
        control characters.
    """
    return models.check_name("user", name, max_length=128)


def _factor(where, value):
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value), 10)
    except (TypeError, ValueError):
        number = None
    if number is None or number < 0 or str(number) != str(value).strip():
        raise exceptions.BadRequest(
            reason="replication factor of %s must be a non-negative "
            "integer, got %r" % (where, value))
    return number


def validate_replication(replication):
    """Check a keyspace replication map.

    :param replication: ``{"class": "SimpleStrategy",
        "replication_factor": N}`` or ``{"class":
        "NetworkTopologyStrategy", "<data center>": N, ...}``.
    :returns: the map with the short class name and factors as strings,
        ready to bind.
    :raises BadRequest: an unknown class, a missing or bad factor, or a
        data center name that is not plain.
    """
    if not isinstance(replication, dict):
        raise exceptions.BadRequest(
            reason="keyspace replication must be a mapping, got %s"
            % type(replication).__name__)
    rest = dict(replication)
    klass = str(rest.pop("class", ""))
    if klass.startswith(_LOCATOR):
        klass = klass[len(_LOCATOR):]
    if klass not in _STRATEGIES:
        raise exceptions.BadRequest(
            reason="keyspace replication class must be one of %s, got %r"
            % (sorted(_STRATEGIES), replication.get("class")))
    if klass == "SimpleStrategy":
        if set(rest) != {"replication_factor"}:
            raise exceptions.BadRequest(
                reason="SimpleStrategy takes exactly 'replication_factor', "
                "got %s" % sorted(rest))
        factor = _factor("SimpleStrategy", rest["replication_factor"])
        if factor < 1:
            raise exceptions.BadRequest(
                reason="SimpleStrategy needs a replication_factor of at "
                "least 1")
        return {"class": klass, "replication_factor": str(factor)}
    if not rest:
        raise exceptions.BadRequest(
            reason="NetworkTopologyStrategy needs a factor per data "
            "center, e.g. {'dc1': 3}")
    result = {"class": klass}
    for dc, value in sorted(rest.items()):
        if not isinstance(dc, str) or not _DATA_CENTER.match(dc):
            raise exceptions.BadRequest(
                reason="data center name %r must be 1-64 letters, digits, "
                "'_', '.' or '-'" % (dc,))
        result[dc] = str(_factor("data center %r" % dc, value))
    if not any(int(v) for k, v in result.items() if k != "class"):
        raise exceptions.BadRequest(
            reason="NetworkTopologyStrategy needs a factor above 0 in at "
            "least one data center")
    return result


def create_keyspace(name, replication):
    """``CREATE KEYSPACE`` with a validated replication map."""
    return ("CREATE KEYSPACE %s WITH replication = %%s"
            % _ident(validate_keyspace(name)),
            (validate_replication(replication),))


def drop_keyspace(name):
    """``DROP KEYSPACE IF EXISTS``."""
    return ("DROP KEYSPACE IF EXISTS %s" % _ident(validate_keyspace(name)),
            ())


def list_keyspaces():
    """The names of every keyspace."""
    return ("SELECT keyspace_name FROM system_schema.keyspaces", ())


#: The first Cassandra release that takes ``WITH HASHED PASSWORD``
#: (CREATE/ALTER ROLE): older ones only take the plaintext, which then
#: lands in the audit and full query logs when those are on.
HASHED_PASSWORD_SINCE = (4, 1)
#: bcrypt's cost, as Cassandra's own default
#: (``-Dcassandra.auth_bcrypt_gensalt_log2_rounds``).
BCRYPT_ROUNDS = 10
# bcrypt reads at most this many bytes of a password (Cassandra too)
_BCRYPT_MAX = 72


def takes_hashed_passwords(versions):
    """Whether every engine version in ``versions`` (``"4.1"``,
    ``"5.0.2"``...) takes ``WITH HASHED PASSWORD``.

    :raises ValueError: a version that does not begin with numbers.
    """
    def parsed(version):
        match = re.match(r"^(\d+)(?:\.(\d+))?", str(version))
        if not match:
            raise ValueError("engine version %r is not numeric" % (version,))
        return int(match.group(1)), int(match.group(2) or 0)
    versions = list(versions)
    return bool(versions) and all(parsed(v) >= HASHED_PASSWORD_SINCE
                                  for v in versions)


def _check_password(name, password):
    if not password:
        raise exceptions.BadRequest(
            reason="Cassandra role %r needs a password" % name)
    if not isinstance(password, str):
        raise exceptions.BadRequest(
            reason="the password of Cassandra role %r must be a string, "
            "got %s" % (name, type(password).__name__))
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise exceptions.BadRequest(
            reason="the password of Cassandra role %r is not valid "
            "Unicode (a lone surrogate); send UTF-8 text" % name) from None


def hash_password(name, password):
    """The bcrypt hash (``$2a$``, Cassandra's format and cost) of the
    password of role ``name``, for ``WITH HASHED PASSWORD``.

    Like Cassandra's own hashing, only the first 72 bytes (UTF-8) of a
    longer password count.

    :raises BadRequest: no password, or one that is not UTF-8 text.
    """
    import bcrypt

    raw = _check_password(name, password)[:_BCRYPT_MAX]
    return bcrypt.hashpw(raw, bcrypt.gensalt(
        BCRYPT_ROUNDS, prefix=b"2a")).decode("ascii")


def create_role(name, password, superuser=False, hashed=True):
    """``CREATE ROLE`` that can log in.

    :param hashed: send a bcrypt hash of the password (``WITH HASHED
        PASSWORD``, Cassandra 4.1+), so the plaintext never reaches the
        server's audit or full query log; ``False`` for older servers,
        which get the password as a bound value.
    """
    validate_role(name)
    if hashed:
        return create_role_hashed(name, hash_password(name, password),
                                  superuser=superuser)
    _check_password(name, password)
    return ("CREATE ROLE %s WITH PASSWORD = %%s AND LOGIN = true "
            "AND SUPERUSER = %s"
            % (_ident(validate_role(name)), "true" if superuser else "false"),
            (password,))


def create_role_hashed(name, salted_hash, superuser=False):
    """``CREATE ROLE ... WITH HASHED PASSWORD`` (Cassandra 4.1+): a role
    that logs in with the password behind ``salted_hash``."""
    return ("CREATE ROLE %s WITH HASHED PASSWORD = %%s AND LOGIN = true "
            "AND SUPERUSER = %s" % (_ident(validate_role(name)),
                                    "true" if superuser else "false"),
            (salted_hash,))


def role_hash(name):
    """The stored password hash of one role."""
    return ("SELECT salted_hash FROM system_auth.roles WHERE role = %s",
            (validate_role(name),))


def alter_password(name, password, hashed=True):
    """``ALTER ROLE ... WITH [HASHED] PASSWORD``, bound (``hashed``: see
    :func:`create_role`)."""
    validate_role(name)
    if hashed:
        return ("ALTER ROLE %s WITH HASHED PASSWORD = %%s"
                % _ident(name), (hash_password(name, password),))
    _check_password(name, password)
    return ("ALTER ROLE %s WITH PASSWORD = %%s" % _ident(name),
            (password,))


def drop_role(name):
    """``DROP ROLE IF EXISTS``."""
    return "DROP ROLE IF EXISTS %s" % _ident(validate_role(name)), ()


def list_roles():
    """Every role with its flags."""
    return ("SELECT role, is_superuser, can_login FROM system_auth.roles",
            ())


def list_permissions():
    """Every permission of every role."""
    return ("SELECT role, resource, permissions "
            "FROM system_auth.role_permissions", ())


def grant_keyspace(role, keyspace):
    """The ``GRANT`` statements giving ``role`` use of ``keyspace``."""
    ks, who = _ident(validate_keyspace(keyspace)), _ident(validate_role(role))
    return [("GRANT %s ON KEYSPACE %s TO %s" % (perm, ks, who), ())
            for perm in KEYSPACE_PERMISSIONS]


def revoke_keyspace(role, keyspace):
    """``REVOKE ALL PERMISSIONS`` on ``keyspace`` from ``role``."""
    return ("REVOKE ALL PERMISSIONS ON KEYSPACE %s FROM %s"
            % (_ident(validate_keyspace(keyspace)),
               _ident(validate_role(role))), ())


def reset_superuser(name, salted_hash):
    """Write a superuser's password hash directly (a restored server
    started without authentication, where roles cannot be altered)."""
    return ("INSERT INTO system_auth.roles (role, can_login, is_superuser, "
            "salted_hash) VALUES (%s, true, true, %s)",
            (validate_role(name), salted_hash))


def keyspaces_of(resources):
    """The keyspace names in permission ``resources`` (``data/<ks>``);
    ``data`` alone (every keyspace) and table resources are skipped."""
    names = set()
    for resource in resources:
        parts = resource.split("/")
        if parts[0] == "data" and len(parts) == 2:
            names.add(parts[1])
    return sorted(names)
