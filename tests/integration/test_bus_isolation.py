"""Guest isolation on a real RabbitMQ: per-guest users and sealed payloads.

Two guests, A and B, get their own broker users through
``trove-guest-credentials``; the control plane uses the admin account.
Every name (guest ids, control exchange, conductor topic) is unique to
this module, so it neither disturbs nor is disturbed by other suites.
"""

import json
import os
import shutil
import socket
import threading
import time
import uuid

import pytest

amqp = pytest.importorskip("amqp")
kombu = pytest.importorskip("kombu")
om = pytest.importorskip("oslo_messaging")

from oslo_config import cfg  # noqa: E402
from oslo_messaging._drivers import amqp as rpc_amqp  # noqa: E402
from oslo_messaging._drivers import common as rpc_common  # noqa: E402

from trove_core import exceptions  # noqa: E402
from trove_core import secure_rpc  # noqa: E402
from trove_core.tools.credentials import cli  # noqa: E402

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

ADMIN_URL = "rabbit://guest:guest@127.0.0.1:5672/"
MARKER = "s3cret-bus-payload-93d1"
WAIT = 20


def _skip_reason():
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    if os.geteuid() != 0:
        return "rabbitmqctl needs root"
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        return "no RabbitMQ on 127.0.0.1:5672 (%s)" % exc
    return None


def _wait_for(predicate, what):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail("gave up waiting for %s" % what)


class Bus:
    """The module's guests, keys, transports and unique names."""

    def __init__(self, tmp):
        tag = uuid.uuid4().hex[:10]
        self.exchange = "trove-test-" + tag
        self.conductor = "trove-conductor-" + tag
        self.key_dir = str(tmp / "keys")
        self.guests = {"a": "ga-" + tag, "b": "gb-" + tag}
        self.urls = {}
        for name, guest_id in self.guests.items():
            out = str(tmp / (name + ".url"))
            status = cli.main([
                "create", guest_id, "--exchange", self.exchange,
                "--conductor-topic", self.conductor, "--output", out,
                "--rpc-key-dir", self.key_dir])
            assert status == 0, "trove-guest-credentials create failed"
            assert os.stat(out).st_mode & 0o777 == 0o600
            with open(out) as handle:
                self.urls[name] = handle.read().strip()
        self.transports = {
            name: om.get_rpc_transport(cfg.CONF, url=url)
            for name, url in dict(self.urls, admin=ADMIN_URL).items()}

    def topic(self, name):
        """The RPC topic of guest *name*."""
        return "guestagent." + self.guests[name]

    def guest_serializer(self, name):
        """The secure serializer guest *name* runs with."""
        guest_id = self.guests[name]
        return secure_rpc.SecureSerializer("guest", guest_id, key=(
            secure_rpc.load_key(secure_rpc.key_path(self.key_dir, guest_id),
                                guest_id)))

    def control_serializer(self, name=None):
        """The control plane's serializer for guest *name* (or all)."""
        guest_id = self.guests[name] if name else None
        return secure_rpc.SecureSerializer("control", guest_id,
                                           key_dir=self.key_dir)

    def amqp(self, name):
        """A raw kombu connection as *name* ('a', 'b' or 'admin')."""
        url = dict(self.urls, admin=ADMIN_URL)[name]
        return kombu.Connection(url.replace("rabbit://", "amqp://", 1))

    def close(self):
        """Drop transports, users, queues and exchanges."""
        for transport in self.transports.values():
            transport.cleanup()
        for guest_id in self.guests.values():
            cli.main(["delete", guest_id, "--missing-ok",
                      "--rpc-key-dir", self.key_dir])
        with self.amqp("admin") as conn:
            channel = conn.channel()
            for name in self.guests:
                for queue in (self.topic(name), "%s.%s" % (
                        self.topic(name), self.guests[name])):
                    channel.queue_delete(queue)
            channel.queue_delete(self.conductor)
            channel.queue_delete(self.conductor + ".conductor")
            channel.exchange_delete(self.exchange)


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    """Guests A and B provisioned on the real broker (removed after)."""
    reason = _skip_reason()
    if reason:
        print("skipping bus isolation tests: %s" % reason)
        pytest.skip(reason)
    bus = Bus(tmp_path_factory.mktemp("bus"))
    yield bus
    bus.close()


class GuestEndpoint:
    """A guest's API surface for the tests: records what it ran."""

    target = om.Target(version="1.0")

    def __init__(self, guest_id):
        self.guest_id = guest_id
        self.calls = []

    def rpc_ping(self, ctxt):
        """Answer a ping after checking the seal's binding."""
        secure_rpc.verify_call(ctxt, "rpc_ping", self.guest_id)
        return {"pong": self.guest_id}

    def create_user(self, ctxt, users):
        """Record a cast."""
        secure_rpc.verify_call(ctxt, "create_user", self.guest_id)
        self.calls.append(("create_user", users))


class ConductorEndpoint:
    """The conductor side: binds each heartbeat to its sender's key."""

    target = om.Target(version="1.0")

    def __init__(self):
        self.heartbeats = []

    def heartbeat(self, ctxt, instance_id, payload, sent):
        """Accept a heartbeat only from the instance it is about."""
        secure_rpc.verify_call(ctxt, "heartbeat", instance_id)
        self.heartbeats.append((instance_id, payload["service_status"]))


def _server(bus, transport, topic, server, endpoint, serializer):
    rpc = om.get_rpc_server(
        bus.transports[transport],
        om.Target(topic=topic, server=server, exchange=bus.exchange),
        [endpoint], serializer=serializer)
    rpc.start()
    return rpc


def _stop(rpc):
    rpc.stop()
    rpc.wait()


@pytest.fixture(scope="module")
def conductor(bus):
    """A conductor server on the admin account, hearing every guest."""
    endpoint = ConductorEndpoint()
    rpc = _server(bus, "admin", bus.conductor, "conductor", endpoint,
                  bus.control_serializer())
    yield endpoint
    _stop(rpc)


@pytest.fixture(scope="module")
def guest_b(bus):
    """Guest B's RPC server, on B's own restricted credentials."""
    endpoint = GuestEndpoint(bus.guests["b"])
    rpc = _server(bus, "b", bus.topic("b"), bus.guests["b"], endpoint,
                  bus.guest_serializer("b"))
    yield endpoint
    _stop(rpc)


def _refusal_logs(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "trove_core.secure_rpc"]


def _assert_content_never_logged(caplog):
    for record in caplog.records:
        assert MARKER not in record.getMessage()
        if record.exc_info:
            assert MARKER not in str(record.exc_info[1])


class TestBrokerRefusals:
    """Guest A's credentials cannot reach guest B or declare others."""

    @pytest.mark.parametrize("action", [
        pytest.param("consume_b", id="consume-b-queue"),
        pytest.param("get_b", id="get-from-b-queue"),
        pytest.param("declare_other", id="declare-other-queue"),
        pytest.param("declare_b_fanout", id="declare-b-fanout"),
        pytest.param("publish_b_topic", id="publish-to-b-topic"),
        pytest.param("bind_b_topic", id="bind-own-queue-to-b-topic"),
        pytest.param("bind_everything", id="bind-own-queue-to-all"),
        pytest.param("consume_conductor", id="consume-conductor-queue"),
    ])
    def test_refused(self, bus, guest_b, conductor, action):
        """The broker answers ACCESS_REFUSED (403) to guest A."""
        own = bus.topic("a")
        actions = {
            "consume_b": lambda ch: ch.basic_consume(
                bus.topic("b"), callback=lambda message: None),
            "get_b": lambda ch: ch.basic_get(bus.topic("b")),
            "declare_other": lambda ch: ch.queue_declare(
                "guestagent.someone-else"),
            "declare_b_fanout": lambda ch: ch.exchange_declare(
                bus.topic("b") + "_fanout", "fanout", auto_delete=True),
            "publish_b_topic": lambda ch: ch.basic_publish(
                amqp.Message(MARKER), bus.exchange, bus.topic("b")),
            "bind_b_topic": lambda ch: ch.queue_bind(
                own, bus.exchange, bus.topic("b")),
            "bind_everything": lambda ch: ch.queue_bind(
                own, bus.exchange, "#"),
            "consume_conductor": lambda ch: ch.basic_get(bus.conductor),
        }
        with bus.amqp("a") as conn:
            conn.channel().queue_declare(own, auto_delete=False)
            channel = conn.channel()
            channel.confirm_select()
            with pytest.raises(conn.channel_errors,
                               match="ACCESS_REFUSED") as err:
                actions[action](channel)
                channel.basic_qos(0, 1, False)  # flush async refusals
            assert err.value.code == 403

    def test_own_names_allowed(self, bus):
        """Guest A may declare and bind its own queue (a positive control)."""
        own = bus.topic("a")
        with bus.amqp("a") as conn:
            channel = conn.channel()
            channel.queue_declare(own, auto_delete=False)
            channel.queue_bind(own, bus.exchange, own)


class TestProvisioning:
    """trove-guest-credentials on the real broker."""

    def test_create_twice_refused(self, bus, capsys):
        """Creating an existing guest fails and leaves it working."""
        assert cli.main(["create", bus.guests["a"], "--exchange",
                         bus.exchange, "--output", os.devnull + "x"]) == 1
        assert "already exists" in capsys.readouterr().err
        with bus.amqp("a") as conn:
            conn.connect()

    def test_wrong_password_refused(self, bus):
        """The broker refuses guest A's user with another password."""
        url = bus.urls["a"].replace("rabbit://", "amqp://", 1)
        user, rest = url[len("amqp://"):].split(":", 1)
        wrong = "amqp://%s:%s@%s" % (user, "not-the-password",
                                     rest.split("@", 1)[1])
        with kombu.Connection(wrong) as conn:
            with pytest.raises(amqp.exceptions.AccessRefused,
                               match="Login was refused") as err:
                conn.connect()
            assert err.value.code == 403


class TestNormalWork:
    """A guest does its work with only its own credentials."""

    @pytest.mark.parametrize("secure", [
        pytest.param(True, id="secure-rpc"),
        pytest.param(False, id="trove-compatible"),
    ])
    def test_serve_call_cast_and_heartbeat(self, bus, conductor, secure):
        """A's server answers calls, runs casts and heartbeats."""
        guest_id = bus.guests["a"]
        endpoint = GuestEndpoint(guest_id)
        rpc = _server(bus, "a", bus.topic("a"), guest_id, endpoint,
                      bus.guest_serializer("a") if secure else None)
        try:
            client = om.get_rpc_client(
                bus.transports["admin"],
                om.Target(topic=bus.topic("a"), exchange=bus.exchange,
                          version="1.0"),
                serializer=bus.control_serializer("a") if secure else None,
                timeout=WAIT)
            ctxt = secure_rpc.bind_method({}, "rpc_ping")
            assert client.call(ctxt, "rpc_ping") == {"pong": guest_id}
            users = [{"_name": "u1", "_password": MARKER}]
            client.cast(secure_rpc.bind_method({}, "create_user"),
                        "create_user", users=users)
            _wait_for(lambda: endpoint.calls, "the cast")
            assert endpoint.calls == [("create_user", users)]
        finally:
            _stop(rpc)
        if secure:
            reporter = om.get_rpc_client(
                bus.transports["a"],
                om.Target(topic=bus.conductor, exchange=bus.exchange,
                          version="1.0"),
                serializer=bus.guest_serializer("a"))
            reporter.cast(secure_rpc.bind_method({}, "heartbeat"),
                          "heartbeat", instance_id=guest_id,
                          payload={"service_status": "healthy"},
                          sent=time.time())
            _wait_for(lambda: (guest_id, "healthy") in conductor.heartbeats,
                      "the heartbeat")


class TestImpersonation:
    """Guest A cannot speak for guest B, even where the broker lets it."""

    def test_heartbeat_for_b(self, bus, conductor, caplog):
        """A's sealed heartbeat claiming B is refused by the conductor."""
        reporter = om.get_rpc_client(
            bus.transports["a"],
            om.Target(topic=bus.conductor, exchange=bus.exchange,
                      version="1.0"),
            serializer=bus.guest_serializer("a"))
        reporter.cast({}, "heartbeat", instance_id=bus.guests["b"],
                      payload={"service_status": "shutdown"},
                      sent=time.time())
        _wait_for(lambda: any("another instance" in m
                              for m in _refusal_logs(caplog)),
                  "the conductor's refusal")
        assert (bus.guests["b"], "shutdown") not in conductor.heartbeats

    def test_header_claiming_b(self, bus, conductor, caplog):
        """A seal made with A's key but naming B does not verify."""
        forged = secure_rpc.SecureSerializer(
            "guest", bus.guests["b"], key=secure_rpc.load_key(
                secure_rpc.key_path(bus.key_dir, bus.guests["a"]),
                bus.guests["b"]))
        reporter = om.get_rpc_client(
            bus.transports["a"],
            om.Target(topic=bus.conductor, exchange=bus.exchange,
                      version="1.0"),
            serializer=forged)
        reporter.cast({}, "heartbeat", instance_id=bus.guests["b"],
                      payload={"service_status": "crashed"},
                      sent=time.time())
        _wait_for(lambda: any("another guest's key" in m
                              for m in _refusal_logs(caplog)),
                  "the conductor's refusal")
        assert (bus.guests["b"], "crashed") not in conductor.heartbeats

    def test_injection_into_b_queue(self, bus, guest_b, caplog):
        """A message A drops into B's queue (default exchange) is refused."""
        sealed = _raw_request(bus.guest_serializer("a"), "create_user",
                              {"users": [{"_password": MARKER}]})
        with bus.amqp("a") as conn:
            conn.Producer().publish(sealed, exchange="",
                                    routing_key=bus.topic("b"),
                                    serializer="json")
        _wait_for(lambda: any("comes from a 'guest'" in m
                              for m in _refusal_logs(caplog)),
                  "guest B's refusal")
        assert guest_b.calls == []
        _assert_content_never_logged(caplog)


def _raw_request(serializer, method, args, ctxt=None):
    """Build the wire body oslo.messaging would publish for a cast."""
    ctxt = {} if ctxt is None else ctxt
    msg = {"method": method, "version": "1.0",
           "args": {k: serializer.serialize_entity(ctxt, v)
                    for k, v in args.items()}}
    packed = dict(msg, _unique_id=uuid.uuid4().hex)
    rpc_amqp.pack_context(packed, serializer.serialize_context(ctxt))
    return rpc_common.serialize_msg(packed)


class TestTamperAndReplay:
    """Messages altered, replayed or sealed for another guest are refused."""

    @pytest.fixture
    def publish(self, bus):
        """Publish raw bodies to guest B's topic as the control plane."""
        with bus.amqp("admin") as conn:
            producer = conn.Producer()

            def _publish(body):
                producer.publish(body, exchange=bus.exchange,
                                 routing_key=bus.topic("b"),
                                 serializer="json")
            yield _publish

    def _request(self, bus, name="b", password=MARKER):
        return _raw_request(bus.control_serializer(name), "create_user",
                            {"users": [{"_name": "u", "_password":
                                        password}]})

    def test_replayed(self, bus, guest_b, publish, caplog):
        """The same sealed message twice runs once; the replay is refused.

        The attacker gives the copy a fresh ``_unique_id`` (it is outside
        the seal), which defeats oslo.messaging's own duplicate filter.
        """
        body = self._request(bus, password=MARKER + "-replay")
        before = len(guest_b.calls)
        publish(body)
        msg = json.loads(body["oslo.message"])
        msg["_unique_id"] = uuid.uuid4().hex
        publish(dict(body, **{"oslo.message": json.dumps(msg)}))
        _wait_for(lambda: any("already seen" in m
                              for m in _refusal_logs(caplog)),
                  "the replay's refusal")
        _wait_for(lambda: len(guest_b.calls) > before, "the first copy")
        assert len(guest_b.calls) == before + 1
        _assert_content_never_logged(caplog)

    @pytest.mark.parametrize("part", [
        pytest.param("argument", id="argument"),
        pytest.param("context", id="context"),
    ])
    def test_tampered(self, bus, guest_b, publish, caplog, part):
        """A flipped character in a seal is refused, content unlogged."""
        body = self._request(bus)
        msg = json.loads(body["oslo.message"])
        if part == "argument":
            seal = msg["args"]["users"]
        else:
            seal = msg["_context_" + secure_rpc.ENVELOPE]
        key = secure_rpc.SEAL if part == "argument" else "seal"
        value = seal[key]
        seal[key] = value[:-6] + ("A" if value[-6] != "A" else "B") + \
            value[-5:]
        body["oslo.message"] = json.dumps(msg)
        before = len(guest_b.calls)
        publish(body)
        _wait_for(lambda: any("%s seal did not verify" % part in m
                              for m in _refusal_logs(caplog)),
                  "the refusal")
        assert len(guest_b.calls) == before
        _assert_content_never_logged(caplog)

    def test_foreign_key(self, bus, guest_b, publish, caplog):
        """A message sealed for guest A is refused by guest B."""
        before = len(guest_b.calls)
        publish(self._request(bus, name="a"))
        _wait_for(lambda: any("does not serve" in m
                              for m in _refusal_logs(caplog)),
                  "the refusal")
        assert len(guest_b.calls) == before
        _assert_content_never_logged(caplog)

    def test_plaintext(self, bus, guest_b, publish, caplog):
        """An unsealed (Trove-format) message is refused: no fallback."""
        before = len(guest_b.calls)
        msg = {"method": "create_user", "version": "1.0",
               "args": {"users": [{"_password": MARKER}]},
               "_unique_id": uuid.uuid4().hex}
        rpc_amqp.pack_context(msg, {"request_id": "r"})
        publish(rpc_common.serialize_msg(msg))
        _wait_for(lambda: any("unsealed context" in m
                              for m in _refusal_logs(caplog)),
                  "the refusal")
        assert len(guest_b.calls) == before
        _assert_content_never_logged(caplog)


def test_thread_safety_of_client_serializer(bus):
    """Concurrent calls from threads each open their own reply."""
    guest_id = bus.guests["a"]
    endpoint = GuestEndpoint(guest_id)
    rpc = _server(bus, "a", bus.topic("a"), guest_id, endpoint,
                  bus.guest_serializer("a"))
    results = []
    try:
        client = om.get_rpc_client(
            bus.transports["admin"],
            om.Target(topic=bus.topic("a"), exchange=bus.exchange,
                      version="1.0"),
            serializer=bus.control_serializer("a"), timeout=WAIT)

        def ping():
            results.append(client.call({}, "rpc_ping"))
        threads = [threading.Thread(target=ping) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        _stop(rpc)
    assert results == [{"pong": guest_id}] * 4


def test_unsealed_caller_fails_fast(bus, guest_b):
    """A control plane without secure RPC gets the typed refusal at once."""
    client = om.get_rpc_client(
        bus.transports["admin"],
        om.Target(topic=bus.topic("b"), exchange=bus.exchange,
                  version="1.0"), timeout=WAIT)
    with pytest.raises(om.RemoteError, match="unsealed context") as err:
        client.call({}, "rpc_ping")
    assert err.value.exc_type == "PlaintextRefused"
    assert issubclass(exceptions.PlaintextRefused, exceptions.SecureRPCError)
