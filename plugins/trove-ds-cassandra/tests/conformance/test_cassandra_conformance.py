"""The Cassandra plugin against the conformance kit, on real nodes it
starts itself (TROVE_TEST_CASSANDRA = a cassandra launcher path).

Without such a launcher the whole module is skipped before any kit test
is collected, so no conformance report is written: a report is evidence
only when a server was really there.
"""

import pytest

from trove_guest_base import testing
from trove_ds_cassandra import testing as cassandra_testing
from trove_guest_base import conformance

pytestmark = [pytest.mark.cassandra, pytest.mark.slow]

_TARGET = cassandra_testing.live_target()
if _TARGET is None or _TARGET[0] != "binary":
    pytest.skip("%s is not a cassandra launcher path: the Cassandra "
                "conformance kit starts its own nodes and runs only with one"
                % cassandra_testing.ENV_VAR, allow_module_level=True)


class TestCassandraConformance(conformance.DatastoreSuite):
    """Real Cassandra nodes started through the plugin's prepare."""

    datastore = "cassandra"
    supports_hosts = False

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls, tmp_path_factory):
        """New single-node clusters on free ports sharing one backup
        storage."""
        with testing.Spawner(
                "cassandra", tmp_path_factory.mktemp("cassandra"),
                cassandra_testing.CassandraProbe,
                options=cassandra_testing.spawner_options(
                    _TARGET[1])) as spawn:
            yield spawn

    @pytest.fixture(scope="class")
    @classmethod
    def trove_prepare_kwargs(cls):
        """prepare's arguments, with a base configuration that turns the
        role and permission caches off: the kit checks a change at once,
        where Cassandra would honour a cached grant or password for up to
        two seconds."""
        return {"memory_mb": 1024, "packages": [], "databases": [],
                "users": [], "config_contents":
                "roles_validity_in_ms: 0\npermissions_validity_in_ms: 0\n"
                "credentials_validity_in_ms: 0\n"}

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Dynamic overrides of the plugin's schema (nodetool)."""
        return {"compaction_throughput_mb_per_sec": 48,
                "hinted_handoff_enabled": False}
