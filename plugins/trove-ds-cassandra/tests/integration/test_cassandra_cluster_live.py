"""Live ring calls of the Cassandra plugin (TROVE_TEST_CASSANDRA as a
launcher): one node prepared as a ring member goes through Trove's
create steps (set_seeds, set_auto_bootstrap, restart, cluster_secure,
cluster_complete) and a cleanup. Skipped, with the reason printed, when
the variable is unset or names a running node."""

import os
import uuid

import pytest

from trove_core.status import ServiceStatus
from trove_guest_base.testing import helpers
from trove_ds_cassandra import testing

pytestmark = [pytest.mark.cassandra, pytest.mark.slow]


def test_cassandra_cluster_ring_member(cassandra_binary, tmp_path):
    """A ring member reports instance ready until cluster_complete; the
    ring calls change what they say; its new admin password works."""
    options = testing.spawner_options(cassandra_binary)(os.fspath(tmp_path))
    options.update(mount_point=os.fspath(tmp_path / "data"),
                   backup_storage_root=os.fspath(tmp_path / "backups"))
    mgr = helpers.make_manager("cassandra", tmp_path, **options)
    probe = testing.CassandraProbe(mgr)
    try:
        mgr.prepare(memory_mb=1024, packages=[], databases=[], users=[],
                    cluster_config={"id": "ring-%s" % uuid.uuid4().hex[:6],
                                    "instance_type": "member"})
        assert mgr.refresh_status() is ServiceStatus.INSTANCE_READY
        mgr.operation("set_seeds")([mgr.listen_address])
        mgr.operation("set_auto_bootstrap")(False)
        mgr.restart()
        assert mgr.operation("get_seeds")() == [mgr.listen_address]
        creds = mgr.operation("cluster_secure")("Ring-pass-%s"
                                                % uuid.uuid4().hex[:6])
        assert probe.can_login(creds["username"], creds["password"])
        mgr.operation("node_cleanup_begin")()
        mgr.node_cleanup()
        mgr.operation("cluster_complete")()
        assert mgr.refresh_status().is_running
        assert mgr.status is not ServiceStatus.INSTANCE_READY
    finally:
        mgr.do_stop()
