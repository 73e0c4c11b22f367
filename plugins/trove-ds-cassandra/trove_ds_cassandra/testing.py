"""Test helpers of the Cassandra plugin: the live target, spawner
options and the conformance probe.

Cassandra cannot be installed on every test machine, so live tests run
only where ``TROVE_TEST_CASSANDRA`` names a server: the path of the
``cassandra`` launcher (tests start their own nodes through the plugin's
``prepare``; nodetool is looked up beside it) or ``[user:password@]host:
port`` of a running node (only the tests that need no node of their own
run against it). :func:`live_target` reads it.

:class:`CassandraProbe` looks at a node through cassandra-driver and
nodetool with the admin password the manager stored, as an operator
would, and never calls the manager's operations.
"""

import contextlib
import getpass
import os
import re
import shutil

from trove_guest_base.conformance import probe as probe_mod
from trove_ds_cassandra import cql
from trove_ds_cassandra import options as opts_mod

__all__ = ["CassandraProbe", "ENV_VAR", "live_target", "spawner_options"]

#: The environment variable naming the live Cassandra of the tests.
ENV_VAR = "TROVE_TEST_CASSANDRA"
_ADDRESS = re.compile(r"^(?:(?P<user>[^:@]+):(?P<password>[^@]*)@)?"
                      r"(?P<host>[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")

#: Where markers are written (a keyspace every backup carries); the
#: statements below name it literally.
MARKER_KEYSPACE = "trove_probe"

# override name -> (nodetool arguments, how to read the answer)
_READERS = {
    "compaction_throughput_mb_per_sec": (
        ["getcompactionthroughput"], lambda out: _first_int(out)),
    "stream_throughput_outbound_megabits_per_sec": (
        ["getstreamthroughput"], lambda out: _first_int(out)),
    "hinted_handoff_enabled": (
        ["statushandoff"], lambda out: "not running" not in out),
}


def _first_int(text):
    found = re.search(r"(\d+)", text)
    return int(found.group(1)) if found else None


def live_target(environ=None):
    """Read :data:`ENV_VAR`.

    :returns: ``None`` when unset, ``("binary", path)``, or
        ``("address", {"host", "port", "user", "password"})`` (user and
        password ``cassandra`` when not given).
    :raises ValueError: it is set but neither an executable nor
        ``[user:password@]host:port``; the message says what to set.
    """
    value = (environ if environ is not None else os.environ).get(
        ENV_VAR, "").strip()
    if not value:
        return None
    if os.path.isfile(value) and os.access(value, os.X_OK):
        return "binary", os.path.abspath(value)
    found = _ADDRESS.match(value)
    if found:
        return "address", {
            "host": found["host"], "port": int(found["port"]),
            "user": found["user"] or opts_mod.DEFAULT_SUPERUSER,
            "password": (found["password"] if found["user"]
                         else opts_mod.DEFAULT_SUPERUSER)}
    raise ValueError(
        "%s=%r is neither an executable cassandra launcher nor "
        "[user:password@]host:port; set it to e.g. "
        "/opt/cassandra/bin/cassandra or 127.0.0.1:9042" % (ENV_VAR, value))


def spawner_options(cassandra):
    """Return a function giving the guest option overrides of a test
    node living in a directory (for
    :class:`trove_guest_base.testing.Spawner`).

    :param cassandra: the launcher; nodetool is looked up beside it,
        then on ``PATH``.
    """
    from trove_guest_base import net

    path = os.pathsep.join([os.path.dirname(cassandra),
                            os.environ.get("PATH", "")])
    nodetool = shutil.which("nodetool", path=path) or "nodetool"

    def options(where):
        return {"runner": "child", "server_binary": cassandra,
                "nodetool_binary": nodetool, "bind_address": "127.0.0.1",
                "port": net.free_port(), "storage_port": net.free_port(),
                "jmx_port": net.free_port(), "max_heap_size": "512M",
                "config_file": os.path.join(where, "etc",
                                            "cassandra.yaml"),
                # the test's own user: its directories are private
                "service_user": getpass.getuser(),
                "start_timeout": 300}
    return options


class CassandraProbe(probe_mod.Probe):
    """Checks the Cassandra node of one manager.

    :param manager: the :class:`~trove_ds_cassandra.manager.Manager`.
    """

    live = True
    root_user = opts_mod.ROOT_USER

    def __init__(self, manager):
        self.manager = manager

    @contextlib.contextmanager
    def _session(self, user=None, password=None):
        from cassandra.cluster import Cluster

        from trove_ds_cassandra import manager as manager_mod

        user = user or opts_mod.ADMIN_USER
        if password is None:
            password = self.manager.admin_password()
        cluster = Cluster(**manager_mod.cluster_options(
            "127.0.0.1", self.manager.options.port, user, password))
        try:
            yield cluster.connect()
        finally:
            cluster.shutdown()

    def engine(self):
        """The node's own release version."""
        with self._session() as session:
            row = session.execute(
                "SELECT release_version FROM system.local").one()
        return {"name": "cassandra", "version": row.release_version}

    def is_running(self):
        """Whether the node takes a statement from the admin."""
        try:
            with self._session() as session:
                session.execute("SELECT key FROM system.local")
            return True
        except Exception:  # the driver raises many unrelated types
            return False

    def database_exists(self, name):
        """Whether keyspace ``name`` exists."""
        with self._session() as session:
            rows = session.execute(
                "SELECT keyspace_name FROM system_schema.keyspaces "
                "WHERE keyspace_name = %s", (name,))
            return rows.one() is not None

    def can_login(self, user, password, database=None, host=None):
        """Whether ``user`` logs in (and may read a table of keyspace
        ``database``)."""
        if database is not None:
            with self._session() as session:
                session.execute(
                    "CREATE TABLE IF NOT EXISTS %s.trove_probe "
                    "(k text PRIMARY KEY, v text)"
                    % cql.quote(cql.validate_keyspace(database)))
        try:
            with self._session(user, password) as session:
                session.execute("SELECT key FROM system.local")
                if database is not None:
                    # a validated keyspace, quoted: one identifier
                    session.execute(
                        "SELECT k FROM %s.trove_probe LIMIT 1"  # noqa: S608
                        % cql.quote(cql.validate_keyspace(database)))
            return True
        except Exception:  # refusals come as several driver errors
            return False

    def _markers(self, session):
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS trove_probe WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE IF NOT EXISTS trove_probe.markers "
                        "(k text PRIMARY KEY, v text)")

    def write_marker(self, key, value):
        """Store ``value`` under ``key`` in the marker keyspace."""
        with self._session() as session:
            self._markers(session)
            session.execute("INSERT INTO trove_probe.markers (k, v) "
                            "VALUES (%s, %s)", (key, value))

    def read_marker(self, key):
        """The value stored under ``key``, or ``None``."""
        with self._session() as session:
            if session.execute(
                    "SELECT keyspace_name FROM system_schema.keyspaces "
                    "WHERE keyspace_name = %s",
                    (MARKER_KEYSPACE,)).one() is None:
                return None
            row = session.execute(
                "SELECT v FROM trove_probe.markers WHERE k = %s",
                (key,)).one()
        return row.v if row else None

    def config_value(self, name):
        """The running value of a dynamic override, from nodetool."""
        from trove_ds_cassandra import backup

        args, read = _READERS[name]
        return read(backup.NodetoolSnapshot(self.manager).nodetool(*args))
