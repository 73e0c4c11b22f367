"""A fleet's cost on the broker, a cluster losing a node, and a broker
under pressure. Every test here runs on RabbitMQ nodes it starts itself
(:mod:`trove_guest_base.testing.rabbitmq`), never on the shared broker."""

import concurrent.futures
import os
import time

import pytest

from trove_core import client as client_mod
from trove_core import exceptions
from trove_core.tools.credentials import broker
from trove_guest_base.testing import fleet as fleet_mod
from trove_guest_base.testing import rabbitmq
from trove_guest_base import net
from trove_guest_base import service

pytestmark = [pytest.mark.rabbitmq]


def wait_for(predicate, timeout=120):
    """Poll ``predicate`` until it holds (the guest's own helper)."""
    return net.wait_until(predicate, timeout, "the test's condition")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A private RabbitMQ node shared by this module's tests."""
    node = rabbitmq.RabbitNode(tmp_path_factory.mktemp("rabbit"),
                               prefix="trove-fleet-test")
    try:
        node.start()
    except rabbitmq.RabbitUnavailable as exc:
        node.kill()
        print("skipping: %s" % exc)
        pytest.skip(str(exc))
    yield node
    node.stop(timeout=60)


@pytest.fixture
def make_fleet(node, tmp_path):
    """Factory of provisioned fleets on :func:`node`, with a conductor
    and an administrator transport; all killed at the end of the test
    (their users go with the private node at the end of the module)."""
    made = []
    ctl = node.rabbitmqctl()
    transport = fleet_mod.rpc_transport(node.url)

    def factory(size, **kwargs):
        fleet = fleet_mod.Fleet(ctl, node.host_url,
                                tmp_path / ("f%d" % len(made)), size,
                                conductor_topic="conductor-%d" % len(made),
                                **kwargs)
        fleet.provision()
        fleet.conductor = fleet_mod.Conductor(transport,
                                              fleet.conductor_topic)
        fleet.clients = [client_mod.GuestClient(gid, transport=transport)
                         for gid in fleet.ids]
        made.append(fleet)
        return fleet

    yield factory
    for fleet in made:
        fleet.kill()
        fleet.conductor.stop()
    transport.cleanup()


def guest_rows(node, fleet, command, *items):
    """Rows of ``command`` whose first item is one of the fleet's users."""
    users = {p.username for p in fleet.policies}
    return [row for row in node.rows(command, "user", *items)
            if row[0] in users]


def queues_of(node, guest_id):
    """``{name: consumers}`` of one guest's queues."""
    prefix = "guestagent.%s" % guest_id
    return {row[0]: int(row[1])
            for row in node.rows("list_queues", "name", "consumers")
            if row[0] == prefix or row[0].startswith(prefix + ".")
            or row[0].startswith(prefix + "_fanout")}


class TestGuestBrokerCost:
    """What one guest holds on the broker, and that it stays bounded."""

    def test_connections_channels_queues_bounded(self, node, make_fleet):
        """Under 3 rounds of 20 concurrent calls and 1 s heartbeats a
        guest holds at most 1 + GUEST_CONN_POOL_SIZE connections and 3
        queues, and calls leave no reply queue or consumer behind."""
        fleet = make_fleet(1, default={"report_interval": "1"})
        fleet.start()
        gid, client = fleet.ids[0], fleet.clients[0]
        client.wait_until_up(timeout=60)
        reply_before = sum(1 for row in node.rows("list_queues", "name")
                           if row[0].startswith("reply_"))
        queues_before = queues_of(node, gid)
        for _round in range(3):
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(lambda _i: client.rpc_ping(),
                                        range(20)))
            assert answers == [True] * 20
        assert wait_for(lambda: len(fleet.conductor.heartbeats) >= 3)
        connections = guest_rows(node, fleet, "list_connections", "name")
        assert 1 <= len(connections) <= 1 + service.GUEST_CONN_POOL_SIZE
        channels = guest_rows(node, fleet, "list_channels", "name")
        assert len(channels) <= len(connections)
        after = queues_of(node, gid)
        # topic, topic.server and one fanout queue, one consumer each
        assert after == queues_before
        assert len(after) == 3 and set(after.values()) == {1}
        assert sum(1 for row in node.rows("list_queues", "name")
                   if row[0].startswith("reply_")) == reply_before

    def test_dead_guest_queues_expire(self, node, make_fleet):
        """With the expiry policy set, the queues of a guest killed -9
        are deleted once unused for the expiry; a live guest's stay."""
        ctl = node.rabbitmqctl()
        ctl.set_queue_expiry(expires=3)
        try:
            fleet = make_fleet(2)
            fleet.start()
            dead, alive = fleet.guests
            assert len(queues_of(node, dead.guest_id)) == 3
            dead.kill()
            assert wait_for(lambda: not queues_of(node, dead.guest_id))
            time.sleep(4)
            assert len(queues_of(node, alive.guest_id)) == 3
            assert fleet.clients[1].rpc_ping() is True
        finally:
            ctl.clear_queue_expiry()

    @pytest.mark.parametrize("kwargs, match", [
        pytest.param({"expires": 0}, "expires must be a positive",
                     id="zero"),
        pytest.param({"expires": -5}, "expires must be a positive",
                     id="negative"),
        pytest.param({"expires": "10"}, "expires must be a positive",
                     id="text"),
        pytest.param({"expires": True}, "expires must be a positive",
                     id="bool"),
        pytest.param({"max_length": 0}, "max-length must be a positive",
                     id="max-length"),
    ])
    def test_queue_expiry_bad_values(self, kwargs, match):
        """Bad expiry values are refused before any command runs."""
        ctl = broker.Rabbitmqctl(binary="/nonexistent/rabbitmqctl")
        with pytest.raises(exceptions.BadRequest, match=match):
            ctl.set_queue_expiry(**kwargs)

    def test_create_many_refuses_existing_and_duplicates(self, node):
        """A batch naming an existing user, or a guest twice, changes
        nothing and says what to do."""
        ctl = node.rabbitmqctl()
        tag = os.urandom(3).hex()
        first = broker.GuestBrokerPolicy("dup-%s-a" % tag)
        second = broker.GuestBrokerPolicy("dup-%s-b" % tag)
        ctl.create_many([(first, "p" * 20)])
        try:
            with pytest.raises(exceptions.BrokerError,
                               match="exist already.*nothing was changed"):
                ctl.create_many([(second, "p" * 20), (first, "p" * 20)])
            assert second.username not in ctl.list_usernames()
            with pytest.raises(exceptions.BrokerError,
                               match="listed twice"):
                ctl.create_many([(second, "p" * 20), (second, "q" * 20)])
            assert second.username not in ctl.list_usernames()
            with pytest.raises(exceptions.BrokerError,
                               match="do not exist.*nothing was deleted"):
                ctl.delete_many([first, second])
            assert first.username in ctl.list_usernames()
        finally:
            ctl.delete_many([first, second], missing_ok=True)
        assert first.username not in ctl.list_usernames()

    @pytest.mark.slow
    def test_200_guest_users(self, node):
        """200 guest users are created in one import (with their
        permissions, topic permissions and limits), work, and are
        removed; both are timed."""
        ctl = node.rabbitmqctl(timeout=300)
        tag = os.urandom(3).hex()
        pairs = [(broker.GuestBrokerPolicy("bulk-%s-%03d" % (tag, i),
                                           max_connections=3),
                  os.urandom(12).hex()) for i in range(200)]
        started = time.perf_counter()
        assert ctl.create_many(pairs) == 200
        created = time.perf_counter() - started
        names = {policy.username for policy, _p in pairs}
        assert names <= ctl.list_usernames()
        policy, password = pairs[123]
        node.ctl("authenticate_user", policy.username, password)
        limits = node.ctl("list_user_limits", "--user", policy.username)
        assert '"max-connections":3' in limits
        perms = node.rows("list_user_permissions", policy.username)
        assert perms[0][1:] == list(policy.permissions())
        started = time.perf_counter()
        assert ctl.delete_many([p for p, _pw in pairs]) == 200
        removed = time.perf_counter() - started
        assert not names & ctl.list_usernames()
        print("200 guest users: created in %.1f s, removed in %.1f s"
              % (created, removed))


@pytest.mark.slow
class TestClusterFailover:
    """Guests on a 3-node cluster ride out a node killed with -9."""

    def test_kill_one_node(self, tmp_path):
        """Guests naming all three nodes, on quorum queues, reconnect
        to the others, lose no cast and heartbeat again (the resume time
        is printed and bounded only generously)."""
        try:
            rabbitmq.rabbitmq_server_binary()
        except rabbitmq.RabbitUnavailable as exc:
            print("skipping: %s" % exc)
            pytest.skip(str(exc))
        figures = fleet_mod.failover_drill(tmp_path, guests=3, rounds=30)
        print("failover figures: %s" % figures)
        assert figures["topic_queue_types"] == ["quorum"]
        assert figures["guests_on_killed_node"] >= 1
        assert figures["casts_sent"] == 3 * 30
        assert figures["casts_lost"] == 0
        assert figures["all_heartbeating"] is True
        assert figures["heartbeat_resume_max_s"] < 150
        # a guest whose only connection there was a pooled sender opens
        # a new one without oslo.messaging's "Reconnected" line
        assert 1 <= figures["reconnected_logged"] <= \
            figures["guests_on_killed_node"]
        assert figures["running_nodes_after"] == 2
        assert figures["clean_exits"] == 3


class TestOverload:
    """A broker under pressure: the guest's memory stays bounded, it
    says what is wrong, and it serves again when the pressure ends."""

    def test_broker_at_connection_limit(self, node, make_fleet):
        """A guest refused at the broker's connection limit keeps
        running, says so, and consumes once connections are allowed."""
        fleet = make_fleet(1)
        node.ctl("set_vhost_limits", "-p", "/", '{"max-connections": 0}')
        try:
            guest = fleet.guests[0].start()
            assert wait_for(lambda: "it may be at its connection limit"
                            in guest.log())
            time.sleep(3)
            assert guest.proc.poll() is None
            assert not guest.consuming()
            rss = guest.rss_mb()
        finally:
            node.ctl("clear_vhost_limits", "-p", "/")
        assert wait_for(guest.consuming)
        assert "the broker accepted the guest after" in guest.log()
        assert fleet.clients[0].wait_until_up(timeout=60) is True
        assert guest.rss_mb() < rss + 10
        assert fleet.stop() == [0]

    def test_heartbeats_refused_then_resumed(self, node, make_fleet):
        """At its own connection limit (one: the consumer's) a guest's
        heartbeats are given up with one clear warning, not queued; they
        resume, and say so, when the limit is raised."""
        fleet = make_fleet(1, default={"report_interval": "1"})
        policy = fleet.policies[0]
        node.ctl("set_user_limits", policy.username,
                 '{"max-connections": 1}')
        guest = fleet.guests[0]
        fleet.start()
        assert wait_for(lambda: "could not send heartbeat to the conductor"
                        in guest.log())
        time.sleep(5)
        assert guest.log().count("could not send heartbeat") == 1
        rss = guest.rss_mb()
        node.ctl("set_user_limits", policy.username, policy.user_limits())
        assert wait_for(lambda: "heartbeats to the conductor resumed"
                        in guest.log())
        started = time.monotonic()
        assert wait_for(lambda: fleet.conductor.since(started))
        assert fleet.clients[0].rpc_ping() is True
        assert guest.rss_mb() < rss + 10
        assert fleet.stop() == [0]

    def test_heartbeat_flood_slow_conductor_memory_alarm(self, node,
                                                         make_fleet):
        """Guests heartbeating every second to a conductor that takes
        half a second each, then a broker memory alarm blocking every
        publisher: guest memory stays flat, they answer calls while the
        conductor lags, the guests log the block, and the conductor gets
        fresh heartbeats from every guest once both pressures end."""
        fleet = make_fleet(4, default={"report_interval": "1"})
        fleet.conductor.delay = 0.5
        fleet.start()
        time.sleep(3)
        before = [g.rss_mb() for g in fleet.guests]
        flood = time.monotonic()
        time.sleep(10)
        # about 4 heartbeats a second went out, 2 a second were taken
        taken = len(fleet.conductor.since(flood))
        assert taken < 3 * (time.monotonic() - flood)
        assert all(c.rpc_ping() is True for c in fleet.clients)
        node.ctl("set_vm_memory_high_watermark", "absolute", "10MB")
        try:
            assert wait_for(lambda: all(
                "The broker has blocked the connection" in g.log()
                for g in fleet.guests))
            time.sleep(5)
            for guest in fleet.guests:
                assert guest.proc.poll() is None
        finally:
            node.ctl("set_vm_memory_high_watermark", "0.4")
        after = [g.rss_mb() for g in fleet.guests]
        assert all(a < b + 10 for a, b in zip(after, before, strict=True))
        fleet.conductor.delay = 0
        relieved = time.time()
        assert wait_for(lambda: all(
            fleet.conductor.last_sent.get(gid, 0) > relieved
            for gid in fleet.ids), timeout=180)
        assert all("The broker has unblocked the connection" in g.log()
                   for g in fleet.guests)
        assert all(c.rpc_ping() is True for c in fleet.clients)
        assert fleet.stop() == [0] * 4
