"""Fixtures of the Redis plugin's tests: real servers on free ports."""

import copy
import getpass
import shutil

import pytest
from oslo_config import cfg

from trove_ds_redis import manager as manager_mod
from trove_ds_redis import options
from trove_ds_redis import testing
from trove_guest_base.testing import helpers


class RecordingReporter:
    """A reporter that keeps what the manager reported."""

    def __init__(self):
        self.statuses = []
        self.backups = []
        self.progress_calls = []

    def status_changed(self, status):
        """Record a status change."""
        self.statuses.append(status)

    def progress(self, operation, done, total=None, message=""):
        """Record progress."""
        self.progress_calls.append((operation, done, total, message))

    def backup_update(self, backup_id, **fields):
        """Record a backup update."""
        self.backups.append((backup_id, fields))


def make_manager(root, name="redis-a", **overrides):
    """Return a Redis Manager whose server, state and backups live under
    ``root / name`` on a free port (not prepared yet)."""
    base = root / name
    conf = cfg.ConfigOpts()
    # A group by name: a shared OptGroup object would share overrides
    # between the ConfigOpts of two servers.
    conf.register_opts(copy.deepcopy(options.GUEST_OPTS),
                       group=options.GROUP.name)
    conf([], project="trove-test")
    helpers.allow_all_tiers(conf)
    settings = dict(
        port=testing.server_port(), bind_address="127.0.0.1",
        mount_point=str(base / "data"),
        config_file=str(base / "etc" / "redis.conf"),
        backup_storage_root=str(root / "backups"),
        start_timeout=30, replication_timeout=30,
        # pytest's directories are root-only: the server runs as the
        # test's own user here (test_redis_service_user runs it as redis)
        service_user=getpass.getuser())
    settings.update(overrides)
    for key, value in settings.items():
        conf.set_override(key, value, group="redis")
    return manager_mod.Manager("redis", conf, base / "state",
                               reporter=RecordingReporter())


def _require_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install "
                    "redis-server)")


@pytest.fixture(scope="module")
def redis_root(tmp_path_factory):
    """A module-wide scratch directory for servers and backups."""
    _require_redis()
    return tmp_path_factory.mktemp("redis")


@pytest.fixture(scope="module")
def prepared(redis_root):
    """One prepared Redis server (stopped after the module)."""
    mgr = make_manager(redis_root, "primary")
    mgr.prepare(memory_mb=256, packages=[], databases=[], users=[])
    yield mgr
    mgr.do_stop()


@pytest.fixture
def make(redis_root):
    """Build extra managers; their servers stop after the test."""
    made = []

    def factory(name, **overrides):
        mgr = make_manager(redis_root, name, **overrides)
        made.append(mgr)
        return mgr
    yield factory
    for mgr in made:
        mgr.do_stop()


@pytest.fixture(scope="module")
def make_member(redis_root):
    """Build and prepare Redis Cluster members (cluster mode, bus port
    free); their servers stop after the module."""
    made = []

    def factory(name, **overrides):
        settings = dict(port=testing.cluster_port(),
                        cluster_node_timeout=3000, cluster_meet_timeout=20)
        settings.update(overrides)
        mgr = make_manager(redis_root, name, **settings)
        made.append(mgr)
        mgr.prepare(memory_mb=None, packages=[], databases=[], users=[],
                    cluster_config={"id": "c-redis",
                                    "instance_type": "member"})
        return mgr
    yield factory
    for mgr in made:
        mgr.do_stop()


@pytest.fixture(scope="module")
def new_manager():
    """:func:`make_manager` itself, for tests that choose the directory
    (and the service user) of their servers."""
    return make_manager

