"""Unit tests of the live-target parsing of the MongoDB test helpers."""

import sys

import pytest

from trove_ds_mongodb import testing


class TestLiveTarget:
    """TROVE_TEST_MONGOD names a binary or a URL."""

    def test_unset(self):
        """Unset (or blank) means no live server."""
        assert testing.live_target({}) is None
        assert testing.live_target({testing.ENV_VAR: " "}) is None

    def test_url(self):
        """A mongodb:// URL is a running server."""
        url = "mongodb://root:pw@127.0.0.1:27017"
        assert testing.live_target({testing.ENV_VAR: url}) == ("url", url)

    def test_binary(self):
        """An executable file is a binary to start."""
        found = testing.live_target({testing.ENV_VAR: sys.executable})
        assert found[0] == "binary"

    def test_wrong_value(self, tmp_path):
        """Anything else is an error saying what to set."""
        with pytest.raises(ValueError, match="TROVE_TEST_MONGOD"):
            testing.live_target({testing.ENV_VAR: str(tmp_path / "none")})

    def test_spawner_options(self, tmp_path):
        """Spawned servers are child processes on loopback."""
        options = testing.spawner_options("/opt/mongo/bin/mongod")(
            str(tmp_path))
        assert options["runner"] == "child"
        assert options["bind_address"] == "127.0.0.1"
        assert options["server_binary"] == "/opt/mongo/bin/mongod"
        assert options["config_file"].startswith(str(tmp_path))
