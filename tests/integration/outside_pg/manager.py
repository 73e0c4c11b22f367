"""The PostgreSQL guest manager: a server started by the guest, as the
service user, driven through ``psql`` (no Python driver needed).

Names are checked against a strict pattern before they reach SQL, and
reach it only as psql variables quoted by the server (``format('%I')``),
never pasted into a statement.
"""

import os
import re

import zope.interface

from trove_core import capabilities
from trove_core import exceptions
from trove_core import manager as base
from trove_core import models
from trove_core.status import ServiceStatus
from trove_guest_base import process

ADMIN = "os_admin"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_database_name(name):
    """Return ``name`` when PostgreSQL may hold it here."""
    models.check_name("database", name)
    if not _NAME.match(name):
        raise exceptions.InvalidIdentifier(
            kind="database", value=name,
            reason="use 1-63 lowercase letters, digits or '_', not "
            "starting with a digit")
    return name


@zope.interface.implementer(capabilities.IDatabases)
class Manager(base.BaseDatastoreManager):
    """Guest manager of the PostgreSQL datastore."""

    def __init__(self, name, conf, state_dir, reporter=None):
        super().__init__(name, conf, state_dir, reporter=reporter)
        self._runner = None

    # -- where things are -------------------------------------------------

    @property
    def data_dir(self):
        """The cluster's data directory."""
        return os.path.join(self.options.mount_point, "pgdata")

    @property
    def socket_dir(self):
        """The Unix socket directory (only the service user and root
        enter it)."""
        return os.path.join(self.options.mount_point, "run")

    @property
    def user(self):
        """The account the server and its tools run as, or ``None``."""
        return process.service_user(self.options)

    def _bin(self, tool):
        return os.path.join(os.path.dirname(self.options.server_binary),
                            tool)

    @property
    def runner(self):
        """The runner of the server (built once)."""
        if self._runner is None:
            self._runner = process.make_runner(
                self.options,
                [self.options.server_binary, "-D", self.data_dir,
                 "-p", str(self.options.port), "-k", self.socket_dir,
                 "-c", "listen_addresses=%s" % self.options.bind_address],
                pid_file=os.path.join(self.state_dir, "postgres.pid"),
                log_file=os.path.join(self.state_dir, "postgres.log"),
                dirs=[self.data_dir, self.socket_dir])
        return self._runner

    # -- psql ----------------------------------------------------------

    def psql(self, sql, variables=None, database="postgres", timeout=30):
        """Run ``sql`` (read from stdin) with psql variables; return the
        unaligned rows."""
        argv = [self.options.client_binary, "-X", "-A", "-t", "-q",
                "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                "-p", str(self.options.port), "-U", ADMIN, "-d", database]
        for key, value in (variables or {}).items():
            argv += ["-v", "%s=%s" % (key, value)]
        done = process.run(argv, input=sql.encode(), timeout=timeout,
                           user=self.user)
        return [line for line in done.stdout.decode().splitlines() if line]

    def _answers(self):
        try:
            return self.psql("SELECT 1", timeout=5) == ["1"]
        except exceptions.TroveError:
            return False

    # -- the five hooks ------------------------------------------------

    def do_prepare(self, request):
        """initdb once (as the service user), then start."""
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            process.hand_over(self.user, [self.data_dir, self.socket_dir])
            process.run([self._bin("initdb"), "-D", self.data_dir,
                         "--username", ADMIN, "--auth-local=trust",
                         "--auth-host=scram-sha-256", "--encoding=UTF8"],
                        timeout=120, user=self.user)
        self.do_start()

    def do_start(self):
        """Start the server and wait until it answers."""
        self.runner.start()
        process.wait_ready(
            self.runner, self._answers,
            "postgres on port %d" % self.options.port,
            self.options.start_timeout,
            log_file=os.path.join(self.state_dir, "postgres.log"))

    def do_stop(self):
        """Stop the server (SIGTERM: a smart shutdown)."""
        self.runner.stop(timeout=60)

    def probe_status(self):
        """HEALTHY when it answers, RUNNING when only the process is up."""
        if self.runner.is_running():
            return (ServiceStatus.HEALTHY if self._answers()
                    else ServiceStatus.RUNNING)
        if self.runner.crashed():
            return ServiceStatus.CRASHED
        return ServiceStatus.SHUTDOWN

    def write_config(self, config_contents):
        """Keep the base configuration for the next start."""
        if config_contents:
            with open(os.path.join(self.state_dir, "base.conf"), "w",
                      encoding="utf-8") as handle:
                handle.write(config_contents)

    # -- databases -----------------------------------------------------

    def create_database(self, databases):
        """See IDatabases.create_database."""
        names = [check_database_name(db.name) for db in databases]
        for name in names:
            self.psql("SELECT format('CREATE DATABASE %I', :'name') "
                      "\\gexec", {"name": name})

    def list_databases(self, limit=None, marker=None, include_marker=False):
        """See IDatabases.list_databases."""
        hidden = set(self.options.ignore_dbs)
        names = sorted(n for n in self.psql(
            "SELECT datname FROM pg_database WHERE NOT datistemplate")
            if n not in hidden)
        if marker is not None:
            names = [n for n in names
                     if n > marker or (include_marker and n == marker)]
        page = names[:limit] if limit else names
        more = limit and len(names) > limit
        return ([models.Database(n) for n in page],
                page[-1] if more else None)

    def delete_database(self, database):
        """See IDatabases.delete_database."""
        name = check_database_name(database.name)
        self.psql("SELECT format('DROP DATABASE IF EXISTS %I', :'name') "
                  "\\gexec", {"name": name})
