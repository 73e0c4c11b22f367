"""MongoDB names, user command documents, and the admin client.

Trove names a MongoDB user ``<database>.<user>``: the account ``user``
defined in database ``database`` (its authentication database). A name
without a dot is an account of the ``admin`` database, and such accounts
are listed by their bare name (``admin.alice`` and ``alice`` are the same
account; a user part holding a dot keeps the ``admin.`` prefix). Access
to a database is the ``readWrite`` role on it.

Everything sent to the server is a command *document*: names and
passwords are values in it, never text spliced into a query, so a
hostile name can fail validation or name an odd account, never run
anything. The builders here are pure functions, tested without a server.

Passwords: MongoDB takes no pre-computed SCRAM-SHA-256 credential from a
client (``digestPassword`` must be true for it), so the password travels
inside ``createUser``/``updateUser`` over the guest's local connection
and the *server* digests it: only salted SCRAM-SHA-256 keys are stored
(``mechanisms`` names that one alone, so no SCRAM-SHA-1 key, an MD5 of
the password, is kept either). The server masks ``pwd`` in its own log
and profiler entries at every verbosity; the guest never logs a command
document with its ``pwd`` (:func:`redact_command`) and masks a password
an error would echo.
"""

import logging

from trove_core import exceptions
from trove_core import models

__all__ = ["MARKER_COLLECTION", "MongoAdmin", "access_roles", "check_password",
           "create_user_command", "databases_of", "drop_user_command",
           "grant_roles_command", "redact_command", "revoke_roles_command",
           "same_user",
           "split_user", "update_user_command", "user_name",
           "validate_database"]

LOG = logging.getLogger(__name__)

#: The collection ``create_database`` writes so the database exists:
#: MongoDB creates a database on its first write, as Trove relied on.
MARKER_COLLECTION = "dummy"

# names of the guest's secret files (not secrets themselves)
ADMIN_SECRET = "admin_password"  # noqa: S105
ROOT_SECRET = "root_password"  # noqa: S105

#: The database of accounts named without a database part.
AUTH_DATABASE = "admin"

#: The role that grants a user access to a database.
ACCESS_ROLE = "readWrite"

#: The only credential mechanism the guest creates: a salted,
#: server-side digest (SCRAM-SHA-1 would also store an MD5 of it).
MECHANISMS = ("SCRAM-SHA-256",)

# The characters MongoDB refuses in a database name (on every platform
# it runs on), per its documented limits.
_DB_FORBIDDEN = '/\\. "$*<>:|?'


def validate_database(name):
    """Check a MongoDB database name.

    :returns: ``name``.
    :raises InvalidIdentifier: empty, longer than 63 bytes (UTF-8), or
        holding a character MongoDB refuses.
    """
    models.check_name("database", name, max_length=63,
                      forbidden=_DB_FORBIDDEN, engine="MongoDB")
    if len(name.encode("utf-8")) > 63:
        raise exceptions.InvalidIdentifier(
            kind="database", value=name,
            reason="it is %d bytes long in UTF-8; MongoDB allows 63"
            % len(name.encode("utf-8")))
    return name


def split_user(name):
    """Split a Trove user name ``<database>.<user>`` (or a bare
    ``<user>`` of the ``admin`` database).

    :returns: ``(database, user)``.
    :raises InvalidIdentifier: an empty part, or a bad database part.
    """
    models.check_name("user", name, max_length=128)
    database, sep, user = name.partition(".")
    if not sep:
        return AUTH_DATABASE, name
    if not database or not user:
        raise exceptions.InvalidIdentifier(
            kind="user", value=name,
            reason="MongoDB user names are '<database>.<user>' (e.g. "
            "'mydb.alice') or a bare '<user>' of the admin database")
    validate_database(database)
    return database, user


def user_name(database, user):
    """The Trove name of account ``user`` of ``database``."""
    if database == AUTH_DATABASE and "." not in user:
        return user
    return "%s.%s" % (database, user)


def same_user(name, other):
    """Whether two Trove user names denote the same account."""
    try:
        return split_user(name) == split_user(other)
    except exceptions.InvalidIdentifier:
        return False


def access_roles(databases):
    """The roles giving access to each database name."""
    return [{"role": ACCESS_ROLE, "db": validate_database(db)}
            for db in databases]


def databases_of(roles):
    """The database names a role list gives ``readWrite`` on, sorted."""
    return sorted({r["db"] for r in roles
                   if r.get("role") == ACCESS_ROLE and r.get("db")})


def check_password(user, password):
    """Refuse a password SCRAM-SHA-256 cannot carry.

    The server and the drivers prepare passwords with SASLprep
    (RFC 4013), which prohibits control characters and a few others.

    :returns: ``password``.
    :raises BadRequest: it is empty or SASLprep prohibits it.
    """
    if not password:
        raise exceptions.BadRequest(
            reason="MongoDB user %r needs a password" % user)
    if not isinstance(password, str):
        raise exceptions.BadRequest(
            reason="the password of MongoDB user %r must be a string, got "
            "%s" % (user, type(password).__name__))
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise exceptions.BadRequest(
            reason="the password of MongoDB user %r is not valid Unicode "
            "(a lone surrogate); send UTF-8 text" % user) from None
    from pymongo import saslprep

    try:
        saslprep.saslprep(password)
    except ValueError:
        raise exceptions.BadRequest(
            reason="the password of MongoDB user %r holds characters "
            "SCRAM-SHA-256 refuses (control characters and others "
            "prohibited by SASLprep)" % user) from None
    return password


def create_user_command(user, password, roles):
    """The ``createUser`` command document (run in the user's
    database): the server digests the password into SCRAM-SHA-256
    credentials only."""
    return {"createUser": user, "pwd": check_password(user, password),
            "roles": list(roles), "mechanisms": list(MECHANISMS),
            "digestPassword": True}


def update_user_command(user, password=None, roles=None):
    """The ``updateUser`` command document; only given fields change (a
    new password gets SCRAM-SHA-256 credentials only)."""
    command = {"updateUser": user}
    if password is not None:
        command["pwd"] = check_password(user, password)
        command["mechanisms"] = list(MECHANISMS)
        command["digestPassword"] = True
    if roles is not None:
        command["roles"] = list(roles)
    return command


def redact_command(command):
    """A copy of a command document fit for a log line: ``pwd`` masked."""
    return {k: ("***" if k == "pwd" else v) for k, v in command.items()}


def drop_user_command(user):
    """The ``dropUser`` command document."""
    return {"dropUser": user}


def grant_roles_command(user, roles):
    """The ``grantRolesToUser`` command document."""
    return {"grantRolesToUser": user, "roles": list(roles)}


def revoke_roles_command(user, roles):
    """The ``revokeRolesFromUser`` command document."""
    return {"revokeRolesFromUser": user, "roles": list(roles)}


class MongoAdmin:
    """Administrative operations over one connected client.

    :param client: a ``pymongo.MongoClient`` authenticated with enough
        privilege (``root``), or a compatible client (mongomock in unit
        tests, which covers the database operations).
    """

    def __init__(self, client):
        self.client = client

    def _run(self, database, command):
        """Run ``command`` in ``database``; what is logged or raised never
        holds its password."""
        LOG.debug("running %s in %r", redact_command(command), database)
        try:
            return self.client[database].command(command)
        except Exception as exc:
            secret = command.get("pwd")
            if secret and secret in str(exc):
                raise exceptions.DatastoreError(
                    operation=next(iter(command)),
                    reason=str(exc).replace(secret, "***")) from None
            raise

    # -- databases ---------------------------------------------------------

    def database_names(self):
        """Every database name on the server."""
        return list(self.client.list_database_names())

    def create_database(self, name):
        """Create database ``name`` by writing its marker collection."""
        validate_database(name)
        self.client[name][MARKER_COLLECTION].update_one(
            {"_id": "trove"}, {"$set": {"dummy": True}}, upsert=True)

    def drop_database(self, name):
        """Drop database ``name`` (a missing one is not an error)."""
        validate_database(name)
        self.client.drop_database(name)

    # -- users -------------------------------------------------------------

    def users(self):
        """Every user record (``user``, ``db``, ``roles``) of the server."""
        reply = self.client.admin.command({"usersInfo": {"forAllDBs": True}})
        return list(reply.get("users", ()))

    def find_user(self, name):
        """The record of Trove user ``name``, or ``None``."""
        database, user = split_user(name)
        reply = self.client[database].command({"usersInfo": user})
        found = reply.get("users", ())
        return found[0] if found else None

    def create_user(self, name, password, roles):
        """Create Trove user ``name`` with ``roles``."""
        database, user = split_user(name)
        LOG.debug("creating MongoDB user %s", name)
        self._run(database, create_user_command(user, password, roles))

    def update_user(self, name, password=None, roles=None):
        """Change the password and/or the roles of user ``name``."""
        database, user = split_user(name)
        self._run(database, update_user_command(user, password, roles))

    def drop_user(self, name):
        """Drop Trove user ``name``."""
        database, user = split_user(name)
        self._run(database, drop_user_command(user))

    def copy_user(self, name, new_name):
        """Create ``new_name`` with the roles and the password of
        ``name``, without knowing the password.

        ``createUser`` needs a clear password, so the stored SCRAM-SHA-256
        credentials are carried over the way mongorestore restores
        accounts (``_mergeAuthzCollections``). SCRAM-SHA-1 credentials
        depend on the user name and are left behind.

        :raises NotFound: ``name`` does not exist.
        :raises BadRequest: ``name`` has no SCRAM-SHA-256 credentials.
        :raises DatastoreError: the server did not create ``new_name``.
        """
        import uuid

        import bson

        database, user = split_user(name)
        new_db, new_user = split_user(new_name)
        users = self.client[AUTH_DATABASE]["system.users"]
        record = users.find_one({"user": user, "db": database})
        if record is None:
            raise exceptions.NotFound(kind="user", name=name)
        credentials = {k: v for k, v in record.get("credentials", {}).items()
                       if k == "SCRAM-SHA-256"}
        if not credentials:
            raise exceptions.BadRequest(
                reason="user %r has no SCRAM-SHA-256 credentials to carry "
                "over; give a password to rename it" % name)
        temp = "trove_rename_%s" % uuid.uuid4().hex
        collection = self.client[AUTH_DATABASE][temp]
        collection.insert_one({
            "_id": "%s.%s" % (new_db, new_user),
            "userId": bson.Binary.from_uuid(uuid.uuid4()),
            "user": new_user, "db": new_db, "credentials": credentials,
            "roles": record.get("roles", [])})
        try:
            self.client.admin.command({
                "_mergeAuthzCollections": 1,
                "tempUsersCollection": "%s.%s" % (AUTH_DATABASE, temp),
                "db": "", "drop": False})
        finally:
            collection.drop()
        # the server only logs a user it could not insert
        if self.find_user(new_name) is None:
            raise exceptions.DatastoreError(
                operation="update_attributes",
                reason="the server did not create %r from %r; %r is kept "
                "(give a password to rename it)" % (new_name, name, name))

    def grant(self, name, roles):
        """Add ``roles`` to user ``name``."""
        database, user = split_user(name)
        self._run(database, grant_roles_command(user, roles))

    def revoke(self, name, roles):
        """Remove ``roles`` from user ``name``."""
        database, user = split_user(name)
        self._run(database, revoke_roles_command(user, roles))

    # -- server ------------------------------------------------------------

    def set_parameters(self, values):
        """Run ``setParameter`` with each ``name: value`` given."""
        if values:
            self.client.admin.command(dict({"setParameter": 1}, **values))

    def ping(self):
        """Whether the server answers (raises when it does not)."""
        return self.client.admin.command("ping").get("ok") == 1
