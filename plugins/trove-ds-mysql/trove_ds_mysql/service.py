"""Control of one MySQL/MariaDB server: files, configuration, process.

:class:`MySQLServer` knows where everything lives (data, socket, logs,
configuration), renders ``my.cnf``, initializes and secures a data
directory, starts and stops the server through a
:class:`~trove_guest_base.process.Runner`, and opens admin connections.

Securing happens in *maintenance mode*: a private server started with
``--skip-grant-tables --skip-networking``, reachable only through its
socket, so no client ever sees an unsecured or half-initialized server.
The same mode resets the admin account after a physical or logical
restore brought in another server's accounts.
"""

import contextlib
import logging
import os
import zlib

from trove_core import exceptions
from trove_guest_base import configfile
from trove_guest_base import files
from trove_guest_base import process

__all__ = ["MySQLServer", "normalize_key"]

LOG = logging.getLogger(__name__)

#: [mysqld] keys the guest owns: config_contents and overrides cannot
#: move the data, the socket or the process identity under the guest.
GUEST_OWNED = ("user", "datadir", "socket", "port", "bind_address",
               "pid_file", "log_error", "server_id", "log_bin")


def normalize_key(key):
    """my.cnf treats ``-`` and ``_`` alike; compare keys in one form."""
    return key.strip().replace("-", "_").lower()


def _set(section, key, value):
    for existing in [k for k in section if normalize_key(k) == key]:
        del section[existing]
    section[key] = value


class MySQLServer:
    """One server's files and process.

    :param options: the guest's ``[mysql]`` option group.
    :param state_dir: the guest's private state directory.
    :param secret_path: callable mapping a secret name to its 0600 path.
    """

    def __init__(self, options, state_dir, secret_path):
        self.options = options
        self.state_dir = state_dir
        self._secret_path = secret_path
        self.data_dir = options.data_dir or os.path.join(
            options.mount_point, "data")
        self.run_dir = options.run_dir
        self.log_dir = options.log_dir
        self.socket = os.path.join(self.run_dir, "mysqld.sock")
        self.pid_file = os.path.join(self.run_dir, "mysqld.pid")
        self.config_file = options.config_file
        #: the server's own temporary directory: servers sharing /tmp
        #: collide on temporary table names (concurrent
        #: mariadb-install-db runs fail with "Unknown table
        #: 'mysql.tmp_user_sys'").
        self.tmp_dir = os.path.join(options.mount_point, "tmp")
        self.logs = {
            "error": os.path.join(self.log_dir, "error.log"),
            "slow_query": os.path.join(self.log_dir, "slow-query.log"),
            "general": os.path.join(self.log_dir, "general.log"),
        }
        self._runner = None
        self._is_mariadb = None
        #: whether ``my.cnf`` makes the server a Galera member (the
        #: maintenance mode then runs with the provider off).
        self.cluster = False

    # -- identity ---------------------------------------------------------

    @property
    def server_id(self):
        """The replication server id (configured, else derived)."""
        if self.options.server_id:
            return self.options.server_id
        return zlib.crc32(os.path.abspath(self.state_dir).encode()) \
            % 4294967294 + 1

    @property
    def run_as_root(self):
        """Whether the server runs as the OS superuser (tests only)."""
        return self.options.service_user == "root"

    # -- configuration ----------------------------------------------------

    def render_config(self, config_contents=None, overrides=None,
                      memory_mb=None, cluster=None):
        """Return the text of ``my.cnf``.

        Layers, later ones winning: the guest's defaults,
        ``config_contents`` (Trove's rendered template), the cluster's
        ``[galera]`` section, the keys the guest owns (paths, port,
        identity), then ``overrides``.

        :param config_contents: ini text, or ``None``.
        :param overrides: ``{name: value}`` for ``[mysqld]``, already
            validated against the parameter schema.
        :param memory_mb: the instance's memory, to size the buffer pool.
        :param cluster: the ``[galera]`` section of a cluster member
            (:func:`trove_ds_mysql.galera.galera_section`), or ``None``.
        """
        mysqld = {
            "binlog_format": "ROW",
            "log_slave_updates": "ON",
            "binlog_expire_logs_seconds": 7 * 86400,
            "skip_name_resolve": None,
            "character_set_server": "utf8mb4",
            "collation_server": "utf8mb4_general_ci",
            "slow_query_log_file": self.logs["slow_query"],
            "general_log_file": self.logs["general"],
            "max_allowed_packet": "64M",
            "tmpdir": self.tmp_dir,
        }
        if memory_mb:
            mysqld["innodb_buffer_pool_size"] = "%dM" % max(
                128, int(memory_mb) // 2)
        config = configfile.IniConfig({"client": {}, "mysqld": mysqld})
        if config_contents:
            config.merge(configfile.IniConfig.parse(config_contents))
        if cluster:
            config.merge({"galera": dict(cluster)})
        owned = {
            "user": self.options.service_user,
            "datadir": self.data_dir,
            "socket": self.socket,
            "port": self.options.port,
            "bind_address": self.options.bind_address,
            "pid_file": self.pid_file,
            "log_error": self.logs["error"],
            "server_id": self.server_id,
            "log_bin": "mysql-bin",
        }
        section = config.sections["mysqld"]
        for key, value in owned.items():
            _set(section, key, value)
        for key, value in (overrides or {}).items():
            _set(section, normalize_key(key), value)
        _set(config.sections["client"], "socket", self.socket)
        _set(config.sections["client"], "port", self.options.port)
        return config.render()

    def write_config(self, text):
        """Write ``my.cnf`` atomically (0644: it holds no secret)."""
        files.atomic_write(self.config_file, text, mode=0o644)

    def tool_config(self, user, password, with_server=False):
        """Write and return the 0600 option file tools log in with.

        :param with_server: also copy the server's ``[mysqld]`` section
            (``mariabackup`` needs the server's InnoDB settings).
        :returns: the file's path, for ``--defaults-file``.
        """
        sections = {}
        if with_server and os.path.exists(self.config_file):
            with open(self.config_file, encoding="utf-8") as handle:
                server = configfile.IniConfig.parse(handle.read())
            sections["mysqld"] = server.sections.get("mysqld", {})
        creds = {"user": user, "password": password, "socket": self.socket}
        sections["client"] = dict(creds)
        sections["mariabackup"] = dict(creds)
        name = "backup.cnf" if with_server else "client.cnf"
        path = self._secret_path(name)
        files.write_secret(path, configfile.IniConfig(sections).render())
        return path

    # -- data directory -----------------------------------------------------

    def prepare_dirs(self):
        """Create the data, run and log directories, owned by the service
        user."""
        for path in (self.data_dir, self.run_dir, self.log_dir,
                     self.tmp_dir):
            os.makedirs(path, mode=0o750, exist_ok=True)
            self._chown(path)

    def _chown(self, path):
        if os.geteuid() != 0 or self.run_as_root:
            return
        import pwd

        entry = pwd.getpwnam(self.options.service_user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def chown_tree(self, path):
        """Give ``path`` and everything below it to the service user."""
        if os.geteuid() != 0 or self.run_as_root:
            return
        process.run(["chown", "-R", "%s:" % self.options.service_user,
                     path], timeout=600)

    def is_initialized(self):
        """Whether the data directory holds a server's system tables."""
        return os.path.isdir(os.path.join(self.data_dir, "mysql"))

    def is_empty(self):
        """Whether the data directory has no files at all."""
        return not os.path.isdir(self.data_dir) or not os.listdir(
            self.data_dir)

    def install_db(self):
        """Initialize an empty data directory with the system tables.

        :raises DatastoreError: the installer failed; its errors are
            quoted.
        """
        result = process.run([self.options.install_db_binary,
                              "--defaults-file=%s" % self.config_file,
                              "--user=%s" % self.options.service_user,
                              "--datadir=%s" % self.data_dir,
                              "--skip-test-db"], timeout=600, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode("utf-8",
                                                            "replace")
            lines = [line for line in output.splitlines()
                     if "ERROR" in line or "error" in line.lower()]
            raise exceptions.DatastoreError(
                operation="install_db", reason="%s exited with %d: %s"
                % (self.options.install_db_binary, result.returncode,
                   " | ".join((lines or output.splitlines())[-3:]
                              + [process.log_tail(self.logs["error"], 3)])))

    def wipe_data(self):
        """Remove everything inside the data directory."""
        import shutil

        if os.path.isdir(self.data_dir):
            for name in os.listdir(self.data_dir):
                path = os.path.join(self.data_dir, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)

    # -- process ------------------------------------------------------------

    @property
    def runner(self):
        """The supervisor of the server's normal run."""
        if self._runner is None:
            self._runner = process.make_runner(self.options,
                                               *self._child_args([]))
        return self._runner

    def _child_args(self, extra, name="mysqld"):
        argv = [self.options.server_binary,
                "--defaults-file=%s" % self.config_file, *extra]
        return (argv,
                os.path.join(self.state_dir, "run", "%s.runner.pid" % name),
                os.path.join(self.log_dir, "%s.console.log" % name))

    def _child(self, extra, name="mysqld"):
        return process.ChildRunner(*self._child_args(extra, name))

    def start(self):
        """Start the server and wait until it accepts admin connections.

        :raises DatastoreError: it exited or was not ready in time.
        """
        self.runner.start(timeout=self.options.start_timeout)
        self.wait_ready(self.runner, self._admin_connect).close()

    def stop(self):
        """Stop the server and wait until it is gone."""
        self.runner.stop(timeout=self.options.start_timeout)

    @contextlib.contextmanager
    def maintenance(self):
        """Run a private server (no grants, no network) and yield a root
        connection to it; stop it afterwards."""
        if self.runner.is_running():
            raise exceptions.DatastoreError(
                operation="maintenance", reason="the server is running; "
                "stop it first")
        extra = ["--skip-grant-tables", "--skip-networking",
                 "--skip-slave-start"]
        if self.cluster:
            extra.append("--wsrep-provider=none")
        runner = self._child(extra, name="maintenance")
        runner.start(timeout=self.options.start_timeout)
        try:
            conn = self.wait_ready(runner, self._root_connect)
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION sql_log_bin = 0")
                    cur.execute("FLUSH PRIVILEGES")
                yield conn
            finally:
                conn.close()
        finally:
            runner.stop(timeout=self.options.start_timeout)

    def wait_ready(self, runner, connect):
        """Poll until ``connect()`` succeeds; return its connection.

        :raises DatastoreError: the process exited, or it was not ready
            after ``start_timeout`` seconds; the error log's tail is
            quoted.
        """
        what = "%s on %s" % (os.path.basename(self.options.server_binary),
                             self.socket)
        return process.wait_ready(runner, connect, what,
                                  self.options.start_timeout,
                                  log_file=self.logs["error"],
                                  max_interval=0.2)

    # -- connections --------------------------------------------------------

    def connect(self, user, password, **kwargs):
        """Open an autocommit PyMySQL connection through the socket (TLS
        off: the socket never leaves the host, and PyMySQL's default TLS
        context costs 70 ms per connection).

        :raises pymysql.err.OperationalError: nothing accepts connections
            on the socket, or the login failed.
        """
        import pymysql

        if not self._socket_accepts():
            # checked first: PyMySQL leaks its socket when connect fails
            raise pymysql.err.OperationalError(
                2002, "nothing accepts connections on %s" % self.socket)
        return pymysql.connect(unix_socket=self.socket, user=user,
                               password=password or "", autocommit=True,
                               charset="utf8mb4", connect_timeout=5,
                               ssl_disabled=True, **kwargs)

    def _socket_accepts(self):
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            return sock.connect_ex(self.socket) == 0

    def _root_connect(self):
        return self.connect("root", "")

    def _admin_connect(self):
        password = files.read_secret(self._secret_path("admin_password"))
        conn = self.connect(self.options.admin_user, password)
        if self._is_mariadb is None:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                self._is_mariadb = "mariadb" in cur.fetchone()[0].lower()
        return conn

    @contextlib.contextmanager
    def admin(self):
        """Yield a cursor of a fresh admin connection.

        :raises DatastoreError: the server cannot be reached.
        """
        import pymysql

        try:
            conn = self._admin_connect()
        except pymysql.err.MySQLError as exc:
            raise exceptions.DatastoreError(
                operation="connect", reason="cannot reach the server as "
                "%r: %s (is it running?)" % (self.options.admin_user,
                                             exc)) from None
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    @property
    def is_mariadb(self):
        """Whether the server is MariaDB (asked once per process)."""
        if self._is_mariadb is None:
            with self.admin():
                pass
        return self._is_mariadb

    # -- securing -----------------------------------------------------------

    def secure(self, conn, admin_password):
        """Make a maintenance-mode server safe to open.

        Drops anonymous accounts and the ``test`` database, limits
        ``root@localhost`` to the OS superuser (``unix_socket``), and
        (re)creates the admin account with ``admin_password``.
        """
        admin = self.options.admin_user
        with conn.cursor() as cur:
            cur.execute("SELECT Host FROM mysql.user WHERE User = ''")
            for (host,) in cur.fetchall():
                cur.execute("DROP USER ''@%s", (host,))
            cur.execute("DROP DATABASE IF EXISTS `test`")
            cur.execute("DELETE FROM mysql.db WHERE Db = 'test' "
                        "OR Db LIKE 'test\\\\_%%'")
            cur.execute("SELECT COUNT(*) FROM mysql.user "
                        "WHERE User = 'root' AND Host = 'localhost'")
            if cur.fetchone()[0]:
                cur.execute("ALTER USER 'root'@'localhost' "
                            "IDENTIFIED VIA unix_socket")
            cur.execute("CREATE USER IF NOT EXISTS %s@'localhost' "
                        "IDENTIFIED BY %s", (admin, admin_password))
            cur.execute("ALTER USER %s@'localhost' IDENTIFIED BY %s",
                        (admin, admin_password))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'localhost' "
                        "WITH GRANT OPTION", (admin,))
            # restoring a logical backup replays root's PROXY grant
            cur.execute("GRANT PROXY ON ''@'%%' TO %s@'localhost' "
                        "WITH GRANT OPTION", (admin,))
            cur.execute("FLUSH PRIVILEGES")
        LOG.info("secured the server in %s", self.data_dir)
