"""Live cluster test of the MongoDB plugin (TROVE_TEST_MONGOD as a mongod
binary): a shard's replica set formed by Trove's calls, in its
taskmanager's order (restart the others, prep_primary and add_members on
the first, cluster_complete on all). Skipped, with the reason printed,
when the variable is unset or names a URL."""

import os
import time
import uuid

import pytest

from trove_core.status import ServiceStatus
from trove_guest_base.testing import helpers
from trove_ds_mongodb import testing

pytestmark = [pytest.mark.mongodb, pytest.mark.slow]


def _spawn(root, mongod, name):
    options = testing.spawner_options(mongod)(os.fspath(root / name))
    options.update(mount_point=os.fspath(root / name / "data"),
                   backup_storage_root=os.fspath(root / "backups"),
                   bind_address="127.0.0.1")
    return helpers.make_manager("mongodb", root / name, **options)


def test_mongodb_cluster_shard_replica_set(mongod_binary, tmp_path):
    """Two shard members prepared with Trove's cluster_config report
    instance ready, form replica set rs1, then report healthy."""
    key = "trove-%s" % uuid.uuid4()
    config = {"id": "c-%s" % uuid.uuid4().hex[:8], "instance_type":
              "member", "replica_set_name": "rs1", "key": key,
              "shard_id": "s-1"}
    members = [_spawn(tmp_path, mongod_binary, "m%d" % i) for i in (0, 1)]
    try:
        for mgr in members:
            mgr.prepare(memory_mb=512, packages=[], databases=[], users=[],
                        cluster_config=dict(config))
            assert mgr.refresh_status() is ServiceStatus.INSTANCE_READY
        first, other = members
        other.restart()
        first.operation("prep_primary")()
        first.operation("add_members")([other.host])
        assert first.operation("get_replica_set_name")() == "rs1"
        with first._replica_set() as rs:
            deadline = time.monotonic() + 60
            while not rs.is_primary():
                assert time.monotonic() < deadline
                time.sleep(0.5)
            status = rs._command({"replSetGetStatus": 1})
        assert sorted(m["stateStr"] for m in status["members"]) == [
            "PRIMARY", "SECONDARY"]
        for mgr in members:
            mgr.operation("cluster_complete")()
            assert mgr.status is ServiceStatus.HEALTHY
    finally:
        for mgr in members:
            mgr.do_stop()
