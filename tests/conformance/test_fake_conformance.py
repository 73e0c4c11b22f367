"""The fake datastore passes the conformance kit."""

import pytest

from trove_guest_base import testing
from trove_guest_base import conformance


class TestFakeConformance(conformance.DatastoreSuite):
    """The fake datastore, driven through its registered entry points."""

    datastore = "fake"

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls, tmp_path_factory):
        """New fake instances sharing one backup directory."""
        with testing.Spawner("fake", tmp_path_factory.mktemp("fake"),
                             testing.FakeProbe) as spawn:
            yield spawn

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Dynamic overrides of the fake's configuration schema."""
        return {"max_connections": 321, "log_level": "debug"}
