"""Trove users, databases and access mapped onto Redis ACLs.

The mapping (see the plugin's README):

* a Trove user is a Redis ACL user; Redis has no client hosts, so the
  only host accepted is ``%`` (any);
* a Trove "database" a user may reach is a key namespace: access to
  ``app`` is the ACL key pattern ``~app:*`` plus the Pub/Sub channel
  pattern ``&app:*``. Numbered databases (``SELECT n``) are not an access
  boundary in Redis, so they are not Trove databases;
* every user may run the non-administrative commands
  (``+@all -@admin -@dangerous``) on the keys it was granted.

Names become arguments of ``ACL SETUSER``, where a leading ``>`` ``<``
``~`` ``%`` ``&`` ``+`` ``-`` ``#`` ``!`` or ``=`` would read as a rule, so
names are checked against a strict pattern here before any command is
built, and each rule is built from checked parts only.
"""

import re

from trove_core import exceptions
from trove_core import models

__all__ = ["USER_COMMANDS", "access_rules", "check_database_name",
           "check_host", "check_password", "check_user_name",
           "databases_of", "user_rules"]

#: Command rules of every user the guest creates.
USER_COMMANDS = ("+@all", "-@admin", "-@dangerous")

_USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_KEY_PATTERN = re.compile(r"~([A-Za-z0-9_][A-Za-z0-9_.-]{0,63}):\*")


def check_user_name(name, reserved=()):
    """Return ``name`` if it is a safe Redis ACL user name.

    :param reserved: names the guest keeps for itself.
    :raises InvalidIdentifier: it is empty, too long, starts with a rule
        character, holds a space or anything outside ``[A-Za-z0-9_.@-]``,
        or is reserved.
    """
    models.check_name("user", name)
    if not _USER_NAME.fullmatch(name):
        raise exceptions.InvalidIdentifier(
            kind="user", value=name,
            reason="Redis user names here are 1-64 characters of letters,"
            " digits, '_', '.', '@' and '-', starting with a letter, digit "
            "or '_' (anything else could be read as an ACL rule)")
    if name in reserved:
        raise exceptions.InvalidIdentifier(
            kind="user", value=name,
            reason="it is reserved for the guest agent or the superuser")
    return name


def check_database_name(name):
    """Return ``name`` if it can be a key namespace (``name:*``).

    :raises InvalidIdentifier: it holds glob characters, spaces, ``:`` or
        anything outside ``[A-Za-z0-9_.-]``.
    """
    models.check_name("database", name)
    if not _DATABASE_NAME.fullmatch(name):
        raise exceptions.InvalidIdentifier(
            kind="database", value=name,
            reason="a Redis database here is a key namespace 'name:*'; "
            "use 1-64 letters, digits, '_', '.' or '-' (no glob "
            "characters, spaces or ':')")
    return name


def check_host(host):
    """Accept only ``%`` (or ``None``): Redis users have no host.

    :raises InvalidIdentifier: any other host.
    """
    if host not in (None, "%"):
        raise exceptions.InvalidIdentifier(
            kind="host", value=host,
            reason="Redis ACL users cannot be limited by client host; use "
            "'%'")
    return "%"


def check_password(password, what="user"):
    """Return ``password`` if Redis can take it as one ``>`` rule.

    :raises BadRequest: it is missing, empty or holds a NUL or line break.
    """
    if not isinstance(password, str) or not password:
        raise exceptions.BadRequest(
            reason="a password is required for Redis %s" % what)
    if any(c in password for c in "\x00\r\n"):
        raise exceptions.BadRequest(
            reason="a Redis password may not hold NUL or line breaks")
    return password


def access_rules(database_names):
    """Return the key and channel patterns granting ``database_names``."""
    rules = []
    for name in database_names:
        check_database_name(name)
        rules.extend(("~%s:*" % name, "&%s:*" % name))
    return rules


def password_rule(password):
    """The ``ACL SETUSER`` rule setting ``password`` by its SHA-256
    (``#<hex>``): the plaintext is never sent, so no log, monitor or
    file of the server can hold it."""
    import hashlib

    return "#" + hashlib.sha256(password.encode("utf-8")).hexdigest()


def user_rules(password, database_names=()):
    """Return the ``ACL SETUSER`` rules of a new user (after the name)."""
    check_password(password)
    return (["reset", "on", password_rule(password), *USER_COMMANDS]
            + access_rules(database_names))


def databases_of(acl_user):
    """Return the database names an ``ACL GETUSER`` reply grants.

    Key patterns other than ``name:*`` (set outside the guest) are not
    Trove databases and are left out.
    """
    keys = acl_user.get("keys") or ""
    if isinstance(keys, (list, tuple)):
        keys = " ".join(keys)
    return sorted({m.group(1) for m in (_KEY_PATTERN.fullmatch(tok)
                                        for tok in keys.split()) if m})
