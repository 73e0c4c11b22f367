"""The Cassandra manager supervises the node through the core's runner."""

from trove_guest_base import process


class TestRunner:
    """Runner selection from the common guest options."""

    def test_child_runs_server_binary(self, make_cass_manager):
        """runner=child runs server_binary in the foreground."""
        mgr = make_cass_manager("n", server_binary="/opt/c/bin/cassandra")
        runner = mgr.runner
        assert isinstance(runner, process.ChildRunner)
        assert runner.argv[:2] == ["/opt/c/bin/cassandra", "-f"]
        assert runner.env["JMX_PORT"] == "17199"

    def test_systemd_drives_the_unit(self, make_cass_manager):
        """runner=systemd drives systemd_unit."""
        mgr = make_cass_manager("n", runner="systemd")
        assert isinstance(mgr.runner, process.SystemdRunner)
        assert mgr.runner.unit == "cassandra.service"
