"""A guest killed (kill -9) in the middle of a backup: the next start
reports the backup FAILED instead of leaving it BUILDING."""

import os
import signal
import time

import pytest

from trove_core import models
from trove_ds_redis import testing as redis_testing

pytestmark = pytest.mark.redis


def test_kill_9_during_backup(make):
    """The snapshot is stalled by a tenant's busy script, the guest is
    killed, and recovery settles the backup."""
    mgr = make("kill9")
    mgr.prepare(memory_mb=256, packages=[], databases=[], users=[])
    user, password = "kill9_user", "Kill9-pass-123"
    mgr.create_user([models.User(user, host="%", password=password)])
    journal = os.path.join(mgr.state_dir, "backups-running", "kill9.json")
    with redis_testing.RedisProbe(mgr).tenant_lock(user, password, "db"):
        pid = os.fork()
        if pid == 0:  # the guest, killed below
            try:
                mgr.create_backup({"id": "kill9"})
            finally:
                os._exit(0)
        deadline = time.monotonic() + 60
        while not os.path.exists(journal) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert os.path.exists(journal)
    assert mgr.recover_after_restart() == {"kill9": "FAILED"}
    assert not os.path.exists(journal)
    storage = mgr.backup_storage()
    assert not storage.exists("kill9.rdb.gz")
    assert not os.path.exists(os.path.join(storage.root,
                                           "kill9.rdb.gz.partial"))
