"""The fake datastore "server": a tiny engine whose data is one JSON file.

It behaves like a real datastore from the outside, so the conformance
kit can check effects without trusting the guest code: clients log in
with a user name and password, privileges are enforced, names are stored
exactly as given (never interpreted), configuration variables follow a
small schema, writes carry a transaction counter that a replica follows,
and a general log records statements when it is enabled.

Layout of a data directory::

    fake-data.json      every database, user, grant, marker and variable
    fake.conf           base configuration, ``key value`` lines
    fake-overrides.json configuration overrides applied at start
    fake.pid            present while the server "runs"
    general.log         the general log, when enabled

Nothing here is fast or concurrent-safe across processes; it is a test
double with real semantics, not a database.
"""

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
import uuid

from trove_core import configuration
from trove_core import exceptions
from trove_guest_base import configfile
from trove_guest_base import files

__all__ = ["ADMIN_USER", "ENGINE", "FakeClient", "FakeServer",
           "SYSTEM_DATABASE", "VERSION", "check_overrides", "load_schema"]

LOG = logging.getLogger(__name__)

ENGINE = "fake"
VERSION = "1.0"
ADMIN_USER = "os_admin"
SYSTEM_DATABASE = "fake_system"
FORMAT = 1


def load_schema():
    """Return the configuration variables' schema, shipped as
    ``data/validation-rules.json`` (see :mod:`trove_core.configuration`):
    dynamic variables change on a running server, the others need a
    restart; each has a ``default``."""
    return configuration.load_schema(__package__)


def check_overrides(overrides):
    """Validate configuration ``overrides`` against :func:`load_schema`.

    :param overrides: a mapping of parameter name to value.
    :returns: the values, converted.
    :raises BadRequest: ``overrides`` is not a mapping.
    :raises InvalidConfiguration: an unknown name or a bad value.
    """
    return load_schema().validate(overrides)


def _hash(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"),
                               bytes.fromhex(salt), 1000).hex()


def _error(operation, reason):
    return exceptions.DatastoreError(operation=operation, reason=reason)


class FakeServer:
    """One fake datastore server living in ``data_dir``.

    :param data_dir: its data directory (created on :meth:`initialize`).
    """

    def __init__(self, data_dir):
        self.data_dir = os.fspath(data_dir)
        self.data_path = os.path.join(self.data_dir, "fake-data.json")
        self.config_path = os.path.join(self.data_dir, "fake.conf")
        self.overrides_path = os.path.join(self.data_dir,
                                           "fake-overrides.json")
        self.pid_path = os.path.join(self.data_dir, "fake.pid")
        self.log_path = os.path.join(self.data_dir, "general.log")

    # -- files ---------------------------------------------------------

    @property
    def initialized(self):
        """Whether the data directory holds data."""
        return os.path.exists(self.data_path)

    @property
    def running(self):
        """Whether the server "process" is up."""
        return os.path.exists(self.pid_path)

    def load(self):
        """Return the stored data, following the primary when replicating.

        :raises DatastoreError: the data directory is not initialized.
        """
        try:
            with open(self.data_path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise _error("load", "data directory %r is not initialized"
                         % self.data_dir) from None
        source = data.get("source")
        if source and data.get("running_variables") is not None:
            data = self._follow(data, source)
        return data

    def _follow(self, data, source):
        primary = FakeServer(source)
        if not primary.running:
            return data
        with open(primary.data_path, encoding="utf-8") as handle:
            upstream = json.load(handle)
        if upstream["txn"] > data["txn"]:
            for key in ("databases", "grants", "markers", "txn"):
                data[key] = upstream[key]
            # the replica keeps its own admin account, like Trove's
            # replicas keep their own os_admin password
            data["users"] = (
                [u for u in data["users"] if u["admin"]]
                + [u for u in upstream["users"] if not u["admin"]])
            data["source_id"] = upstream["server_id"]
            self.save(data)
        return data

    def save(self, data):
        """Atomically replace the stored data."""
        files.atomic_write(self.data_path,
                           json.dumps(data, sort_keys=True, indent=1),
                           mode=0o600)

    def initialize(self, admin_password):
        """Create an empty data directory with its admin account, like
        ``mysql_install_db`` does.

        :param admin_password: the password of :data:`ADMIN_USER`.
        """
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        data = {"format": FORMAT, "server_id": uuid.uuid4().hex,
                "txn": 0, "databases": {SYSTEM_DATABASE: {}}, "users": [],
                "grants": [], "markers": {}, "source": None,
                "source_id": None, "read_only": False,
                "general_log": False, "running_variables": None}
        self.save(data)
        self.reset_admin(admin_password)

    def reset_admin(self, admin_password):
        """Set the admin password offline and take a new server id (after
        a restore the data comes from another server)."""
        data = self.load()
        data["users"] = [u for u in data["users"]
                         if u["name"] != ADMIN_USER]
        data["users"].append(self._user_record(ADMIN_USER, "localhost",
                                               admin_password, admin=True))
        data["server_id"] = uuid.uuid4().hex
        data["source"] = None
        self.save(data)

    @staticmethod
    def _user_record(name, host, password, admin=False, is_root=False):
        salt = secrets.token_hex(8)
        return {"name": name, "host": host, "salt": salt,
                "hash": _hash(password, salt), "admin": admin,
                "is_root": is_root}

    # -- process -------------------------------------------------------

    def start(self):
        """Start serving: read the configuration, then the overrides."""
        data = self.load()
        variables = {name: parameter.default
                     for name, parameter in load_schema().items()}
        with contextlib.suppress(FileNotFoundError):
            with open(self.config_path, encoding="utf-8") as handle:
                base = configfile.KeyValueConfig.parse(handle.read())
            variables.update(check_overrides(dict(base.items)))
        variables.update(self.stored_overrides())
        data["running_variables"] = variables
        self.save(data)
        files.atomic_write(self.pid_path, str(os.getpid()), mode=0o600)
        LOG.debug("fake server in %s started", self.data_dir)

    def stop(self):
        """Stop serving."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pid_path)
        if self.initialized:
            data = self.load()
            data["running_variables"] = None
            self.save(data)

    def stored_overrides(self):
        """The overrides applied at start."""
        try:
            with open(self.overrides_path, encoding="utf-8") as handle:
                return check_overrides(json.load(handle))
        except FileNotFoundError:
            return {}

    def client(self, user, password, host="localhost", database=None):
        """Connect as ``user``; see :class:`FakeClient`."""
        return FakeClient(self, user, password, host, database)


def _user_matches(record, name, host):
    return record["name"] == name and (
        record["host"] == host or record["host"] == "%")


class FakeClient:
    """A session on a running :class:`FakeServer`, authenticated.

    :param server: the server.
    :param user: the account name.
    :param password: its password.
    :param host: the host the client connects from; an account for
        ``%`` matches every host.
    :param database: the database to use; the account needs a grant on
        it unless it is an admin or root.
    :raises DatastoreError: the server is down, the login is refused or
        the database is not reachable.
    """

    def __init__(self, server, user, password, host="localhost",
                 database=None):
        self.server = server
        if not server.running:
            raise _error("connect", "the server in %r is not running"
                         % server.data_dir)
        data = server.load()
        record = self._authenticate(data, user, password, host)
        self.user, self.host = record["name"], record["host"]
        self.privileged = record["admin"] or record["is_root"]
        self.database = database
        if database is not None:
            self._check_database(data, database)

    @staticmethod
    def _authenticate(data, user, password, host):
        for record in data["users"]:
            if (_user_matches(record, user, host)
                    and isinstance(password, str)
                    and hmac.compare_digest(
                        record["hash"], _hash(password, record["salt"]))):
                return record
        raise _error("connect", "access denied for user %r" % (user,))

    def _check_database(self, data, database):
        if database not in data["databases"]:
            raise _error("use", "unknown database %r" % (database,))
        if not self.privileged and [self.user, self.host, database] \
                not in data["grants"]:
            raise _error("use", "user %r has no access to database %r"
                         % (self.user, database))

    # -- plumbing ------------------------------------------------------

    def _read(self):
        if not self.server.running:
            raise _error("query", "the server is not running")
        return self.server.load()

    def _write(self, statement, change, admin=True):
        data = self._read()
        if admin and not self.privileged:
            raise _error(statement, "user %r lacks the privilege"
                         % self.user)
        if data["read_only"] and statement != "read_only":
            raise _error(statement, "the server is read-only")
        change(data)
        data["txn"] += 1
        self.server.save(data)
        if data.get("general_log"):
            line = json.dumps({"t": time.time(), "user": self.user,
                               "statement": statement})
            with open(self.server.log_path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
        return data

    # -- databases -----------------------------------------------------

    def databases(self):
        """Return ``{name: {"character_set", "collate"}}``."""
        return dict(self._read()["databases"])

    def create_database(self, name, character_set=None, collate=None):
        """Create database ``name`` (exactly that string)."""
        def change(data):
            if name in data["databases"]:
                raise _error("create_database",
                             "database %r exists" % (name,))
            data["databases"][name] = {"character_set": character_set,
                                       "collate": collate}
        self._write("create_database", change)

    def drop_database(self, name):
        """Drop database ``name`` and its data and grants."""
        def change(data):
            if name not in data["databases"]:
                raise exceptions.NotFound(kind="database", name=name)
            del data["databases"][name]
            data["markers"].pop(name, None)
            data["grants"] = [g for g in data["grants"] if g[2] != name]
        self._write("drop_database", change)

    # -- users ---------------------------------------------------------

    def users(self):
        """Return the account records (without secrets)."""
        return [{k: u[k] for k in ("name", "host", "admin", "is_root")}
                for u in self._read()["users"]]

    def _find(self, data, name, host):
        for record in data["users"]:
            if record["name"] == name and record["host"] == host:
                return record
        raise exceptions.NotFound(kind="user", name="%s@%s" % (name, host))

    def create_user(self, name, host, password, is_root=False):
        """Create account ``name``@``host``."""
        def change(data):
            if any(u["name"] == name and u["host"] == host
                   for u in data["users"]):
                raise _error("create_user", "user %r@%r exists"
                             % (name, host))
            data["users"].append(FakeServer._user_record(
                name, host, password, is_root=is_root))
        self._write("create_user", change)

    def drop_user(self, name, host):
        """Drop account ``name``@``host`` and its grants."""
        def change(data):
            record = self._find(data, name, host)
            data["users"].remove(record)
            data["grants"] = [g for g in data["grants"]
                              if g[:2] != [name, host]]
        self._write("drop_user", change)

    def set_password(self, name, host, password):
        """Change an account's password."""
        def change(data):
            record = self._find(data, name, host)
            record.update(FakeServer._user_record(
                name, host, password, record["admin"], record["is_root"]))
        self._write("set_password", change)

    def rename_user(self, name, host, new_name, new_host):
        """Rename an account, keeping its grants."""
        def change(data):
            record = self._find(data, name, host)
            if (new_name, new_host) != (name, host) and any(
                    u["name"] == new_name and u["host"] == new_host
                    for u in data["users"]):
                raise _error("rename_user", "user %r@%r exists"
                             % (new_name, new_host))
            record["name"], record["host"] = new_name, new_host
            for grant in data["grants"]:
                if grant[:2] == [name, host]:
                    grant[:2] = [new_name, new_host]
        self._write("rename_user", change)

    # -- grants --------------------------------------------------------

    def grants(self, name, host):
        """Return the database names ``name``@``host`` may use."""
        data = self._read()
        self._find(data, name, host)
        return sorted(g[2] for g in data["grants"] if g[:2] == [name, host])

    def grant(self, name, host, database):
        """Let ``name``@``host`` use ``database``."""
        def change(data):
            self._find(data, name, host)
            if database not in data["databases"]:
                raise exceptions.NotFound(kind="database", name=database)
            if [name, host, database] not in data["grants"]:
                data["grants"].append([name, host, database])
        self._write("grant", change)

    def revoke(self, name, host, database):
        """Stop ``name``@``host`` from using ``database``."""
        def change(data):
            self._find(data, name, host)
            with contextlib.suppress(ValueError):
                data["grants"].remove([name, host, database])
        self._write("revoke", change)

    # -- data ----------------------------------------------------------

    def put(self, key, value):
        """Store ``value`` under ``key`` in the current database."""
        database = self._current()

        def change(data):
            if database not in data["databases"]:
                raise _error("put", "unknown database %r" % (database,))
            data["markers"].setdefault(database, {})[key] = value
        self._write("put", change, admin=False)

    def get(self, key):
        """Return the value under ``key`` in the current database."""
        data = self._read()
        return data["markers"].get(self._current(), {}).get(key)

    def _current(self):
        if self.database is None:
            raise _error("query", "no database selected")
        return self.database

    # -- server --------------------------------------------------------

    def variables(self):
        """Return the running configuration variables."""
        return dict(self._read()["running_variables"] or {})

    def set_variable(self, name, value):
        """Change a dynamic variable on the running server."""
        checked = check_overrides({name: value})[name]
        if not load_schema()[name].dynamic:
            raise _error("set_variable", "variable %r is read-only while "
                         "the server runs" % name)

        def change(data):
            data["running_variables"][name] = checked
        self._write("set_variable", change)

    def status(self):
        """Return ``{"server_id", "txn", "read_only", "source",
        "source_id", "general_log"}``."""
        data = self._read()
        return {k: data.get(k) for k in ("server_id", "txn", "read_only",
                                         "source", "source_id",
                                         "general_log")}

    def set_server(self, **fields):
        """Change server fields (``read_only``, ``source``,
        ``general_log``); admin only."""
        allowed = {"read_only", "source", "general_log"}
        unknown = set(fields) - allowed
        if unknown:
            raise exceptions.BadRequest(reason="unknown server fields %s"
                                        % sorted(unknown))

        def change(data):
            data.update(fields)
            data["txn"] -= 1  # server settings are not replicated data
        self._write("read_only", change)
