"""Fixtures of the mysql plugin's tests: managers of real MariaDB servers
started through the plugin's own ``prepare`` (temp dirs, free ports)."""

import os

import pytest
from oslo_config import cfg

from trove_core import options as core_options
from trove_ds_mysql import testing as mysql_testing
from trove_guest_base import net


class RecordingReporter:
    """A reporter that keeps everything it is told."""

    def __init__(self):
        self.statuses = []
        self.backups = []
        self.progress_calls = 0
        self.root_reports = 0

    def status_changed(self, status):
        """Record a status change."""
        self.statuses.append(status)

    def progress(self, operation, done, total=None, message=""):
        """Count progress reports."""
        self.progress_calls += 1

    def backup_update(self, backup_id, **fields):
        """Record a backup update."""
        self.backups.append(dict(fields, backup_id=backup_id))

    def report_root(self):
        """Count root reports."""
        self.root_reports += 1


def make_conf(root, port=None, storage=None, **overrides):
    """Build guest options for a server living under ``root``."""
    conf = cfg.ConfigOpts()
    core_options.register_side(conf, "mysql", "guest")
    conf(args=[], default_config_files=[], default_config_dirs=[])
    values = dict(
        mount_point=os.path.join(root, "vol"),
        data_dir=os.path.join(root, "vol", "data"),
        run_dir=os.path.join(root, "run"),
        log_dir=os.path.join(root, "log"),
        config_file=os.path.join(root, "etc", "my.cnf"),
        service_user="root", runner="child", bind_address="127.0.0.1",
        port=port or net.free_port(), start_timeout=60,
        backup_storage_root=storage or os.path.join(root, "backups"))
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group="mysql")
    return conf


@pytest.fixture(name="make_conf")
def make_conf_fixture():
    """:func:`make_conf`, for tests that need guest options only."""
    return make_conf


@pytest.fixture(scope="session")
def mariadb_available():
    """Skip, saying why, when the MariaDB programs are missing."""
    missing = mysql_testing.missing_binaries()
    if missing:
        pytest.skip("MariaDB programs not installed: %s" % missing)


@pytest.fixture(scope="session")
def make_manager(tmp_path_factory, mariadb_available):
    """Factory of unprepared managers; every server is stopped at the end.
    """
    from trove_ds_mysql.manager import Manager

    made = []

    def factory(name, storage=None, **overrides):
        root = str(tmp_path_factory.mktemp(name))
        conf = make_conf(root, storage=storage, **overrides)
        manager = Manager("mysql", conf, os.path.join(root, "state"),
                          reporter=RecordingReporter())
        made.append(manager)
        return manager

    yield factory
    for manager in made:
        manager.server.stop()


@pytest.fixture(scope="session")
def backup_root(tmp_path_factory):
    """A backup storage directory shared by the session's servers."""
    return str(tmp_path_factory.mktemp("backups"))


@pytest.fixture(scope="session")
def mysql(make_manager, backup_root):
    """One prepared server shared by the session's tests."""
    manager = make_manager("primary", storage=backup_root)
    manager.prepare(memory_mb=512, packages=[], databases=[], users=[])
    return manager
