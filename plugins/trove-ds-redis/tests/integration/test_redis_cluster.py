"""Live tests of Redis Cluster members: real redis-server processes in
cluster mode, formed, grown and shrunk the way Trove's taskmanager does,
and every bad input refused with the cluster left serving."""

import pytest

from trove_core import exceptions
from trove_core.status import ServiceStatus
from trove_ds_redis import testing

pytestmark = pytest.mark.redis

ROOT_PASSWORD = "cluster-root-pw-123"  # noqa: S105 - a test password
#: whole-number slot ranges of 3 masters (Trove 26 would send fractions)
SPLIT = ((0.0, 5461.0), (5462.0, 10922.0), (10923.0, 16383.0))


def _call(mgr, name, *args):
    """Call an operation the way the guest's RPC endpoint does."""
    return mgr.operation(name)(*args)


def _routed(members):
    import redis
    from redis.cluster import ClusterNode
    from redis.cluster import RedisCluster

    nodes = [ClusterNode(m.host, m.options.port) for m in members]
    return RedisCluster(startup_nodes=nodes, password=ROOT_PASSWORD,
                        decode_responses=True, socket_timeout=10,
                        retry=redis.retry.Retry(
                            redis.backoff.ExponentialBackoff(cap=1), 3))


@pytest.fixture(scope="module")
def formed(make_member):
    """Three masters formed in Trove's order, with 300 keys routed."""
    members = [make_member("m%d" % i) for i in range(3)]
    for mgr in members:
        assert mgr.status is ServiceStatus.INSTANCE_READY
        mgr.enable_root_with_password(ROOT_PASSWORD)
    head_ip, head_port = members[0].host, members[0].options.port
    for mgr in members[1:]:
        _call(mgr, "cluster_meet", head_ip, str(head_port))
    for mgr, (first, last) in zip(members, SPLIT, strict=True):
        _call(mgr, "cluster_addslots", first, last)
    for mgr in members:
        _call(mgr, "cluster_complete")
    client = _routed(members)
    for i in range(300):
        client.set("key:%d" % i, "v%d" % i)
    client.close()
    return members


def _slots(mgr):
    return mgr.cluster.myself().slots


def _assert_serving(members):
    client = _routed(members)
    try:
        assert [client.get("key:%d" % i) for i in range(300)] == [
            "v%d" % i for i in range(300)]
    finally:
        client.close()
    for mgr in members:
        info = mgr.client().execute_command("CLUSTER", "INFO")
        assert "cluster_state:ok" in info


class TestForm:
    """A 3-master cluster formed with Trove's calls."""

    def test_every_slot_served_and_keys_routed(self, formed):
        """All 16384 slots are served, each master holds keys, and every
        member reports its real status once complete."""
        served = sorted(r for m in formed for r in _slots(m))
        assert served == [(0, 5461), (5462, 10922), (10923, 16383)]
        for mgr in formed:
            assert mgr.client().dbsize() > 0
            assert mgr.status is ServiceStatus.RUNNING
            member = mgr.cluster_member
            assert member["complete"] and member["role"] == "master"
            assert member["node_id"] == mgr.cluster.myself().node_id
        _assert_serving(formed)

    def test_config_is_cluster_mode_and_own_files(self, formed):
        """Each member runs in cluster mode with its own state file and
        bus port."""
        for mgr in formed:
            conf = mgr.client().config_get("cluster-*")
            assert conf["cluster-enabled"] == "yes"
            assert conf["cluster-config-file"] == mgr.cluster.config_file
            assert int(conf["cluster-port"]) == mgr.options.port + 10000
        assert len({m.cluster.config_file for m in formed}) == 3

    def test_member_restart_keeps_identity(self, formed):
        """A restarted member comes back with its node id and slots."""
        mgr = formed[2]
        before = mgr.cluster.myself()
        mgr.restart()
        mgr.wait_for(lambda: "cluster_state:ok" in mgr.client(
        ).execute_command("CLUSTER", "INFO"), "cluster ok", 30)
        after = mgr.cluster.myself()
        assert (after.node_id, after.slots) == (before.node_id, before.slots)
        _assert_serving(formed)


class TestGrowShrink:
    """Grow by one master and shrink back, as Trove does."""

    def test_grow_then_shrink(self, formed, make_member):
        """The new member meets the head from get_node_ip, completes
        itself (Trove's grow never calls cluster_complete), then leaves
        through get_node_id_for_removal and remove_nodes."""
        new = make_member("m-new")
        ip, port = _call(formed[0], "get_node_ip")
        assert (ip, port) == ("127.0.0.1", formed[0].options.port)
        _call(new, "cluster_meet", ip, port)
        assert new.cluster_member["complete"]
        assert new.status is ServiceStatus.RUNNING
        ids = {n.node_id for n in formed[1].cluster.nodes()}
        assert new.cluster.myself().node_id in ids and len(ids) == 4

        assert _call(formed[1], "get_node_id_for_removal") is None
        node_id = _call(new, "get_node_id_for_removal")
        assert node_id == new.cluster.myself().node_id
        for mgr in formed:
            _call(mgr, "remove_nodes", [node_id])
        new.do_stop()
        for mgr in formed:
            assert {n.node_id for n in mgr.cluster.nodes()} == ids - {
                node_id}
        _assert_serving(formed)


class TestBadInput:
    """Refusals leave the cluster serving and every key in place."""

    @pytest.mark.parametrize("first,last,match", [
        pytest.param(0, 10, "already served by node", id="overlap"),
        pytest.param(16000, 16384, "out of range", id="out-of-range"),
        pytest.param(5461.333, 10922.667, "not a whole slot",
                     id="fraction"),
    ])
    def test_bad_slots(self, formed, first, last, match):
        """Overlapping, out-of-range and fractional slots are refused,
        the member reports failed, nothing is assigned; a good retry
        clears the failure."""
        mgr = formed[1]
        before = _slots(mgr)
        with pytest.raises(exceptions.BadRequest, match=match):
            _call(mgr, "cluster_addslots", first, last)
        assert mgr.status is ServiceStatus.FAILED
        assert _slots(mgr) == before
        _assert_serving(formed)
        _call(mgr, "cluster_addslots", *SPLIT[1])  # already served: no-op
        assert mgr.status is ServiceStatus.RUNNING
        assert not mgr.cluster_member["failed"]

    def test_remove_of_a_node_serving_slots(self, formed):
        """remove_nodes refuses a node that serves slots; nobody forgets
        it."""
        victim = formed[0].cluster.myself().node_id
        with pytest.raises(exceptions.BadRequest,
                           match="still serves 5462 slots"):
            _call(formed[1], "remove_nodes", [victim])
        assert victim in {n.node_id for n in formed[1].cluster.nodes()}
        _call(formed[1], "remove_nodes", [])  # clears the failure
        _assert_serving(formed)

    @pytest.mark.parametrize("node_ids,match", [
        pytest.param(["not-a-node"], "not a Redis Cluster node id",
                     id="malformed"),
        pytest.param("a" * 40, "must be a list", id="not-a-list"),
    ])
    def test_remove_malformed(self, formed, node_ids, match):
        """Malformed node ids are refused before anything is forgotten."""
        with pytest.raises(exceptions.BadRequest, match=match):
            _call(formed[2], "remove_nodes", node_ids)
        _call(formed[2], "remove_nodes", [])
        _assert_serving(formed)

    def test_meet_self_or_unknown_address(self, formed):
        """A host name, or the member's own address, is refused."""
        mgr = formed[2]
        with pytest.raises(exceptions.BadRequest, match="not an IP"):
            _call(mgr, "cluster_meet", "redis-head.invalid", "6379")
        with pytest.raises(exceptions.BadRequest, match="own address"):
            _call(mgr, "cluster_meet", mgr.host, mgr.options.port)
        _call(mgr, "remove_nodes", [])
        _assert_serving(formed)

    def test_meet_from_a_member_serving_slots(self, formed, make_member):
        """A member that serves slots does not meet a new node (that
        could merge two clusters); the stranger stays out."""
        stranger = make_member("stranger")
        with pytest.raises(exceptions.BadRequest,
                           match="already serves 5461 slots"):
            _call(formed[2], "cluster_meet", stranger.host,
                  stranger.options.port)
        assert len(formed[2].cluster.nodes()) == 3
        assert len(stranger.cluster.nodes()) == 1
        _call(formed[2], "cluster_meet", formed[0].host,
              formed[0].options.port)  # known already: a no-op success
        assert formed[2].status is ServiceStatus.RUNNING
        _assert_serving(formed)

    def test_unreachable_member(self, make_member):
        """Meeting an address where no cluster node answers fails after
        the handshake timeout, with the member failed and unchanged."""
        lone = make_member("lone", cluster_meet_timeout=2)
        nobody = testing.cluster_port()  # neither it nor its bus listens
        with pytest.raises(exceptions.ClusterError,
                           match="no Redis Cluster node answered"):
            _call(lone, "cluster_meet", "127.0.0.1", str(nobody))
        assert lone.status is ServiceStatus.FAILED
        assert lone.cluster_member["failed"]
        assert [n.myself for n in lone.cluster.nodes()
                if n.joined] == [True]

    def test_cluster_calls_on_a_single_instance(self, prepared):
        """A guest prepared without a cluster_config refuses every Redis
        Cluster call before touching its server."""
        for name, args in (("cluster_meet", ("127.0.0.1", "6379")),
                           ("cluster_addslots", (0, 10)),
                           ("get_node_ip", ()),
                           ("remove_nodes", ([],)),
                           ("cluster_complete", ())):
            with pytest.raises(exceptions.NotClusterMember,
                               match=repr(name)):
                _call(prepared, name, *args)
        assert prepared.client().info("cluster")["cluster_enabled"] == 0

    def test_complete_with_uncovered_slots(self, make_member):
        """cluster_complete on a member whose cluster leaves slots unserved
        names them and fails."""
        lone = make_member("partial", cluster_meet_timeout=2)
        _call(lone, "cluster_addslots", 0, 99)
        with pytest.raises(exceptions.ClusterError,
                           match="slots 100-16383 are served by no"):
            _call(lone, "cluster_complete")
        assert lone.status is ServiceStatus.FAILED
        assert not lone.cluster_member["complete"]
