"""Issue 19 point 2 for Redis, live: a guest running as root starts
redis-server through the plugin's own runner as ``service_user``
(``redis``), hands it the data directory, and the server works as that
user through ACL saves, a restart, a backup and a restore."""

import os
import pwd
import shutil
import stat
import tempfile

import pytest

from trove_core import models

pytestmark = pytest.mark.redis


def _uids(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Uid:"):
                return {int(u) for u in line.split()[1:]}
    raise AssertionError("no Uid line for pid %d" % pid)


@pytest.fixture(scope="module")
def redis_account():
    """The ``redis`` account, when this run can switch to it."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install "
                    "redis-server)")
    if os.geteuid() != 0:
        pytest.skip("only root can start a server as another user; run "
                    "the tests as root to check service_user")
    try:
        return pwd.getpwnam("redis")
    except KeyError:
        pytest.skip("no 'redis' account (apt-get install redis-server "
                    "makes it)")


@pytest.fixture(scope="module")
def root_dir(redis_account):
    """A directory the redis user can enter (pytest's are root-only)."""
    from pathlib import Path

    path = tempfile.mkdtemp(prefix="trove-redis-user-")
    os.chmod(path, 0o711)  # noqa: S103 - enter, not list
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_server_runs_as_service_user(root_dir, redis_account, new_manager):
    """prepare starts redis-server as redis; its files are redis's and
    ACL SAVE, restart, backup and restore work as that user."""
    made = []
    try:
        source = new_manager(root_dir, "src", service_user="redis")
        made.append(source)
        assert source.options.service_user == "redis"
        source.prepare(memory_mb=None, packages=[], databases=[],
                       users=[])
        pid = source.runner.pid
        assert _uids(pid) == {redis_account.pw_uid}
        for path in (source.data_dir, source.acl_file,
                     source.options.config_file):
            assert os.stat(path).st_uid == redis_account.pw_uid, path
        assert stat.S_IMODE(os.stat(source.options.config_file).st_mode) \
            == 0o600
        # the server itself rewrites its ACL file
        source.create_user([models.User(name="alice", password="Pw-1-x",
                                         databases=(models.Database("a"),))])
        with open(source.acl_file, encoding="utf-8") as handle:
            assert "user alice" in handle.read()
        source.client().set("k", "v")
        source.restart()
        assert _uids(source.runner.pid) == {redis_account.pw_uid}
        source.create_backup({"id": "as-redis"})
        done = source.reporter.backups[-1][1]
        assert done["state"] == "COMPLETED"

        target = new_manager(root_dir, "dst", service_user="redis")
        made.append(target)
        target.prepare(memory_mb=None, packages=[], databases=[],
                       users=[], backup_info={
                           "id": "as-redis", "location": done["location"],
                           "checksum": done["checksum"]})
        assert _uids(target.runner.pid) == {redis_account.pw_uid}
        assert target.client().get("k") == "v"
        assert os.stat(target.rdb_path).st_uid == redis_account.pw_uid
    finally:
        for mgr in made:
            mgr.do_stop()


def test_closed_parent_is_named(redis_account, tmp_path, new_manager):
    """A data directory the service user cannot reach fails the start
    naming the parent to open, before any server runs."""
    from trove_core import exceptions

    mgr = new_manager(tmp_path, "closed", service_user="redis")
    os.chmod(tmp_path, 0o700)
    with pytest.raises(exceptions.DatastoreError,
                       match=r"service user 'redis' cannot enter") as info:
        mgr.prepare(memory_mb=None, packages=[], databases=[], users=[])
    assert "chmod o+x" in str(info.value)
    assert not mgr.runner.is_running()
