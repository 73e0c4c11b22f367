"""Many real ``trove-guestagent`` processes on one broker, for the fleet
benchmark (``bench/fleet.py``) and the broker tests.

:class:`Fleet` gives every guest its own broker user (made in one
``import_definitions`` by
:meth:`~trove_core.tools.credentials.broker.Rabbitmqctl.create_many`,
limited to the guest's own queues), writes its two config
files (the fake datastore by default) and starts the processes;
:class:`Conductor` stands in for Trove's conductor and records the
heartbeats it takes, with the time it took them.
"""

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

__all__ = ["CONSUMING", "Conductor", "Fleet", "FleetGuest", "release",
           "rss_mb"]

LOG = logging.getLogger(__name__)

#: What a guest logs once it consumes its topic.
CONSUMING = "consuming on topic"


def release(conductor=None, transport=None, fleet=None):
    """Tear down what a fleet run started, whichever of it exists: the
    conductor stand-in, the RPC transport, the guests (killed)."""
    if conductor is not None:
        conductor.stop()
    if transport is not None:
        transport.cleanup()
    if fleet is not None:
        fleet.kill()


def rss_mb(pid):
    """The resident memory of process ``pid`` in MB (10^6 bytes), or
    ``None`` when it is gone."""
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


class FleetGuest:
    """One guest process of a :class:`Fleet`.

    :param workdir: its private directory.
    :param guest_id: its id.
    :param url: its own ``transport_url``.
    :param conductor_topic: ``[DEFAULT] conductor_queue``.
    :param default: more ``[DEFAULT]`` options.
    :param sections: more sections: ``{name: {option: value}}``.
    :param datastore: ``datastore_manager`` (``fake`` by default).
    """

    def __init__(self, workdir, guest_id, url, conductor_topic,
                 default=None, sections=None, datastore="fake"):
        self.workdir = os.fspath(workdir)
        self.guest_id = guest_id
        self.proc = None
        self.started = None
        os.makedirs(self.workdir, exist_ok=True)
        options = {"transport_url": url, "control_exchange": "trove",
                   "state_path": os.path.join(self.workdir, "state"),
                   "allowed_tiers": "stable,technical-preview,experimental",
                   "conductor_queue": conductor_topic,
                   "graceful_shutdown_timeout": "10"}
        options.update(default or {})
        groups = {datastore: {
            "mount_point": os.path.join(self.workdir, "data"),
            "backup_storage_root": os.path.join(self.workdir, "backups"),
        } if datastore == "fake" else {}}
        for name, values in (sections or {}).items():
            groups.setdefault(name, {}).update(values)
        self.info_file = os.path.join(self.workdir, "guest_info.conf")
        self.conf_file = os.path.join(self.workdir, "trove-guestagent.conf")
        with open(self.info_file, "w", encoding="utf-8") as handle:
            handle.write("[DEFAULT]\nguest_id = %s\ndatastore_manager = "
                         "%s\n" % (guest_id, datastore))
        fd = os.open(self.conf_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("[DEFAULT]\n")
            for key, value in options.items():
                if value is not None:
                    handle.write("%s = %s\n" % (key, value))
            for name, values in groups.items():
                handle.write("[%s]\n" % name)
                for key, value in values.items():
                    handle.write("%s = %s\n" % (key, value))
        self.log_path = os.path.join(self.workdir, "guest.log")

    def start(self):
        """Start the process; its output goes to :attr:`log_path`."""
        script = os.path.join(os.path.dirname(sys.executable),
                              "trove-guestagent")
        with open(self.log_path, "ab") as log:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                [script, "--config-file", self.info_file,
                 "--config-file", self.conf_file],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        return self

    def log(self):
        """Everything the guest logged so far."""
        try:
            with open(self.log_path, encoding="utf-8",
                      errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def consuming(self):
        """Whether the guest logged that it consumes its topic."""
        return CONSUMING in self.log()

    def rss_mb(self):
        """The guest's resident memory in MB."""
        return rss_mb(self.proc.pid) if self.proc else None

    def terminate(self, timeout=60):
        """SIGTERM the guest and return its exit status (it is killed
        when it does not exit within ``timeout`` s)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self):
        """SIGKILL the guest if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Fleet:
    """``size`` guests, each with its own broker user.

    :param ctl: a :class:`~trove_core.tools.credentials.broker.Rabbitmqctl` for
        the broker (or one node of the cluster).
    :param url_for: called with ``(username, password)``; returns the
        transport URL the guests use (one host, or every cluster node).
    :param directory: a private directory (one sub-directory per guest).
    :param size: the number of guests.
    :param conductor_topic: the conductor's topic.
    :param default: more ``[DEFAULT]`` options for every guest.
    :param sections: more sections for every guest.
    :param prefix: the guest ids' prefix (a random suffix follows).
    """

    def __init__(self, ctl, url_for, directory, size,
                 conductor_topic="fleet-conductor", default=None,
                 sections=None, prefix="fleet"):
        from trove_core.tools.credentials import broker

        self.ctl = ctl
        self.conductor_topic = conductor_topic
        run = secrets.token_hex(3)
        self.policies = [
            broker.GuestBrokerPolicy("%s-%s-%04d" % (prefix, run, i),
                                     conductor_topic=conductor_topic)
            for i in range(size)]
        self._passwords = [secrets.token_urlsafe(24) for _ in range(size)]
        self.guests = [
            FleetGuest(os.path.join(os.fspath(directory), policy.guest_id),
                       policy.guest_id,
                       url_for(policy.username, password), conductor_topic,
                       default=default, sections=sections)
            for policy, password in zip(self.policies, self._passwords,
                                        strict=True)]
        self.provision_seconds = None
        self.removal_seconds = None

    @property
    def ids(self):
        """The guests' ids, in order."""
        return [guest.guest_id for guest in self.guests]

    def provision(self):
        """Create every guest's broker user (timed in
        :attr:`provision_seconds`)."""
        started = time.perf_counter()
        self.ctl.create_many(zip(self.policies, self._passwords, strict=True))
        self.provision_seconds = time.perf_counter() - started
        return self

    def start(self, timeout=600):
        """Start every guest and wait until all consume.

        :returns: seconds from the first start until the last guest
            consumed.
        :raises RuntimeError: a guest exited, or not all consumed in
            time (the first such guest's log tail is in the message).
        """
        first = time.monotonic()
        for guest in self.guests:
            guest.start()
        waiting = list(self.guests)
        deadline = first + timeout
        while waiting:
            waiting = [g for g in waiting if not g.consuming()]
            for guest in waiting:
                if guest.proc.poll() is not None:
                    raise RuntimeError("guest %s exited %s: %s" % (
                        guest.guest_id, guest.proc.returncode,
                        guest.log()[-2000:]))
            if waiting and time.monotonic() > deadline:
                raise RuntimeError("%d guests did not consume within %ss; "
                                   "first: %s" % (len(waiting), timeout,
                                                  waiting[0].log()[-2000:]))
            if waiting:
                time.sleep(0.5)
        return time.monotonic() - first

    def stop(self, timeout=60):
        """SIGTERM every guest at once; returns their exit statuses."""
        for guest in self.guests:
            if guest.proc is not None and guest.proc.poll() is None:
                guest.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        statuses = []
        for guest in self.guests:
            if guest.proc is None:
                statuses.append(None)
                continue
            try:
                # no second SIGTERM: one arriving while Python finalizes
                # would kill the guest
                statuses.append(guest.proc.wait(
                    max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                guest.kill()
                statuses.append(guest.proc.returncode)
        return statuses

    def kill(self):
        """SIGKILL every guest still running."""
        for guest in self.guests:
            guest.kill()

    def remove_users(self, workers=4):
        """Delete every guest's broker user (timed in
        :attr:`removal_seconds`)."""
        started = time.perf_counter()
        count = self.ctl.delete_many(self.policies, missing_ok=True,
                                     workers=workers)
        self.removal_seconds = time.perf_counter() - started
        return count


class Conductor:
    """A stand-in for Trove's conductor that records heartbeats.

    :param transport: an oslo.messaging RPC transport (administrator).
    :param topic: the conductor's topic.
    :param delay: seconds each heartbeat takes to handle, one at a time
        (a slow conductor).
    :ivar heartbeats: ``(instance_id, status, monotonic time)`` tuples.
    :ivar last_sent: ``{instance_id: the sent time (time.time()) of its
        newest heartbeat}``.
    """

    def __init__(self, transport, topic, delay=0.0):
        import oslo_messaging

        from trove_core import rpc

        self.heartbeats = []
        self.last_sent = {}
        self.delay = delay
        self._lock = threading.Lock()
        self._work = threading.Lock()
        conductor = self

        class Endpoint:
            target = oslo_messaging.Target(version=rpc.CONDUCTOR_VERSION)

            def heartbeat(self, ctxt, instance_id, payload, sent=None):
                if conductor.delay:
                    with conductor._work:
                        time.sleep(conductor.delay)
                with conductor._lock:
                    conductor.heartbeats.append(
                        (instance_id, payload.get("service_status"),
                         time.monotonic()))
                    if sent and sent > conductor.last_sent.get(
                            instance_id, 0):
                        conductor.last_sent[instance_id] = sent

            def update_backup(self, ctxt, instance_id, backup_id,
                              sent=None, **fields):
                """Backups are not counted."""

        self.server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="fleet"),
            [Endpoint()])
        self.server.start()

    def since(self, moment):
        """Heartbeats taken at or after ``moment`` (monotonic)."""
        with self._lock:
            return [h for h in self.heartbeats if h[2] >= moment]

    def last_seen(self):
        """``{instance_id: monotonic time of its last heartbeat}``."""
        with self._lock:
            return {i: t for i, _s, t in self.heartbeats}

    def stop(self):
        """Stop listening."""
        self.server.stop()
        self.server.wait()


def rpc_transport(url, **rabbit):
    """An RPC transport to ``url`` on a private ``ConfigOpts`` with
    ``[oslo_messaging_rabbit]`` overrides (``rabbit_quorum_queue=True``:
    the control plane must declare the exchange as the guests do)."""
    from oslo_config import cfg
    from oslo_messaging import opts as messaging_opts

    from trove_core import rpc

    conf = cfg.ConfigOpts()
    conf([], project="trove-fleet")
    for group, group_opts in messaging_opts.list_opts():
        if group == "oslo_messaging_rabbit":
            conf.register_opts(group_opts, group=group)
    for name, value in rabbit.items():
        conf.set_override(name, value, group="oslo_messaging_rabbit")
    return rpc.get_transport(conf, url=url)


def failover_drill(directory, guests=3, rounds=40, interval=0.1,
                   kill_after=0.3, timeout=180):
    """Kill -9 one node of a 3-node cluster while casts flow to guests.

    Starts a :class:`~trove_guest_base.testing.rabbitmq.RabbitCluster`, a
    fleet whose guests name all three nodes (guest ``i`` the node
    ``i % 3`` first, so they spread) with quorum queues and a 1 s
    ``report_interval``; prepares them; then casts ``create_database``
    (one new name per round and guest) from a control plane connected to
    the first node, and ``kill -9`` the other node most guests are
    connected to after ``kill_after`` of the rounds. Every guest must
    answer again and hold every database cast to it.

    :returns: the figures: guests on the killed node, casts sent and
        lost, seconds from the kill until each of those guests'
        heartbeats resumed (max and all), the queue types, and more.
    """
    import itertools

    from trove_core import client as client_mod
    from trove_core import models
    from trove_guest_base.testing import rabbitmq

    directory = os.fspath(directory)
    figures = {"guests": guests, "rounds": rounds}
    started = time.monotonic()
    cluster = rabbitmq.RabbitCluster(os.path.join(directory, "cluster"))
    cluster.start()
    figures["cluster_start_s"] = round(time.monotonic() - started, 1)
    survivor = cluster.nodes[0]
    fleet = conductor = transport = None
    try:
        ctl = survivor.rabbitmqctl(timeout=120)
        ctl.set_queue_expiry(expires=3600)
        order = itertools.count()
        fleet = Fleet(
            ctl, lambda user, password: cluster.url(
                user, password, first=next(order)),
            os.path.join(directory, "guests"), guests,
            default={"report_interval": "1"},
            sections={"oslo_messaging_rabbit": {
                "rabbit_quorum_queue": "true"}})
        fleet.provision()
        transport = rpc_transport(cluster.url(), rabbit_quorum_queue=True)
        conductor = Conductor(transport, fleet.conductor_topic)
        fleet.start(timeout=timeout)
        clients = {gid: client_mod.GuestClient(gid, transport=transport)
                   for gid in fleet.ids}
        for client in clients.values():
            client.wait_until_up(timeout=timeout)
            client.prepare(memory_mb=256, packages=[], databases=[],
                           users=[])
        for client in clients.values():
            client.wait_idle(timeout=timeout)
        queue_types = {row[1] for row in survivor.rows(
            "list_queues", "name", "type") if row[0].startswith(
                "guestagent.") and "_fanout" not in row[0]}
        figures["topic_queue_types"] = sorted(queue_types)
        users = {p.username: p.guest_id for p in fleet.policies}
        connections = survivor.rows("list_connections", "user", "pid")

        def guests_on(node):
            # a connection's pid reads <node@host.N.N.N>
            return sorted({users[user] for user, pid in connections
                           if user in users
                           and pid.startswith("<%s." % node.name)})
        # the node to kill: the one (not the control plane's) most guests
        # hold a connection to; kombu may not take the first host named
        victim = max(cluster.nodes[1:], key=lambda n: len(guests_on(n)))
        on_victim = guests_on(victim)
        figures["guests_on_killed_node"] = len(on_victim)
        sent = {gid: set() for gid in fleet.ids}
        errors = []
        killed_at = None
        for number in range(rounds):
            if killed_at is None and number >= rounds * kill_after:
                victim.kill()
                killed_at = time.monotonic()
            for gid, client in clients.items():
                name = "d%03d" % number
                try:
                    client.create_database(
                        databases=[models.Database(name)])
                    sent[gid].add(name)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors.append("%s %s: %r" % (gid, name, exc))
            time.sleep(interval)
        figures["casts_sent"] = sum(len(v) for v in sent.values())
        figures["cast_errors"] = errors[:5]
        lost = 0
        for gid, client in clients.items():
            client.wait_until_up(timeout=timeout)
            client.wait_idle(timeout=timeout)
            have = {db.name for db in client.list_databases()[0]}
            lost += len(sent[gid] - have)
        figures["casts_lost"] = lost
        resumed = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for gid in fleet.ids:
                after = [t for i, _s, t in conductor.since(killed_at)
                         if i == gid]
                if after and gid not in resumed:
                    resumed[gid] = round(after[0] - killed_at, 2)
            if len(resumed) == guests:
                break
            time.sleep(0.5)
        figures["heartbeat_resume_s"] = {
            gid: resumed.get(gid) for gid in on_victim}
        figures["heartbeat_resume_max_s"] = max(
            (resumed.get(g, float("inf")) for g in on_victim), default=0)
        figures["all_heartbeating"] = len(resumed) == guests
        figures["reconnected_logged"] = sum(
            1 for g in fleet.guests if g.guest_id in on_victim
            and "Reconnected to AMQP server" in g.log())
        figures["running_nodes_after"] = len(cluster.running_nodes(
            via=survivor))
        figures["clean_exits"] = sum(1 for s in fleet.stop() if s == 0)
    finally:
        release(conductor, transport, fleet)
        cluster.stop()
    figures["total_s"] = round(time.monotonic() - started, 1)
    return figures
