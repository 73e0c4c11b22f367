"""prepare, status, start/stop/restart and configuration files, live."""

import os
import signal
import stat

import pymysql
import pytest

from trove_core import exceptions
from trove_core.status import ServiceStatus
from trove_guest_base.testing import helpers
from trove_guest_base import net

pytestmark = pytest.mark.mariadb


def _tcp(manager, user, password):
    return pymysql.connect(host="127.0.0.1", port=manager.options.port,
                           user=user, password=password, connect_timeout=5)


class TestPrepare:
    """A prepared server is running, secured and remembered."""

    def test_healthy(self, mysql):
        """prepare leaves a healthy server."""
        assert mysql.status is ServiceStatus.HEALTHY
        assert mysql.prepared

    def test_admin_secret_is_private(self, mysql):
        """The admin password lives in a 0600 file."""
        mode = os.stat(mysql.secret_path("admin_password")).st_mode
        assert stat.S_IMODE(mode) == 0o600

    def test_secured(self, mysql):
        """No anonymous user, no test database, root only via socket."""
        with mysql.server.admin() as cur:
            cur.execute("SELECT COUNT(*) FROM mysql.user WHERE User = ''")
            assert cur.fetchone()[0] == 0
            cur.execute("SHOW DATABASES LIKE 'test'")
            assert cur.fetchall() == ()
            cur.execute("SHOW CREATE USER 'root'@'localhost'")
            assert "unix_socket" in cur.fetchone()[0]
        with pytest.raises(pymysql.err.OperationalError):
            _tcp(mysql, "root", "")

    def test_idempotent(self, mysql):
        """A second prepare changes nothing and keeps it healthy."""
        before = mysql.server.runner.pid
        mysql.prepare(memory_mb=512, packages=[], databases=[], users=[])
        assert mysql.server.runner.pid == before
        assert mysql.status is ServiceStatus.HEALTHY

    def test_filesystem_stats(self, mysql):
        """Filesystem stats are reported in Trove's shape."""
        stats = mysql.get_filesystem_stats(None)
        assert set(stats) == {"block_size", "total_blocks", "free_blocks",
                              "total", "free", "used"}


@pytest.fixture(scope="module")
def server(make_manager):
    """A server of its own, since the lifecycle tests stop it."""
    manager = make_manager("lifecycle")
    manager.prepare(memory_mb=None, packages=[], databases=[],
                    users=[], root_password="Root-pass-1")
    return manager


class TestLifecycle:
    """Stop, start, crash detection and restarts on a dedicated server."""

    def test_root_password_at_prepare(self, server):
        """root_password given to prepare enables remote root."""
        assert server.is_root_enabled()
        _tcp(server, "root", "Root-pass-1").close()
        assert server.get_root_password() == "Root-pass-1"

    def test_stop_and_start(self, server):
        """stop_db shuts the server down; restart brings it back."""
        server.stop_db()
        assert server.probe_status() is ServiceStatus.SHUTDOWN
        server.restart()
        assert server.status is ServiceStatus.HEALTHY

    def test_crash_detected(self, server):
        """A killed server is reported crashed, then restarts."""
        os.kill(server.server.runner.pid, signal.SIGKILL)
        server.server.runner.wait_exit(30)
        assert server.probe_status() is ServiceStatus.CRASHED
        server.restart()
        assert server.probe_status() is ServiceStatus.HEALTHY

    def test_start_with_conf_changes(self, server):
        """New base configuration is used on start."""
        server.stop_db()
        server.start_db_with_conf_changes(
            "[mysqld]\nmax_connections = 77\n")
        with server.server.admin() as cur:
            cur.execute("SELECT @@max_connections")
            assert cur.fetchone()[0] == 77

    def test_reset_configuration(self, server):
        """reset_configuration rewrites my.cnf for the next start."""
        server.reset_configuration({"config_contents":
                                    "[mysqld]\nmax_connections = 88\n"})
        with open(server.server.config_file, encoding="utf-8") as handle:
            assert "max_connections = 88" in handle.read()
        server.restart()
        with server.server.admin() as cur:
            cur.execute("SELECT @@max_connections")
            assert cur.fetchone()[0] == 88


class TestFailedPrepare:
    """A prepare that fails is reported failed with nothing running."""

    def test_bad_config_fails_cleanly(self, make_manager):
        """An unknown server option makes prepare fail, server stopped."""
        manager = make_manager("failing")
        with pytest.raises(exceptions.DatastoreError,
                           match="no_such_option") as info:
            manager.prepare(memory_mb=None, packages=[], databases=[],
                            users=[],
                            config_contents="[mysqld]\nno_such_option=1\n")
        assert info.value.operation == "install_db"
        assert manager.status is ServiceStatus.FAILED
        assert not manager.prepared
        assert not manager.server.runner.is_running()
        assert manager.refresh_status() is ServiceStatus.FAILED

    def test_port_taken_fails_fast_quoting_the_log(self, make_manager):
        """A server that cannot bind its port fails prepare at once (not
        after start_timeout) quoting its error log; nothing is left
        running and the guest is not claimed prepared."""
        with helpers.taken_port() as port:
            manager = make_manager("port-taken", port=port,
                                   start_timeout=600)
            with pytest.raises(exceptions.DatastoreError,
                               match="exited before it was ready") as info:
                manager.prepare(memory_mb=None, packages=[], databases=[],
                                users=[])
        assert "Address already in use" in str(info.value)
        assert info.value.operation == "start"
        assert manager.status is ServiceStatus.FAILED
        assert not manager.prepared
        assert not manager.server.runner.is_running()

    def test_retry_after_failure(self, make_manager):
        """A failed prepare can be retried with a good configuration."""
        manager = make_manager("retry")
        with pytest.raises(exceptions.DatastoreError,
                           match="no_such_option"):
            manager.prepare(memory_mb=None, packages=[], databases=[],
                            users=[],
                            config_contents="[mysqld]\nno_such_option=1\n")
        manager._save_state(failed=False)
        manager.set_status(ServiceStatus.NEW)
        manager.prepare(memory_mb=None, packages=[], databases=[],
                        users=[])
        assert manager.status is ServiceStatus.HEALTHY
        manager.stop_db()


class TestTroveTemplateIncludes:
    """Trove's MariaDB template ends with ``!includedir``."""

    def test_foreign_include_cannot_move_the_server(self, make_manager,
                                                    tmp_path):
        """An absent include directory does not fail prepare; a present
        one holding another port is ignored; the guest reports healthy
        only on the port it owns, and blocked on any other."""
        confd = tmp_path / "conf.d"
        template = ("[mysqld]\nmax_connections = 77\n\n"
                    "!includedir %s/\n" % confd)
        manager = make_manager("includes")
        manager.prepare(memory_mb=None, packages=[], databases=[],
                        users=[], config_contents=template)
        assert manager.status is ServiceStatus.HEALTHY
        confd.mkdir()
        (confd / "zz-port.cnf").write_text(
            "[mysqld]\nport = %d\n" % net.free_port())
        manager.restart()
        with manager.server.admin() as cur:
            cur.execute("SELECT @@port, @@max_connections")
            assert cur.fetchone() == (manager.options.port, 77)
        assert manager.refresh_status() is ServiceStatus.HEALTHY
        owned = manager.options.port
        manager.conf.set_override("port", owned + 1, group="mysql")
        try:
            assert manager.refresh_status() is ServiceStatus.BLOCKED
        finally:
            manager.conf.set_override("port", owned, group="mysql")
        assert manager.refresh_status() is ServiceStatus.HEALTHY
        manager.stop_db()
