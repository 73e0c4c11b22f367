"""Unit tests of the live-target parsing of the Cassandra test helpers."""

import sys

import pytest

from trove_ds_cassandra import testing


class TestLiveTarget:
    """TROVE_TEST_CASSANDRA names a launcher or an address."""

    def test_unset(self):
        """Unset means no live node."""
        assert testing.live_target({}) is None

    @pytest.mark.parametrize("value, expected", [
        pytest.param("127.0.0.1:9042",
                     {"host": "127.0.0.1", "port": 9042,
                      "user": "cassandra", "password": "cassandra"},
                     id="default-credentials"),
        pytest.param("admin:s3cret@db.local:19042",
                     {"host": "db.local", "port": 19042, "user": "admin",
                      "password": "s3cret"}, id="credentials"),
    ])
    def test_address(self, value, expected):
        """host:port, optionally with credentials."""
        assert testing.live_target({testing.ENV_VAR: value}) == (
            "address", expected)

    def test_binary(self):
        """An executable is a launcher."""
        assert testing.live_target(
            {testing.ENV_VAR: sys.executable})[0] == "binary"

    def test_wrong_value(self):
        """Anything else is an error saying what to set."""
        with pytest.raises(ValueError, match="TROVE_TEST_CASSANDRA"):
            testing.live_target({testing.ENV_VAR: "not a target"})

    def test_spawner_options(self, tmp_path):
        """Spawned nodes run as children on loopback with their own
        ports."""
        options = testing.spawner_options("/opt/c/bin/cassandra")(
            str(tmp_path))
        assert options["runner"] == "child"
        assert len({options["port"], options["storage_port"],
                    options["jmx_port"]}) == 3
