"""Test helpers of the MySQL plugin: a conformance probe and the guest
options of a throw-away server.

:class:`MySQLProbe` looks at a server the way an operator would: through
the server's own client protocol, with the admin credential the guest
stored, never through the manager's operations.
"""

import os
import re
import shutil

from trove_guest_base import net
from trove_guest_base.conformance import probe as probe_mod

__all__ = ["BINARIES", "MySQLProbe", "missing_binaries", "spawner_options"]

#: the MariaDB programs the live tests need.
BINARIES = ("mariadbd", "mariadb-install-db", "mariadb-dump", "mariabackup",
            "mbstream", "mariadb")

_VARIABLE = re.compile(r"^[a-z][a-z0-9_]*$")


def missing_binaries():
    """The MariaDB programs that are not on ``PATH``."""
    return [b for b in BINARIES if shutil.which(b) is None]


def spawner_options(directory):
    """Guest options of a server living under ``directory``: a child
    process as the current user, on a free loopback port.

    :param directory: the instance's private directory.
    :returns: ``{option: value}`` for the ``[mysql]`` group.
    """
    return {
        "run_dir": os.path.join(directory, "run"),
        "log_dir": os.path.join(directory, "log"),
        "config_file": os.path.join(directory, "etc", "my.cnf"),
        "service_user": "root" if os.geteuid() == 0 else os.environ.get(
            "USER", "mysql"),
        "runner": "child", "bind_address": "127.0.0.1",
        "port": net.free_port(), "start_timeout": 60,
    }


class MySQLProbe(probe_mod.Probe):
    """Checks a MySQL server through its own protocol.

    :param manager: the plugin's manager of that server (only its paths,
        port and stored admin credential are used).
    """

    live = True
    root_user = "root"

    def __init__(self, manager):
        self.manager = manager

    def _admin(self):
        import pymysql

        server = self.manager.server
        if not server._socket_accepts(server.socket):
            raise pymysql.err.OperationalError(2002, "server is down")
        return pymysql.connect(
            unix_socket=server.socket, user=self.manager.options.admin_user,
            password=self.manager.load_secret("admin_password") or "",
            autocommit=True, charset="utf8mb4", connect_timeout=5,
            ssl_disabled=True)

    def _query(self, statement, args=None):
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall()
        finally:
            conn.close()

    def engine(self):
        """The server's own name and version."""
        (version,) = self._query("SELECT VERSION()")[0]
        name = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return {"name": name, "version": version.split("-")[0]}

    def is_running(self):
        """Whether the server answers a query."""
        import pymysql

        try:
            return self._query("SELECT 1") == ((1,),)
        except pymysql.err.MySQLError:
            return False

    def database_exists(self, name):
        """Whether database ``name`` exists, compared exactly."""
        rows = self._query("SELECT SCHEMA_NAME FROM "
                           "information_schema.SCHEMATA")
        return name in {row[0] for row in rows}

    def can_login(self, user, password, database=None, host=None):
        """Whether ``user`` logs in over TCP from the loopback address."""
        import pymysql

        try:
            conn = pymysql.connect(
                host="127.0.0.1", port=self.manager.options.port, user=user,
                password=password.encode("utf-8"), database=database,
                charset="utf8mb4", connect_timeout=5, ssl_disabled=True)
        except pymysql.err.MySQLError:
            return False
        conn.close()
        return True

    def write_marker(self, key, value):
        """Store a marker row in table ``trove_probe.markers``."""
        self._query("CREATE DATABASE IF NOT EXISTS trove_probe")
        self._query("CREATE TABLE IF NOT EXISTS trove_probe.markers "
                    "(k VARCHAR(191) PRIMARY KEY, v TEXT)")
        self._query("REPLACE INTO trove_probe.markers VALUES (%s, %s)",
                    (key, value))

    def read_marker(self, key):
        """Read a marker row, ``None`` when absent."""
        import pymysql

        try:
            rows = self._query("SELECT v FROM trove_probe.markers "
                               "WHERE k = %s", (key,))
        except pymysql.err.ProgrammingError:
            return None
        return rows[0][0] if rows else None

    def datastore_dirs(self):
        """The data directory (binary logs included) and the log
        directory."""
        return [self.manager.server.data_dir, self.manager.server.log_dir]

    def tenant_lock(self, user, password, database):
        """``LOCK TABLES t WRITE`` held by ``user`` in ``database``."""
        import contextlib

        import pymysql

        @contextlib.contextmanager
        def held():
            conn = pymysql.connect(
                host="127.0.0.1", port=self.manager.options.port,
                user=user, password=password, database=database,
                autocommit=True, connect_timeout=5, ssl_disabled=True)
            try:
                with conn.cursor() as cur:
                    cur.execute("CREATE TABLE IF NOT EXISTS t "
                                "(k INT PRIMARY KEY) ENGINE=InnoDB")
                    cur.execute("INSERT IGNORE INTO t VALUES (1)")
                    cur.execute("LOCK TABLES t WRITE")
                yield
                with conn.cursor() as cur:
                    cur.execute("UNLOCK TABLES")
            finally:
                conn.close()
        return held()

    def config_value(self, name):
        """The running value of a server variable, as text."""
        if not _VARIABLE.match(name):
            raise ValueError("not a server variable name: %r" % (name,))
        (value,) = self._query("SELECT @@GLOBAL.%s" % name)[0]
        return str(value)
