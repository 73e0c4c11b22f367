"""The MongoDB plugin against the conformance kit, on real mongod servers
it starts itself (TROVE_TEST_MONGOD = a mongod binary path).

Without such a binary the whole module is skipped before any kit test
is collected, so no conformance report is written: a report is evidence
only when a server was really there.
"""

import pytest

from trove_guest_base import testing
from trove_ds_mongodb import testing as mongo_testing
from trove_guest_base import conformance

pytestmark = pytest.mark.mongodb

_TARGET = mongo_testing.live_target()
if _TARGET is None or _TARGET[0] != "binary":
    pytest.skip("%s is not a mongod binary path: the MongoDB conformance kit "
                "starts its own servers and runs only with one"
                % mongo_testing.ENV_VAR, allow_module_level=True)


class TestMongoDBConformance(conformance.DatastoreSuite):
    """Real mongod servers started through the plugin's prepare."""

    datastore = "mongodb"
    supports_hosts = False

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls, tmp_path_factory):
        """New mongod servers on free ports sharing one backup storage."""
        with testing.Spawner(
                "mongodb", tmp_path_factory.mktemp("mongodb"),
                mongo_testing.MongoProbe,
                options=mongo_testing.spawner_options(_TARGET[1])) as spawn:
            yield spawn

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Dynamic overrides of the plugin's schema."""
        return {"systemLog.verbosity": 1,
                "setParameter.cursorTimeoutMillis": 120000}
