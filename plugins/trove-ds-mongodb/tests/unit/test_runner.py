"""The MongoDB manager supervises mongod through the core's runner."""

from trove_guest_base import process


class TestRunner:
    """Runner selection from the common guest options."""

    def test_child_runs_server_binary(self, mongo_manager):
        """runner=child runs server_binary on config_file."""
        runner = mongo_manager.runner
        assert isinstance(runner, process.ChildRunner)
        assert runner.argv == ["mongod", "--config",
                               mongo_manager.options.config_file]

    def test_systemd_drives_the_unit(self, mongo_manager):
        """runner=systemd drives systemd_unit."""
        mongo_manager.conf.set_override("runner", "systemd", "mongodb")
        assert mongo_manager.runner.unit == "mongod.service"
