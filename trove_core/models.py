"""Typed guest payloads and their Trove wire shapes.

Trove serializes a database as ``{"_name", "_character_set", "_collate"}``
and a user as ``{"_name", "_password", "_host", "_databases",
"_is_root"}``. The RPC layer turns those dicts into the frozen models here
(rejecting wrong types with :class:`~trove_core.exceptions.BadRequest`)
before a manager sees them, and turns results back into dicts.
"""

import dataclasses
import re

from trove_core import exceptions

__all__ = ["Database", "GUEST_ID_RE", "User", "check_guest_id", "check_name",
           "paginate"]

#: A guest (instance) id: what a topic, a broker user and a key file are
#: named after. No dot (it would name another topic) and no underscore
#: (guest ``x_fanout`` would own the fanout names of guest ``x``).
GUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,127}$")


def check_guest_id(guest_id, kind="guest id"):
    """Return ``guest_id`` when it is a valid guest (instance) id.

    :raises InvalidIdentifier: empty, too long, or holding characters
        other than letters, digits and ``-`` (an instance UUID fits).
    """
    if not isinstance(guest_id, str) or not GUEST_ID_RE.match(guest_id):
        raise exceptions.InvalidIdentifier(
            kind=kind, value=guest_id,
            reason="use 1-128 letters, digits or '-' (an instance UUID), "
            "as [DEFAULT] guest_id in guest_info.conf")
    return guest_id


#: Characters no datastore accepts in a name, whatever its quoting.
_FORBIDDEN = {"\x00": "NUL byte"}


def check_name(kind, value, max_length=64, allow_empty=False,
               forbidden="", engine=None):
    """Apply the checks every datastore shares to an identifier.

    Datastores add their own rules on top (see their ``validate_*``);
    the commonest, characters the engine refuses, is ``forbidden``.

    :param kind: what the name is, for the message (``database``, ...).
    :param value: the candidate name.
    :param max_length: the longest accepted name, in characters.
    :param forbidden: characters the datastore refuses in this kind of
        name; all of those present are named in the error.
    :param engine: the datastore's name for that error (``MySQL``).
    :returns: ``value`` unchanged.
    :raises InvalidIdentifier: not a string, empty, too long, or holding
        a character no datastore (or this one) accepts.
    """
    if not isinstance(value, str):
        raise exceptions.InvalidIdentifier(
            kind=kind, value=value,
            reason="expected a string, got %s" % type(value).__name__)
    if not value and not allow_empty:
        raise exceptions.InvalidIdentifier(
            kind=kind, value=value, reason="it is empty")
    if len(value) > max_length:
        raise exceptions.InvalidIdentifier(
            kind=kind, value=value,
            reason="it is %d characters long; the limit is %d"
            % (len(value), max_length))
    for char, label in _FORBIDDEN.items():
        if char in value:
            raise exceptions.InvalidIdentifier(
                kind=kind, value=value, reason="it contains a %s" % label)
    if not value.isprintable():
        raise exceptions.InvalidIdentifier(
            kind=kind, value=value,
            reason="it contains control or unprintable characters")
    bad = sorted({char for char in value if char in forbidden})
    if bad:
        raise exceptions.InvalidIdentifier(
            kind=kind, value=value, reason="it contains %s; %s %s names "
            "cannot contain %s" % (" ".join(repr(c) for c in bad),
                                   engine or "the datastore's", kind,
                                   " ".join(repr(c) for c in forbidden)))
    return value


def _field(payload, key, types, what, required=False, default=None):
    if key not in payload or payload[key] is None:
        if required:
            raise exceptions.BadRequest(
                reason="%s is missing %r" % (what, key))
        return default
    value = payload[key]
    if not isinstance(value, types):
        names = (types.__name__ if isinstance(types, type)
                 else " or ".join(t.__name__ for t in types))
        raise exceptions.BadRequest(
            reason="%s field %r must be %s, got %s"
            % (what, key, names, type(value).__name__))
    return value


def _mapping(payload, what):
    if not isinstance(payload, dict):
        raise exceptions.BadRequest(
            reason="%s must be a mapping, got %s"
            % (what, type(payload).__name__))
    return {k.lstrip("_") if isinstance(k, str) else k: v
            for k, v in payload.items()}


@dataclasses.dataclass(frozen=True)
class Database:
    """A logical database.

    :param name: its name, exactly as stored.
    :param character_set: the default character set, if the datastore
        has one.
    :param collate: the default collation, if the datastore has one.
    """

    name: str
    character_set: str = None
    collate: str = None

    @classmethod
    def from_trove(cls, payload):
        """Build from Trove's dict (``_name`` or ``name`` keys) or a bare
        name string.

        :raises BadRequest: a field has the wrong type or is missing.
        """
        if isinstance(payload, str):
            return cls(name=payload)
        data = _mapping(payload, "a database")
        return cls(
            name=_field(data, "name", str, "a database", required=True),
            character_set=_field(data, "character_set", str, "a database"),
            collate=_field(data, "collate", str, "a database"))

    def to_trove(self):
        """Return Trove's wire dict for this database."""
        return {"_name": self.name, "_character_set": self.character_set,
                "_collate": self.collate}


@dataclasses.dataclass(frozen=True)
class User:
    """A datastore account.

    :param name: the user name.
    :param host: the host it may connect from (``%`` for any), where the
        datastore has hosts.
    :param password: the password; never logged (``repr`` hides it).
    :param databases: the databases it may reach.
    :param is_root: whether it is the superuser.
    """

    name: str
    host: str = "%"
    password: str = dataclasses.field(default=None, repr=False)
    databases: tuple = ()
    is_root: bool = False

    @classmethod
    def from_trove(cls, payload):
        """Build from Trove's dict (``_name`` or ``name`` keys).

        :raises BadRequest: a field has the wrong type or is missing.
        """
        data = _mapping(payload, "a user")
        dbs = _field(data, "databases", (list, tuple), "a user",
                     default=())
        return cls(
            name=_field(data, "name", str, "a user", required=True),
            host=_field(data, "host", str, "a user", default="%"),
            password=_field(data, "password", str, "a user"),
            databases=tuple(Database.from_trove(d) for d in dbs),
            is_root=bool(_field(data, "is_root", bool, "a user",
                                default=False)))

    @property
    def key(self):
        """``name@host``, the identity Trove pages users by."""
        return "%s@%s" % (self.name, self.host)

    def to_trove(self, with_password=False):
        """Return Trove's wire dict; the password only when asked."""
        return {"_name": self.name, "_host": self.host,
                "_password": self.password if with_password else None,
                "_databases": [d.to_trove() for d in self.databases],
                "_is_root": self.is_root}


def paginate(items, limit=None, marker=None, include_marker=False,
             key=lambda item: item.name):
    """Page ``items`` by name the way Trove's guest does.

    :param items: the whole collection.
    :param limit: the page size; ``None`` for everything.
    :param marker: the key the previous page ended on.
    :param include_marker: whether the item equal to ``marker`` is kept.
    :returns: ``(page, next_marker)``; ``next_marker`` is ``None`` on the
        last page.
    :raises BadRequest: ``limit`` is not a positive integer.
    """
    if limit is not None and (isinstance(limit, bool)
                              or not isinstance(limit, int) or limit < 1):
        raise exceptions.BadRequest(
            reason="limit must be a positive integer, got %r" % (limit,))
    ordered = sorted(items, key=key)
    if marker is not None:
        ordered = [i for i in ordered
                   if key(i) > marker or (include_marker
                                          and key(i) == marker)]
    if limit is None or len(ordered) <= limit:
        return ordered, None
    page = ordered[:limit]
    return page, key(page[-1])
