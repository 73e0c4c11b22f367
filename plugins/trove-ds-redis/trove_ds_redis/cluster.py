"""Redis Cluster membership: the guest side of Trove's ``redis`` cluster
strategy.

A member runs redis-server with ``cluster-enabled yes``, its own
``cluster-config-file`` (``nodes-<port>.conf`` in the data directory,
written by Redis) and a cluster bus port (``port + 10000`` unless
``cluster_bus_port`` is set). Trove's taskmanager then forms the cluster:
``cluster_meet(ip, port)`` on every member but the first,
``cluster_addslots(first_slot, last_slot)`` on each member, and
``cluster_complete()`` on all. It grows a cluster with ``get_node_ip`` on
an existing member and ``cluster_meet`` on the new ones; it shrinks one
with ``get_node_id_for_removal`` on the leaving members and
``remove_nodes`` on the others. Slots are never moved by Trove.

Every call checks its arguments and the cluster's view before it changes
anything, and checks the result after (``CLUSTER MEET`` answers ``OK``
before any handshake: the guest waits until the peer is really there).
Trove 26 computes slot numbers with true division and sends floats:
integral ones are taken, others are refused with the split to use.
"""

import dataclasses
import ipaddress
import logging
import math
import os
import re

from trove_core import exceptions

__all__ = ["Node", "RedisCluster", "SLOTS", "check_address",
           "check_node_id", "check_slot_range", "parse_nodes",
           "slot_ranges"]

LOG = logging.getLogger(__name__)

#: Number of hash slots of a Redis Cluster.
SLOTS = 16384

_NODE_ID = re.compile(r"[0-9a-f]{40}")
_PORT = re.compile(r"[0-9]{1,5}")


@dataclasses.dataclass(frozen=True)
class Node:
    """One line of ``CLUSTER NODES``."""

    node_id: str
    ip: str
    port: int
    bus_port: int
    flags: frozenset
    master_id: str
    link: str
    slots: tuple  # of (first, last) pairs, inclusive
    pong_received: int = 0  # ms since the epoch

    @property
    def myself(self):
        """Whether this line describes the node answering."""
        return "myself" in self.flags

    @property
    def slot_count(self):
        """How many slots this node serves."""
        return sum(last - first + 1 for first, last in self.slots)

    @property
    def address(self):
        """``ip:port`` as Redis prints it."""
        return "%s:%d" % (self.ip, self.port)

    @property
    def joined(self):
        """Whether the handshake with this node is done and its link up."""
        return ("handshake" not in self.flags and "noaddr" not in self.flags
                and (self.myself or self.link == "connected"))


def parse_nodes(text):
    """Parse a ``CLUSTER NODES`` reply into :class:`Node` objects.

    Importing/migrating markers (``[slot->-id]``) are ignored.
    """
    nodes = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        address = fields[1].split(",", 1)[0]
        hostport, _, bus = address.partition("@")
        ip, _, port = hostport.rpartition(":")
        slots = []
        for item in fields[8:]:
            if item.startswith("["):
                continue
            first, _, last = item.partition("-")
            slots.append((int(first), int(last or first)))
        nodes.append(Node(
            node_id=fields[0], ip=ip, port=int(port or 0),
            bus_port=int(bus or 0), flags=frozenset(fields[2].split(",")),
            master_id=fields[3], link=fields[7], slots=tuple(slots),
            pong_received=int(fields[5])))
    return nodes


def slot_ranges(slots):
    """Collapse sorted slot numbers into ``(first, last)`` pairs."""
    ranges = []
    for slot in slots:
        if ranges and ranges[-1][1] == slot - 1:
            ranges[-1][1] = slot
        else:
            ranges.append([slot, slot])
    return [tuple(pair) for pair in ranges]


def _format_ranges(ranges, limit=5):
    text = ", ".join("%d" % a if a == b else "%d-%d" % (a, b)
                     for a, b in ranges[:limit])
    if len(ranges) > limit:
        text += " and %d more ranges" % (len(ranges) - limit)
    return text


def _slot(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise exceptions.BadRequest(
            reason="%s must be a slot number (0-%d), got %r"
            % (name, SLOTS - 1, value))
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise exceptions.BadRequest(
                reason="%s %r is not a whole slot number; Trove 26 splits "
                "%d slots with true division, which gives fractions when "
                "the member count does not divide %d: use a cluster of 1, "
                "2, 4, 8 or 16 members, or assign whole slot ranges (for "
                "3 masters: 0-5461, 5462-10922, 10923-16383)"
                % (name, value, SLOTS, SLOTS))
        value = int(value)
    if not 0 <= value < SLOTS:
        raise exceptions.BadRequest(
            reason="%s %d is out of range: Redis Cluster slots are 0-%d"
            % (name, value, SLOTS - 1))
    return value


def check_slot_range(first_slot, last_slot):
    """Return ``(first, last)`` as ints.

    :raises BadRequest: a slot is not a whole number (an int or an
        integral float), is outside 0-16383, or ``first > last``.
    """
    first = _slot(first_slot, "first_slot")
    last = _slot(last_slot, "last_slot")
    if first > last:
        raise exceptions.BadRequest(
            reason="first_slot %d is after last_slot %d; give the lower "
            "slot first" % (first, last))
    return first, last


def check_address(ip, port):
    """Return ``(ip, port)`` of a member to meet, checked.

    :param ip: an IPv4 or IPv6 address (Redis's ``CLUSTER MEET`` takes
        addresses, not host names).
    :param port: its client port, an int or a decimal string (Trove
        sends ``"6379"``).
    :raises BadRequest: not an address, or not a port.
    """
    try:
        address = str(ipaddress.ip_address(ip if isinstance(ip, str)
                                           else ""))
    except ValueError:
        raise exceptions.BadRequest(
            reason="cluster member address %r is not an IP address; give "
            "the member's IP address (Redis Cluster does not resolve host "
            "names)" % (ip,)) from None
    if isinstance(port, str) and _PORT.fullmatch(port):
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not (
            0 < port < 65536):
        raise exceptions.BadRequest(
            reason="cluster member port must be 1-65535 (an int or a "
            "decimal string), got %r" % (port,))
    return address, port


def check_node_id(node_id):
    """Return ``node_id`` if it is a Redis Cluster node id (40 hex digits).

    :raises BadRequest: it is not one.
    """
    if not isinstance(node_id, str) or not _NODE_ID.fullmatch(node_id):
        raise exceptions.BadRequest(
            reason="%r is not a Redis Cluster node id (40 lowercase hex "
            "digits, as get_node_id_for_removal returns)" % (node_id,))
    return node_id


class RedisCluster:
    """Cluster operations of one Redis member.

    :param manager: the :class:`~trove_ds_redis.manager.Manager`; its
        server runs in cluster mode.
    """

    def __init__(self, manager):
        self.manager = manager

    # -- configuration ------------------------------------------------------

    @property
    def bus_port(self):
        """The cluster bus port: ``cluster_bus_port`` or ``port + 10000``."""
        opts = self.manager.options
        return opts.cluster_bus_port or opts.port + 10000

    @property
    def config_file(self):
        """The cluster state file Redis owns (``nodes-<port>.conf``)."""
        return os.path.join(self.manager.data_dir,
                            "nodes-%d.conf" % self.manager.options.port)

    def managed_config(self):
        """The redis.conf keys of cluster mode."""
        opts = self.manager.options
        if self.bus_port > 65535:
            raise exceptions.BadRequest(
                reason="the cluster bus port %d (port %d + 10000) is above "
                "65535; set [redis] cluster_bus_port" % (self.bus_port,
                                                         opts.port))
        managed = {
            "cluster-enabled": "yes",
            "cluster-config-file": self.config_file,
            "cluster-port": self.bus_port,
            "cluster-node-timeout": opts.cluster_node_timeout,
        }
        if opts.cluster_announce_ip:
            managed["cluster-announce-ip"] = opts.cluster_announce_ip
        return managed

    # -- the cluster's view ---------------------------------------------------

    def _client(self):
        return self.manager.client()

    @staticmethod
    def _command(client, operation, *args):
        """Run ``CLUSTER <args>``; a refusal becomes a :class:`ClusterError`
        naming ``operation``."""
        import redis

        try:
            return client.execute_command("CLUSTER", *args)
        except redis.RedisError as exc:
            raise exceptions.ClusterError(
                operation=operation, reason="Redis refused CLUSTER %s: %s"
                % (args[0], exc)) from None

    def nodes(self, client=None):
        """This member's view: the parsed ``CLUSTER NODES``."""
        client = client or self._client()
        return parse_nodes(self._command(client, "cluster", "NODES"))

    def others_serve_slots(self):
        """Whether another node of this member's cluster serves slots."""
        return any(n.slots for n in self.nodes() if not n.myself)

    def myself(self, client=None, nodes=None):
        """The :class:`Node` of this member (from ``nodes`` when given)."""
        for node in self.nodes(client) if nodes is None else nodes:
            if node.myself:
                return node
        raise exceptions.ClusterError(
            operation="cluster", reason="CLUSTER NODES lists no 'myself' "
            "entry; is redis-server running in cluster mode?")

    # -- Trove's calls --------------------------------------------------------

    def meet(self, ip, port):
        """Join the cluster of the member at ``ip:port`` and wait until
        the handshake is done.

        The peer's bus port is its port plus this member's bus offset
        (members of one cluster use the same offset, 10000 by default).

        :raises BadRequest: a malformed address, this member itself, or
            a new address while this member already serves slots.
        :raises ClusterError: no cluster node answered there in
            ``cluster_meet_timeout`` seconds; this member is unchanged.
        """
        ip, port = check_address(ip, port)
        opts = self.manager.options
        bus = port + (self.bus_port - opts.port)
        if not 0 < bus < 65536:
            raise exceptions.BadRequest(
                reason="member port %d gives cluster bus port %d (this "
                "member's offset %+d), outside 1-65535; members of one "
                "cluster need the same bus port offset"
                % (port, bus, self.bus_port - opts.port))
        client = self._client()
        me = self.myself(client)
        if port == opts.port and ip in {me.ip, self.manager.host,
                                        opts.cluster_announce_ip}:
            raise exceptions.BadRequest(
                reason="cluster_meet was given this member's own address "
                "%s:%d; give the address of another member" % (ip, port))

        def peer():
            for node in self.nodes(client):
                if (node.ip, node.port) == (ip, port) and node.joined:
                    return node
            return None

        if peer() is not None:
            LOG.info("Redis Cluster member %s:%d is already known", ip,
                     port)
            return
        if me.slots:
            # Trove meets from a new, empty member (create and grow);
            # from a member serving slots, a meet could merge two
            # clusters whose slot claims then fight.
            raise exceptions.BadRequest(
                reason="this member already serves %d slots; call "
                "cluster_meet on the member that joins (one serving no "
                "slots), pointing at a member of the cluster; nothing "
                "was changed" % me.slot_count)
        self._command(client, "cluster_meet", "MEET", ip, str(port),
                      str(bus))
        try:
            node = self.manager.wait_for(
                peer, "Redis Cluster handshake with %s:%d" % (ip, port),
                opts.cluster_meet_timeout)
        except exceptions.TroveError:
            raise exceptions.ClusterError(
                operation="cluster_meet",
                reason="no Redis Cluster node answered at %s:%d (bus port "
                "%d) within %s s; check the member's address, that it was "
                "prepared as a cluster member and that its bus port is "
                "reachable; this member is unchanged" % (
                    ip, port, bus, opts.cluster_meet_timeout)) from None
        LOG.info("met Redis Cluster node %s at %s", node.node_id,
                 node.address)
        # The handshake's PONG names the peer; what it serves comes with
        # the next one. Wait for it (a few seconds at most) so that
        # others_serve_slots() sees a formed cluster as formed.
        first_pong = node.pong_received

        def next_pong():
            for seen in self.nodes(client):
                if seen.node_id == node.node_id:
                    return seen.pong_received > first_pong
            return False

        try:
            self.manager.wait_for(next_pong, "a second PONG", 5)
        except exceptions.TroveError:
            LOG.warning("no second PONG from %s within 5 s", node.address)

    def add_slots(self, first_slot, last_slot):
        """Serve slots ``first_slot`` to ``last_slot`` (inclusive).

        Slots this member already serves are skipped (a retry is safe).

        :raises BadRequest: a slot is malformed or out of range, or
            another node of the cluster already serves one of them
            (nothing is assigned then).
        :raises ClusterError: Redis did not assign them.
        """
        first, last = check_slot_range(first_slot, last_slot)
        client = self._client()
        nodes = self.nodes(client)
        me = self.myself(nodes=nodes)
        for node in nodes:
            if node.myself:
                continue
            clash = [(max(a, first), min(b, last)) for a, b in node.slots
                     if a <= last and b >= first]
            if clash:
                raise exceptions.BadRequest(
                    reason="slots %s of %d-%d are already served by node "
                    "%s (%s); give this member slots no other member "
                    "serves; nothing was assigned" % (
                        _format_ranges(clash), first, last, node.node_id,
                        node.address))
        mine = {s for a, b in me.slots for s in range(a, b + 1)}
        missing = slot_ranges([s for s in range(first, last + 1)
                               if s not in mine])
        for a, b in missing:
            self._command(client, "cluster_addslots", "ADDSLOTSRANGE", a, b)
        mine = {s for a, b in self.myself(client).slots
                for s in range(a, b + 1)}
        lost = [s for s in range(first, last + 1) if s not in mine]
        if lost:
            raise exceptions.ClusterError(
                operation="cluster_addslots",
                reason="Redis does not list slots %s as served here after "
                "CLUSTER ADDSLOTSRANGE" % _format_ranges(slot_ranges(lost)))
        LOG.info("Redis Cluster member serves slots %d-%d", first, last)

    def node_ip(self):
        """Return ``[ip, port]`` other members meet this one at."""
        opts = self.manager.options
        ip = opts.cluster_announce_ip or self.myself().ip or self.manager.host
        return [ip, opts.port]

    def node_id_for_removal(self):
        """Return this member's node id, or ``None`` while it serves slots
        (Trove then refuses the shrink)."""
        me = self.myself()
        if me.slots:
            LOG.warning("Redis Cluster node %s serves %d slots; it cannot "
                        "be removed until they are moved", me.node_id,
                        me.slot_count)
            return None
        return me.node_id

    def remove(self, node_ids):
        """Forget the nodes ``node_ids`` (Trove's shrink, on each member
        that stays).

        Every id is checked before any is forgotten; ids this member does
        not know (already forgotten) are skipped.

        :raises BadRequest: a malformed id, this member's own id, its
            master's, or a node that still serves slots.
        :raises ClusterError: Redis still lists a node after forgetting.
        """
        if isinstance(node_ids, str) or not isinstance(node_ids,
                                                       (list, tuple)):
            raise exceptions.BadRequest(
                reason="node_ids must be a list of node ids, got %r"
                % (node_ids,))
        wanted = [check_node_id(n) for n in node_ids]
        client = self._client()
        nodes = self.nodes(client)
        known = {n.node_id: n for n in nodes}
        me = self.myself(nodes=nodes)
        forget = []
        for node_id in wanted:
            node = known.get(node_id)
            if node is None:
                LOG.info("Redis Cluster node %s is not known here; nothing "
                         "to forget", node_id)
                continue
            if node.myself:
                raise exceptions.BadRequest(
                    reason="remove_nodes was given this member's own id "
                    "%s; call it on the members that stay" % node_id)
            if node_id == me.master_id:
                raise exceptions.BadRequest(
                    reason="node %s is this replica's master; it cannot be "
                    "removed while replicated" % node_id)
            if node.slots:
                raise exceptions.BadRequest(
                    reason="node %s (%s) still serves %d slots (%s); move "
                    "them to other members (redis-cli --cluster reshard) "
                    "before removing it; nothing was removed" % (
                        node_id, node.address, node.slot_count,
                        _format_ranges(list(node.slots))))
            forget.append(node_id)
        for node_id in forget:
            self._command(client, "remove_nodes", "FORGET", node_id)
        left = {n.node_id for n in self.nodes(client)} & set(forget)
        if left:
            raise exceptions.ClusterError(
                operation="remove_nodes",
                reason="Redis still lists nodes %s after CLUSTER FORGET"
                % sorted(left))
        LOG.info("forgot Redis Cluster nodes %s", forget)

    def wait_complete(self, timeout=None):
        """Wait until the cluster serves every slot (``cluster_state:ok``).

        :raises ClusterError: it does not in ``cluster_meet_timeout``
            seconds; the message names the slots nobody serves.
        """
        client = self._client()

        def ok():
            info = self._command(client, "cluster_complete", "INFO")
            return "cluster_state:ok" in str(info)

        try:
            self.manager.wait_for(
                ok, "Redis Cluster state 'ok'",
                timeout or self.manager.options.cluster_meet_timeout)
        except exceptions.TroveError:
            served = {s for n in self.nodes(client) for a, b in n.slots
                      for s in range(a, b + 1)}
            gaps = slot_ranges([s for s in range(SLOTS) if s not in served])
            reason = ("the cluster is not in state 'ok'; "
                      + ("slots %s are served by no member; assign them "
                         "with cluster_addslots" % _format_ranges(gaps)
                         if gaps else "a member serving slots is "
                         "unreachable"))
            raise exceptions.ClusterError(
                operation="cluster_complete", reason=reason) from None
