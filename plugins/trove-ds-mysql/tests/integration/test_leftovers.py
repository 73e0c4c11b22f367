"""What a guest killed with kill -9 leaves behind is ended at start."""

import os
import stat

import pytest

pytestmark = pytest.mark.mariadb


class TestMaintenanceLeftover:
    """A maintenance server (no grants) never outlives its guest."""

    def test_killed_guest_leftover_is_ended(self, make_manager):
        """The guest is 'killed' inside maintenance (its generator is
        abandoned); the next start finds the server and stops it."""
        manager = make_manager("leftover")
        manager.prepare(memory_mb=512, packages=[], databases=[], users=[])
        manager.server.stop()
        # what maintenance() starts, left running as by a kill -9
        old = manager.server._maintenance_runner()
        old.start(timeout=60)
        manager.server.wait_ready(old, lambda: manager.server.connect(
            "root", "", socket=manager.server.maintenance_socket)).close()
        runner = manager.server._maintenance_runner()
        assert runner.is_running()
        socket_dir = os.path.dirname(manager.server.maintenance_socket)
        assert stat.S_IMODE(os.stat(socket_dir).st_mode) == 0o700
        assert not os.path.exists(manager.server.socket)
        # a new guest starts: recovery ends the leftover first
        manager.recover_after_restart()
        assert not runner.is_running()
        old._proc.wait(timeout=10)  # reap it: we were its parent
        manager.server.start()
        assert manager.probe_status().is_running
