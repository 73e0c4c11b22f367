"""Unit tests of the Redis Cluster argument checks and CLUSTER NODES
parsing (no server)."""

import pytest

from trove_core import exceptions
from trove_ds_redis import cluster

NODES = (
    "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,h "
    "slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 "
    "connected\n"
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 "
    "myself,master - 0 0 1 connected 0-5460 6000 [5461->-abc]\n"
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f :0@0 handshake - "
    "1426238316232 0 0 disconnected\n")


def _trove26_split(members):
    """The slot ranges Trove 26's taskmanager sends (true division)."""
    total, first, ranges = 16384, 0, []
    per, leftover = total / members, total % members
    for _ in range(members):
        last = first + per
        if leftover > 0:
            leftover -= 1
        else:
            last -= 1
        ranges.append((first, last))
        first = last + 1
    return ranges


class TestSlots:
    """cluster_addslots arguments."""

    @pytest.mark.parametrize("members", [1, 2, 4, 8, 16])
    def test_trove_integral_float_split_is_taken(self, members):
        """Trove's float split for a power-of-two member count covers
        0-16383 exactly once as ints."""
        covered = []
        for first, last in _trove26_split(members):
            a, b = cluster.check_slot_range(first, last)
            assert isinstance(a, int) and isinstance(b, int)
            covered.extend(range(a, b + 1))
        assert covered == list(range(cluster.SLOTS))

    def test_trove_three_member_split_is_refused_clearly(self):
        """Trove's 3-member split sends fractions: refused with the
        whole ranges to use."""
        first, last = _trove26_split(3)[1]
        with pytest.raises(exceptions.BadRequest,
                           match="not a whole slot number") as info:
            cluster.check_slot_range(first, last)
        assert "0-5461, 5462-10922, 10923-16383" in str(info.value)

    @pytest.mark.parametrize("first,last,match", [
        pytest.param(-1, 10, "out of range", id="negative"),
        pytest.param(0, 16384, "out of range", id="past-end"),
        pytest.param(0, 16384.0, "out of range", id="float-past-end"),
        pytest.param(10, 5, "after last_slot", id="reversed"),
        pytest.param(float("nan"), 5, "not a whole", id="nan"),
        pytest.param(0, float("inf"), "not a whole", id="inf"),
        pytest.param("0", 5, "must be a slot number", id="string"),
        pytest.param(True, 5, "must be a slot number", id="bool"),
        pytest.param(None, 5, "must be a slot number", id="none"),
    ])
    def test_bad_slots_are_refused(self, first, last, match):
        """Out-of-range, reversed and non-numeric slots are refused."""
        with pytest.raises(exceptions.BadRequest, match=match):
            cluster.check_slot_range(first, last)


class TestAddress:
    """cluster_meet arguments."""

    @pytest.mark.parametrize("ip,port,expected", [
        ("10.0.0.5", "6379", ("10.0.0.5", 6379)),
        ("127.0.0.1", 7001, ("127.0.0.1", 7001)),
        ("::1", "6379", ("::1", 6379)),
    ])
    def test_addresses_taken(self, ip, port, expected):
        """An IP address and an int or decimal-string port."""
        assert cluster.check_address(ip, port) == expected

    @pytest.mark.parametrize("ip,port,match", [
        pytest.param("db-1.example", "6379", "not an IP address",
                     id="hostname"),
        pytest.param("10.0.0.5; FLUSHALL", "6379", "not an IP address",
                     id="injection"),
        pytest.param(None, "6379", "not an IP address", id="none"),
        pytest.param("10.0.0.5", "63 79", "port must be", id="spaced"),
        pytest.param("10.0.0.5", "0", "port must be", id="zero"),
        pytest.param("10.0.0.5", 70000, "port must be", id="too-big"),
        pytest.param("10.0.0.5", True, "port must be", id="bool"),
    ])
    def test_bad_addresses_refused(self, ip, port, match):
        """Host names, junk and bad ports are refused."""
        with pytest.raises(exceptions.BadRequest, match=match):
            cluster.check_address(ip, port)

    def test_node_ids(self):
        """Node ids are 40 lowercase hex digits."""
        good = "a" * 40
        assert cluster.check_node_id(good) == good
        for bad in ("A" * 40, "a" * 39, "", None, "a" * 39 + "\n"):
            with pytest.raises(exceptions.BadRequest, match="node id"):
                cluster.check_node_id(bad)


class TestParse:
    """CLUSTER NODES parsing."""

    def test_nodes(self):
        """Flags, addresses, slot ranges; migration markers skipped."""
        replica, me, stranger = cluster.parse_nodes(NODES)
        assert me.myself and me.joined
        assert me.slots == ((0, 5460), (6000, 6000))
        assert me.slot_count == 5462
        assert (me.ip, me.port, me.bus_port) == ("127.0.0.1", 30001, 31001)
        assert replica.master_id == me.node_id and replica.joined
        assert replica.address == "127.0.0.1:30004"
        assert not stranger.joined and stranger.port == 0

    def test_slot_ranges(self):
        """Slot numbers collapse into ranges."""
        assert cluster.slot_ranges([0, 1, 2, 5, 7, 8]) == [
            (0, 2), (5, 5), (7, 8)]
        assert cluster.slot_ranges([]) == []


class TestClusterConfig:
    """redis.conf keys of cluster mode."""

    def test_base_configuration_cannot_set_cluster_keys(self):
        """A base configuration's cluster keys are dropped; the guest's
        own win."""
        from trove_ds_redis import configuration

        text = configuration.render(
            "cluster-enabled no\ncluster-config-file /etc/passwd\n"
            "cluster-port 1\nhz 20\n",
            {"cluster-enabled": "yes", "cluster-port": 16379}, {})
        assert "/etc/passwd" not in text
        assert "cluster-enabled yes" in text
        assert "cluster-port 16379" in text and "cluster-port 1\n" not in text
        assert "hz 20" in text
