"""The Redis plugin passes the conformance kit against real servers."""

import shutil

import pytest

from trove_core import testing
from trove_ds_redis import testing as redis_testing
from trove_guest_base import conformance

pytestmark = pytest.mark.redis


class TestRedisConformance(conformance.DatastoreSuite):
    """Real redis-server instances started through the plugin's prepare."""

    datastore = "redis"
    supports_hosts = False

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls):
        """New Redis servers on free ports sharing one backup storage,
        in the spawner's own directory, which a service user can enter:
        run as root, every server runs as the redis user."""
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (apt-get install "
                        "redis-server)")
        with testing.Spawner("redis", None, redis_testing.RedisProbe,
                             options=redis_testing.spawner_options) as spawn:
            yield spawn

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Dynamic overrides from the plugin's schema."""
        return {"maxmemory-policy": "allkeys-lru", "hz": 42}
