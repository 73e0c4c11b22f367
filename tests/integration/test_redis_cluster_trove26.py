"""Trove 26's own Redis cluster guest client drives a Redis Cluster of
trove-core guests: three masters formed, keys routed, grown to four and
shrunk back to three in the order of Trove's taskmanager and API, with
bad input refused over the wire.

Each member is a real ``trove-guestagent`` on the shared RabbitMQ (its
own topic and conductor queue) starting its own redis-server, in cluster
mode, through the Redis plugin. Trove's client
(``trove.common.strategies.cluster.experimental.redis.guestagent``) runs
in the interpreter named by ``TROVE26_PYTHON``, as in
``test_guest_trove26.py``; the test skips, saying so, without it.
"""

import getpass
import json
import os
import select
import shutil
import subprocess

import pytest

from trove_core import client as client_mod
from trove_guest_base import net

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]

ROOT_PASSWORD = "cluster-root-pw-123"  # noqa: S105 - a test password

# Runs inside Trove's virtualenv: one JSON command per input line, one
# JSON answer per output line, each call made by Trove's Redis cluster
# guest client class exactly as its taskmanager makes it.
_TROVE_DRIVER = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
import oslo_messaging
from trove.common import cfg
CONF = cfg.CONF
CONF([], project="trove")
oslo_messaging.get_rpc_transport(CONF)  # registers transport_url
CONF.set_override("transport_url", sys.argv[1])
from trove import rpc
rpc.set_defaults("trove")
rpc.init(CONF)
from trove.instance import models as instance_models
instance_models.get_instance_encryption_key = lambda instance_id: None
from trove.common import context
from trove.common.strategies.cluster.experimental.redis import guestagent
from trove.guestagent import api

# Trove pre-creates the guest's queue from its database; the guest
# already consumes.
api.API._create_guest_queue = lambda self: None
ctx = context.TroveContext(user_id="u", project_id="p")
guests = {}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    guest = guests.get(request["guest"])
    if guest is None:
        guest = guests[request["guest"]] = guestagent.RedisGuestAgentAPI(
            ctx, request["guest"])
    try:
        result = getattr(guest, request["method"])(**request["kwargs"])
        answer = {"result": result}
    except Exception as exc:
        answer = {"error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(answer), flush=True)
'''


class TroveDriver:
    """Trove's cluster guest client in its own interpreter."""

    def __init__(self, python, url):
        self.proc = subprocess.Popen(
            [python, "-c", _TROVE_DRIVER, url], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._answer(120) == {"ready": True}

    def _answer(self, timeout):
        ready, _w, _x = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "Trove's client did not answer in %s s" % timeout
        line = self.proc.stdout.readline()
        assert line, "Trove's client exited (%s)" % self.proc.poll()
        return json.loads(line)

    def call(self, guest, method, timeout=300, **kwargs):
        """Call ``method`` on ``guest``; return its result, or raise
        AssertionError with the error Trove's client raised."""
        answer = self.attempt(guest, method, timeout, **kwargs)
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def attempt(self, guest, method, timeout=300, **kwargs):
        """Call ``method``; return ``{"result": ...}`` or ``{"error":
        "<type>: <message>"}``."""
        self.proc.stdin.write(json.dumps({
            "guest": guest.guest_id, "method": method,
            "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        return self._answer(timeout)

    def close(self):
        """End the interpreter."""
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def trove26_python():
    """The interpreter of a virtualenv holding trove==26.0.0."""
    python = os.environ.get("TROVE26_PYTHON")
    if not python or not os.path.exists(python):
        reason = ("set TROVE26_PYTHON to the python of a virtualenv with "
                  "trove==26.0.0 (scripts/test.sh builds one)")
        print("skipping: %s" % reason)
        pytest.skip(reason)
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install " \
                 "redis-server)"
        print("skipping: %s" % reason)
        pytest.skip(reason)
    return python


def _wait(predicate, timeout=120):
    return net.wait_until(predicate, timeout, "the test's condition")


class Member:
    """A guest process, its Redis port and its conductor listener."""

    def __init__(self, make_guest, make_conductor, tmp_path_factory,
                 **group):
        from trove_ds_redis import testing

        workdir = str(tmp_path_factory.mktemp("redis-member"))
        self.port = testing.cluster_port()
        settings = {
            "port": self.port, "bind_address": "127.0.0.1",
            "mount_point": os.path.join(workdir, "data"),
            "config_file": os.path.join(workdir, "etc", "redis.conf"),
            "backup_storage_root": os.path.join(workdir, "backups"),
            "start_timeout": 60, "cluster_node_timeout": 3000,
            "cluster_meet_timeout": 30,
            # pytest's directories are closed to the redis account; the
            # service user is tested in the plugin's own suite
            "service_user": getpass.getuser()}
        settings.update(group)
        self.guest = make_guest(datastore="redis", workdir=workdir,
                                group=settings)
        self.guest_id = self.guest.guest_id
        self.conductor = make_conductor(self.guest.conductor_queue)
        self.guest.start()

    def statuses(self):
        """The statuses this guest heartbeated, in order."""
        return self.conductor.statuses(self.guest_id)

    def wait_status(self, wanted, timeout=120):
        """Wait until the last heartbeat's status is one of ``wanted``."""
        _wait(lambda: self.statuses() and self.statuses()[-1] in wanted,
              timeout)

    def stop(self, rpc_transport):
        """stop_db and terminate (Trove deletes the instance)."""
        if self.guest.proc.poll() is None:
            ours = client_mod.GuestClient(self.guest_id,
                                          transport=rpc_transport)
            ours.call("stop_db", timeout=120)
            assert self.guest.terminate() == 0


def _prepare(trove, member):
    trove.call(member, "prepare", memory_mb=256, packages=[],
               databases=[], users=[], device_path=None, mount_point=None,
               backup_info=None, config_contents="", root_password=None,
               overrides=None, cluster_config={
                   "id": "c-trove26", "instance_type": "member"},
               snapshot=None, modules=None, ds_version="7.0")


def _routed(ports):
    import redis
    from redis.cluster import ClusterNode
    from redis.cluster import RedisCluster

    return RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports],
        password=ROOT_PASSWORD, decode_responses=True, socket_timeout=10,
        retry=redis.retry.Retry(redis.backoff.ExponentialBackoff(cap=1),
                                3))


def _assert_keys(ports, count=200):
    client = _routed(ports)
    try:
        assert [client.get("k:%d" % i) for i in range(count)] == [
            "v%d" % i for i in range(count)]
        info = client.cluster_info()
        assert info["cluster_state"] == "ok"
        assert int(info["cluster_slots_assigned"]) == 16384
    finally:
        client.close()


class TestRedisClusterTrove26:
    """Trove 26's Redis cluster strategy against trove-core guests."""

    def test_cluster_formed_grown_shrunk_by_trove(
            self, trove26_python, rabbitmq, rpc_transport, make_guest,
            make_conductor, tmp_path_factory):
        """Create (meet, addslots, complete), keys routed to every
        master; grow (get_node_ip, meet) and shrink
        (get_node_id_for_removal, remove_nodes) as Trove does; bad input
        refused over the wire with the cluster still serving."""
        members = [Member(make_guest, make_conductor, tmp_path_factory)
                   for _ in range(3)]
        extra = Member(make_guest, make_conductor, tmp_path_factory,
                       cluster_meet_timeout=5)
        trove = TroveDriver(trove26_python, rabbitmq)
        try:
            self._run(trove, members, extra)
        finally:
            trove.close()
            for member in members + [extra]:
                member.stop(rpc_transport)

    def _run(self, trove, members, extra):
        # -- create: Instance.create(..., cluster_config=...) -----------
        for member in members:
            _prepare(trove, member)
        for member in members:  # the taskmanager's _all_instances_ready
            member.wait_status({"instance ready"})
            trove.call(member, "enable_root_with_password",
                       root_password=ROOT_PASSWORD)
        head = members[0]
        for member in members[1:]:
            trove.call(member, "cluster_meet", ip="127.0.0.1",
                       port=str(head.port))
        # Trove 26's own split of 16384 slots over 3 members has
        # fractions: the guest refuses it and assigns nothing.
        refused = trove.attempt(members[1], "cluster_addslots",
                                first_slot=16384 / 3 + 1,
                                last_slot=2 * 16384 / 3 - 1)
        assert "not a whole slot number" in refused["error"]
        assert "0-5461, 5462-10922, 10923-16383" in refused["error"]
        for member, (first, last) in zip(members, [
                (0.0, 5461.0), (5462.0, 10922.0), (10923.0, 16383.0)],
                strict=True):
            trove.call(member, "cluster_addslots", first_slot=first,
                       last_slot=last)
        for member in members:
            trove.call(member, "cluster_complete")
        for member in members:
            member.wait_status({"running", "healthy"})
            assert "instance ready" in member.statuses()
            assert "running" not in member.statuses()[
                :member.statuses().index("instance ready")]
        ports = [m.port for m in members]
        client = _routed(ports)
        for i in range(200):
            client.set("k:%d" % i, "v%d" % i)
        client.close()
        import redis

        for port in ports:  # every master holds part of the keys
            direct = redis.Redis(port=port, password=ROOT_PASSWORD,
                                 socket_timeout=10)
            assert 0 < direct.dbsize() < 200
            direct.close()
        _assert_keys(ports)

        # -- bad input over the wire -------------------------------------
        overlap = trove.attempt(members[2], "cluster_addslots",
                                first_slot=0, last_slot=100)
        assert "already served by node" in overlap["error"]
        members[2].wait_status({"failed to spawn"})
        out_of_range = trove.attempt(members[2], "cluster_addslots",
                                     first_slot=16000, last_slot=16384)
        assert "out of range" in out_of_range["error"]
        # a member serving slots gives no id: Trove refuses the shrink
        assert trove.call(members[1], "get_node_id_for_removal") is None
        serving = trove.attempt(members[1], "remove_nodes", node_ids=[
            _node_id(head.port)])
        assert "still serves 5462 slots" in serving["error"]
        trove.call(members[2], "cluster_addslots", first_slot=10923.0,
                   last_slot=16383.0)  # a good retry: no longer failed
        members[2].wait_status({"running", "healthy"})
        _assert_keys(ports)

        # -- grow: Cluster.grow then the taskmanager's grow_cluster ------
        not_member = trove.attempt(extra, "cluster_meet", ip="127.0.0.1",
                                   port=str(head.port))
        assert "not a cluster member" in not_member["error"]
        ip, port = trove.call(head, "get_node_ip")
        assert (ip, port) == ("127.0.0.1", head.port)
        _prepare(trove, extra)
        extra.wait_status({"instance ready"})
        trove.call(extra, "enable_root_with_password",
                   root_password=ROOT_PASSWORD)
        unreachable = trove.attempt(extra, "cluster_meet", ip="127.0.0.1",
                                    port="1")
        assert "no Redis Cluster node answered" in unreachable["error"]
        unknown = trove.attempt(extra, "cluster_meet", ip="head.invalid",
                                port="6379")
        assert "not an IP address" in unknown["error"]
        trove.call(extra, "cluster_meet", ip=ip, port=port)
        # Trove 26's grow never delivers cluster_complete: the new
        # master completes itself once it joined a serving cluster.
        extra.wait_status({"running", "healthy"})
        assert len(_cluster_nodes(head.port)) == 4

        # -- shrink: Cluster.shrink --------------------------------------
        node_id = trove.call(extra, "get_node_id_for_removal")
        assert node_id == _node_id(extra.port)
        for member in members:
            trove.call(member, "remove_nodes", node_ids=[node_id])
        for member in members:
            assert node_id not in _cluster_nodes(member.port)
            assert len(_cluster_nodes(member.port)) == 3
        _assert_keys(ports)


def _cluster_nodes(port):
    import redis

    client = redis.Redis(port=port, password=ROOT_PASSWORD,
                         socket_timeout=10, decode_responses=True)
    try:
        return {line.split()[0]: line for line in client.execute_command(
            "CLUSTER", "NODES").splitlines()}
    finally:
        client.close()


def _node_id(port):
    for node_id, line in _cluster_nodes(port).items():
        if "myself" in line.split()[2]:
            return node_id
    raise AssertionError("no myself entry on port %d" % port)
