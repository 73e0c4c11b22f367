"""Test helpers of the MongoDB plugin: the live target, spawner options
and the conformance probe.

MongoDB cannot be installed on every test machine, so live tests run
only where ``TROVE_TEST_MONGOD`` names a server: the path of a mongod
binary (tests start their own servers through the plugin's ``prepare``)
or a ``mongodb://`` URL of a running server (only the tests that need no
server of their own run against it). :func:`live_target` reads it.

:class:`MongoProbe` looks at a server through pymongo with the admin
password the manager stored, as an operator would, and never calls the
manager's operations.
"""

import contextlib
import getpass
import os
import shutil

from trove_guest_base.conformance import probe as probe_mod
from trove_ds_mongodb import admin
from trove_ds_mongodb import config

__all__ = ["ENV_VAR", "MongoProbe", "live_target", "spawner_options"]

#: The environment variable naming the live MongoDB of the tests.
ENV_VAR = "TROVE_TEST_MONGOD"

#: Where markers are written (a database every backup and replica
#: carries).
MARKER_DATABASE = "trove_probe"


def live_target(environ=None):
    """Read :data:`ENV_VAR`.

    :returns: ``None`` when unset, else ``("binary", path)`` or
        ``("url", url)``.
    :raises ValueError: it is set but neither an executable file nor a
        ``mongodb://`` URL; the message says what to set.
    """
    value = (environ if environ is not None else os.environ).get(
        ENV_VAR, "").strip()
    if not value:
        return None
    if value.startswith(("mongodb://", "mongodb+srv://")):
        return "url", value
    if os.path.isfile(value) and os.access(value, os.X_OK):
        return "binary", os.path.abspath(value)
    raise ValueError(
        "%s=%r is neither an executable mongod nor a mongodb:// URL; set "
        "it to e.g. /usr/bin/mongod or mongodb://user:pass@127.0.0.1:27017"
        % (ENV_VAR, value))


def _tool(name, mongod):
    path = os.pathsep.join([os.path.dirname(mongod),
                            os.environ.get("PATH", "")])
    return shutil.which(name, path=path) or name


def spawner_options(mongod):
    """Return a function giving the guest option overrides of a test
    server living in a directory (for
    :class:`trove_guest_base.testing.Spawner`).

    :param mongod: the mongod binary; mongodump and mongorestore are
        looked up beside it, then on ``PATH``.
    """
    from trove_guest_base import net

    def options(where):
        return {"runner": "child", "server_binary": mongod,
                "mongodump_binary": _tool("mongodump", mongod),
                "mongorestore_binary": _tool("mongorestore", mongod),
                "port": net.free_port(), "bind_address": "127.0.0.1",
                "config_file": os.path.join(where, "etc", "mongod.conf"),
                "log_file": os.path.join(where, "log", "mongod.log"),
                # the test's own user: its directories are private
                "service_user": getpass.getuser(),
                "start_timeout": 60}
    return options


class MongoProbe(probe_mod.Probe):
    """Checks a MongoDB server of one manager.

    :param manager: the :class:`~trove_ds_mongodb.manager.Manager`.
    """

    live = True
    root_user = "admin.root"

    def __init__(self, manager):
        self.manager = manager

    def _client(self, **auth):
        import pymongo

        return pymongo.MongoClient(
            host="127.0.0.1", port=self.manager.options.port,
            directConnection=True, serverSelectionTimeoutMS=3000,
            connectTimeoutMS=3000, readPreference="primaryPreferred",
            **auth)

    @contextlib.contextmanager
    def _admin(self):
        user, password = self.manager.admin_credentials()
        client = self._client(username=user, password=password,
                              authSource=admin.AUTH_DATABASE)
        try:
            yield client
        finally:
            client.close()

    def engine(self):
        """The server's own name and version."""
        with self._admin() as client:
            return {"name": "mongodb",
                    "version": client.server_info()["version"]}

    def is_running(self):
        """Whether the server answers ``hello``."""
        from pymongo import errors

        client = self._client()
        try:
            return bool(client.admin.command("hello").get("ok"))
        except errors.PyMongoError:
            return False
        finally:
            client.close()

    def database_exists(self, name):
        """Whether the server lists database ``name``."""
        with self._admin() as client:
            return name in client.list_database_names()

    def can_login(self, user, password, database=None, host=None):
        """Whether ``user`` authenticates (and may read ``database``)."""
        from pymongo import errors

        try:
            auth_db, username = admin.split_user(user)
        except ValueError:
            return False
        client = self._client(username=username, password=password,
                              authSource=auth_db)
        try:
            client.admin.command("ping")
            if database is not None:
                client[database]["trove_probe"].find_one()
            return True
        except errors.PyMongoError:
            return False
        finally:
            client.close()

    def write_marker(self, key, value):
        """Store ``value`` under ``key`` in the marker database."""
        with self._admin() as client:
            client[MARKER_DATABASE]["markers"].replace_one(
                {"_id": key}, {"_id": key, "value": value}, upsert=True)

    def read_marker(self, key):
        """The value stored under ``key``, or ``None``."""
        with self._admin() as client:
            found = client[MARKER_DATABASE]["markers"].find_one({"_id": key})
        return found["value"] if found else None

    def config_value(self, name):
        """The running value of override ``name`` (``getParameter`` for
        dynamic ones, the parsed configuration for the others)."""
        param = config.load_schema()[name]
        with self._admin() as client:
            if param.dynamic:
                reply = client.admin.command(
                    {"getParameter": 1, param.apply: 1})
                return reply[param.apply]
            node = client.admin.command("getCmdLineOpts")["parsed"]
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node
