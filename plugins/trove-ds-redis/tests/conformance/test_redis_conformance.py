"""The Redis plugin passes the conformance kit against real servers."""

import shutil

import pytest

from trove_guest_base import testing
from trove_ds_redis import testing as redis_testing
from trove_guest_base import conformance
from trove_guest_base.conformance import fixtures
from trove_guest_base.conformance import strategies

pytestmark = pytest.mark.redis


@fixtures.tests_of("cluster_redis")
class RedisClusterFamily:
    """The ``cluster_redis`` family, live: Trove's create, grow and
    shrink calls through the operation gate, keys routed."""

    def test_cluster_redis_form_grow_shrink(self, request, trove_spawn,
                                            trove_prepare_kwargs):
        """Three masters formed in Trove's order serve every slot and
        route keys; a fourth joins and leaves as Trove grows and
        shrinks."""
        import redis
        from redis.cluster import ClusterNode
        from redis.cluster import RedisCluster

        strategies.exercise(request, None, "cluster", "redis-cluster")
        password = "conformance-root-pw-1"  # noqa: S105 - a test value
        members = []
        for _ in range(4):
            mgr = trove_spawn().manager
            mgr.prepare(**dict(trove_prepare_kwargs, cluster_config={
                "id": "conformance", "instance_type": "member"}))
            mgr.enable_root_with_password(password)
            members.append(mgr)
        head, new = members[0], members[3]
        for mgr in members[1:3]:
            mgr.operation("cluster_meet")(head.host, str(head.options.port))
        for mgr, (first, last) in zip(members[:3], (
                (0.0, 5461.0), (5462.0, 10922.0), (10923.0, 16383.0)),
                strict=True):
            mgr.operation("cluster_addslots")(first, last)
        for mgr in members[:3]:
            mgr.operation("cluster_complete")()
            assert mgr.refresh_status().is_running
        client = RedisCluster(
            startup_nodes=[ClusterNode(head.host, head.options.port)],
            password=password, decode_responses=True, socket_timeout=10,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 2))
        try:
            for i in range(100):
                client.set("conformance:%d" % i, str(i))
            assert all(m.client().dbsize() > 0 for m in members[:3])
            ip, port = head.operation("get_node_ip")()
            new.operation("cluster_meet")(ip, port)
            assert new.cluster_member["complete"]
            assert head.operation("get_node_id_for_removal")() is None
            node_id = new.operation("get_node_id_for_removal")()
            for mgr in members[:3]:
                mgr.operation("remove_nodes")([node_id])
            new.do_stop()
            assert [client.get("conformance:%d" % i)
                    for i in range(100)] == [str(i) for i in range(100)]
        finally:
            client.close()


class TestRedisConformance(RedisClusterFamily, conformance.DatastoreSuite):
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

    def form_single_member_cluster(self, manager):
        """A Redis Cluster of one serves all 16384 slots itself."""
        manager.operation("cluster_addslots")(0, 16383)
