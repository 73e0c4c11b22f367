"""MySQL identifiers: validation, quoting and grant-pattern escaping.

Names reach SQL in one of two ways only: database names as backtick-quoted
identifiers (:func:`quote`), user and host names as string values passed
to PyMySQL as query parameters. Both are validated first, so a name is
refused with a message rather than interpreted.
"""

import hashlib
import re

from trove_core import exceptions
from trove_core import models

__all__ = ["DB_NAME_MAX", "HOST_MAX", "check_database", "check_host",
           "check_grantable", "check_user", "grant_pattern", "identified",
           "literal", "quote",
           "unescape_pattern", "user_name_max"]

DB_NAME_MAX = 64
HOST_MAX = 255
_MARIADB_USER_MAX = 80
_MYSQL_USER_MAX = 32

_DB_FORBIDDEN = "/\\."
_USER_CHARS = re.compile(r"^[A-Za-z0-9_.$#-]+$")
_HOST_CHARS = re.compile(r"^[A-Za-z0-9%_.:/-]+$")


def user_name_max(is_mariadb=True):
    """The longest user name the server accepts (MariaDB 80, MySQL 32)."""
    return _MARIADB_USER_MAX if is_mariadb else _MYSQL_USER_MAX


def _check_bmp(kind, name):
    if any(ord(c) > 0xFFFF for c in name):
        raise exceptions.InvalidIdentifier(
            kind=kind, value=name, reason="MySQL identifiers hold only "
            "characters of the Basic Multilingual Plane (no emoji)")


def check_database(name):
    """Validate a database name.

    :param name: the candidate name.
    :returns: ``name``.
    :raises InvalidIdentifier: longer than 64 characters, ending in a
        space, holding ``/``, ``\\`` or ``.`` (MySQL maps database
        names to directories) or characters outside the BMP.
    """
    models.check_name("database", name, max_length=DB_NAME_MAX,
                      forbidden=_DB_FORBIDDEN, engine="MySQL")
    _check_bmp("database", name)
    if name.endswith(" "):
        raise exceptions.InvalidIdentifier(
            kind="database", value=name, reason="it ends with a space")
    return name


def check_user(name, is_mariadb=True):
    """Validate a user name.

    :param name: the candidate name.
    :param is_mariadb: whether the server is MariaDB (longer names).
    :returns: ``name``.
    :raises InvalidIdentifier: too long or holding a character outside
        letters, digits and ``_ . $ # -``.
    """
    models.check_name("user", name, max_length=user_name_max(is_mariadb))
    if not _USER_CHARS.match(name):
        raise exceptions.InvalidIdentifier(
            kind="user", value=name, reason="use only letters, digits "
            "and _ . $ # -")
    return name


def check_host(host):
    """Validate a host pattern (``%``, a name, an address, ``a.b.%``,
    ``10.0.0.0/255.0.0.0``).

    :returns: ``host``.
    :raises InvalidIdentifier: empty, too long or holding a character
        outside letters, digits and ``% _ . : / -``.
    """
    models.check_name("host", host, max_length=HOST_MAX)
    if not _HOST_CHARS.match(host):
        raise exceptions.InvalidIdentifier(
            kind="host", value=host, reason="use a host name, an IP "
            "address or a pattern of letters, digits and % _ . : / -")
    return host


def check_grantable(name):
    """Refuse a database name whose escaped grant pattern (see
    :func:`grant_pattern`) would be longer than the 64 characters a
    grant can name: such a database could be created but never granted.

    :raises InvalidIdentifier: the escaped name is too long.
    """
    escaped = len(grant_pattern(name)) - 2
    if escaped > DB_NAME_MAX:
        raise exceptions.InvalidIdentifier(
            kind="database", value=name, reason="granting it needs %d "
            "characters ('_', '%%' and '\\' count twice in a grant) but a "
            "grant names at most %d; use a shorter name or fewer of those "
            "characters" % (escaped, DB_NAME_MAX))
    return name


def identified(password, is_mariadb=True):
    """The ``IDENTIFIED ...`` clause setting ``password`` and its one
    parameter.

    MariaDB is sent the password's hash (``IDENTIFIED BY PASSWORD
    '*...'``) so the plaintext never reaches the binary or general log
    (MySQL rewrites the plaintext itself, so it gets the password).

    :returns: ``(clause, value)``; the clause has one ``%s``.
    """
    if not is_mariadb:
        return "IDENTIFIED BY %s", password
    inner = hashlib.sha1(password.encode("utf-8")).digest()  # noqa: S324
    return ("IDENTIFIED BY PASSWORD %s",
            "*" + hashlib.sha1(inner).hexdigest().upper())  # noqa: S324


def quote(identifier):
    """Return ``identifier`` quoted with backticks (inner ones doubled)."""
    return "`%s`" % identifier.replace("`", "``")


def grant_pattern(database):
    """Return the quoted grant target for exactly ``database``.

    ``GRANT ... ON `a_b`.*`` would also match ``aXb``: in grants ``_`` and
    ``%`` are wildcards, so they are escaped.
    """
    escaped = (database.replace("\\", "\\\\").replace("_", "\\_")
               .replace("%", "\\%"))
    return quote(escaped)


def unescape_pattern(pattern):
    """Invert :func:`grant_pattern`'s escaping of a ``mysql.db`` entry."""
    out, escape = [], False
    for char in pattern:
        if escape:
            out.append(char)
            escape = False
        elif char == "\\":
            escape = True
        else:
            out.append(char)
    return "".join(out)


def literal(fragment):
    """Protect ``%`` in a quoted identifier from PyMySQL's parameter
    formatting, for statements that also take parameters."""
    return fragment.replace("%", "%%")
