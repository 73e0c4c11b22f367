"""Fixtures shared by trove-core's own tests."""

import pytest
from oslo_config import cfg


def pytest_collection_modifyitems(session, config, items):
    """Run the tests that drop broker connections (``broker_outage``)
    last. kombu hands the sockets of connections the broker killed to the
    garbage collector unclosed; collected in a later test, they fail it
    under warnings-as-errors. Last, nothing runs after them but the
    session's teardown, which reaps them (see ``rpc_transport``)."""
    items.sort(key=lambda item: item.get_closest_marker("broker_outage")
               is not None)


@pytest.fixture
def conf():
    """A private ConfigOpts, parsed with no arguments."""
    opts = cfg.ConfigOpts()
    opts([], project="trove-test")
    yield opts
    opts.reset()


# -- RabbitMQ and guest processes (guest runtime tests) -------------------

import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
RABBIT_URL = "rabbit://guest:guest@%s:%d/" % (RABBIT_HOST, RABBIT_PORT)

# Run by GuestProcess(slow_prepare=...): the real trove-guestagent, with
# the fake manager's prepare (a cast) and stop (stop_db, a call) slowed
# down so that tests can act while a mutating operation is in flight.
_SLOW_GUEST = textwrap.dedent('''
    import os
    import sys
    import time

    from trove_core import discovery
    from trove_guest_base import service

    _load = discovery.load_manager_class

    def load_slow(name, records=None):
        record, cls = _load(name, records)

        class Slow(cls):
            def do_prepare(self, request):
                for step in range(10):
                    self.reporter.progress("prepare", step, 10, "slow")
                    time.sleep(float(os.environ["SLOW_PREPARE"]) / 10)
                return super().do_prepare(request)

            def do_stop(self):
                time.sleep(float(os.environ["SLOW_PREPARE"]))
                return super().do_stop()

        Slow.__name__ = cls.__name__
        return record, Slow

    discovery.load_manager_class = load_slow
    sys.exit(service.main())
''')


def _port_open(host, port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def rabbitmq():
    """The transport URL of a RabbitMQ on 127.0.0.1:5672, started with
    ``rabbitmq-server -detached`` when it is not running."""
    if not _port_open(RABBIT_HOST, RABBIT_PORT):
        server = shutil.which("rabbitmq-server")
        if server is None:
            reason = ("RabbitMQ is not running on 127.0.0.1:5672 and "
                      "rabbitmq-server is not installed (apt-get install "
                      "rabbitmq-server)")
            print("skipping: %s" % reason)
            pytest.skip(reason)
        subprocess.run([server, "-detached"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while not _port_open(RABBIT_HOST, RABBIT_PORT):
            if time.monotonic() > deadline:
                reason = ("rabbitmq-server -detached did not open port "
                          "5672 within 90 s")
                print("skipping: %s" % reason)
                pytest.skip(reason)
            time.sleep(0.5)
    return RABBIT_URL


def start_private_node(directory, **kwargs):
    """Start a :class:`~trove_guest_base.testing.rabbitmq.RabbitNode` of the
    test's own (never the shared broker), or skip saying why."""
    from trove_guest_base.testing import rabbitmq as private

    node = private.RabbitNode(directory, **kwargs)
    try:
        return node.start()
    except private.RabbitUnavailable as exc:
        node.kill()
        print("skipping: %s" % exc)
        pytest.skip(str(exc))


@pytest.fixture
def private_rabbitmq(tmp_path_factory):
    """A RabbitMQ node of this test's own, on free ports in a temporary
    directory: tests that stop, restart or overload a broker use it, never
    the shared one. Stopped (or killed) at the end of the test."""
    node = start_private_node(tmp_path_factory.mktemp("rabbit"))
    yield node
    node.stop(timeout=60)


@pytest.fixture(scope="session")
def rpc_transport(rabbitmq):
    """One oslo.messaging RPC transport to the test broker."""
    from trove_core import rpc

    opts = cfg.ConfigOpts()
    opts([], project="trove-test-rpc")
    transport = rpc.get_transport(opts, url=rabbitmq)
    yield transport
    transport.cleanup()
    # What a broker outage left for the garbage collector (see
    # pytest_collection_modifyitems) is reaped here, at the end.
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


class GuestProcess:
    """A ``trove-guestagent`` subprocess with its own config and state.

    :param workdir: a private directory for its files.
    :param url: the transport URL.
    :param datastore: ``datastore_manager``.
    :param guest_id: its id (a fresh UUID by default).
    :param default: more ``[DEFAULT]`` options.
    :param group: options of the datastore's own group.
    :param slow_prepare: seconds the fake's prepare and stop sleep (runs
        the guest through a wrapper script), or ``None``.
    """

    def __init__(self, workdir, url, datastore="fake", guest_id=None,
                 default=None, group=None, slow_prepare=None):
        self.workdir = workdir
        self.guest_id = guest_id or "g-%s" % uuid.uuid4()
        self.conductor_queue = "trove-conductor-%s" % uuid.uuid4().hex
        os.makedirs(workdir, exist_ok=True)
        options = {
            "transport_url": url, "control_exchange": "trove",
            "state_path": os.path.join(workdir, "state"),
            "allowed_tiers": "stable,technical-preview,experimental",
            "report_interval": "1", "graceful_shutdown_timeout": "30",
            "conductor_queue": self.conductor_queue,
        }
        options.update(default or {})
        group_options = {
            "mount_point": os.path.join(workdir, "data"),
            "backup_storage_root": os.path.join(workdir, "backups"),
        } if datastore == "fake" else {}
        group_options.update(group or {})
        self.info_file = os.path.join(workdir, "guest_info.conf")
        self.conf_file = os.path.join(workdir, "trove-guestagent.conf")
        with open(self.info_file, "w", encoding="utf-8") as handle:
            handle.write("[DEFAULT]\nguest_id = %s\ndatastore_manager = "
                         "%s\n" % (self.guest_id, datastore))
        with open(self.conf_file, "w", encoding="utf-8") as handle:
            handle.write("[DEFAULT]\n")
            for key, value in options.items():
                if value is not None:
                    handle.write("%s = %s\n" % (key, value))
            handle.write("[%s]\n" % datastore)
            for key, value in group_options.items():
                handle.write("%s = %s\n" % (key, value))
        self.log_path = os.path.join(workdir, "guest.log")
        self.slow_prepare = slow_prepare
        self.proc = None

    def argv(self):
        """The command line that starts this guest."""
        files = ["--config-file", self.info_file,
                 "--config-file", self.conf_file]
        if self.slow_prepare is None:
            script = os.path.join(os.path.dirname(sys.executable),
                                  "trove-guestagent")
            return [script] + files
        wrapper = os.path.join(self.workdir, "slow_guest.py")
        with open(wrapper, "w", encoding="utf-8") as handle:
            handle.write(_SLOW_GUEST)
        return [sys.executable, wrapper] + files

    def start(self):
        """Start the process (its output goes to :attr:`log_path`)."""
        env = dict(os.environ, SLOW_PREPARE=str(self.slow_prepare or 0))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log,
                                         stderr=subprocess.STDOUT, env=env)
        return self

    def log(self):
        """Everything the process printed so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait(self, timeout=60):
        """Wait for the process to exit and return its status."""
        return self.proc.wait(timeout=timeout)

    def terminate(self, timeout=60):
        """SIGTERM the process and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        """SIGKILL the process if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def make_guest(rabbitmq, tmp_path_factory):
    """Factory of :class:`GuestProcess` objects (not started; ``url=``
    points one at another broker); any still running at the end of the
    session are killed."""
    made = []

    def factory(**kwargs):
        workdir = kwargs.pop("workdir", None) or str(
            tmp_path_factory.mktemp("guest"))
        url = kwargs.pop("url", None) or rabbitmq
        guest = GuestProcess(workdir, url, **kwargs)
        made.append(guest)
        return guest

    yield factory
    for guest in made:
        guest.kill()


class ConductorListener:
    """A stand-in for Trove's conductor that records what guests cast.

    :ivar heartbeats: ``(instance_id, payload, sent)`` tuples, in order.
    :ivar backups: ``(instance_id, backup_id, fields)`` tuples.
    """

    def __init__(self, transport, topic):
        import oslo_messaging

        from trove_core import rpc

        self.heartbeats = []
        self.backups = []
        listener = self

        class Endpoint:
            target = oslo_messaging.Target(version=rpc.CONDUCTOR_VERSION)

            def heartbeat(self, ctxt, instance_id, payload, sent=None):
                listener.heartbeats.append((instance_id, payload, sent))

            def update_backup(self, ctxt, instance_id, backup_id,
                              sent=None, **fields):
                listener.backups.append((instance_id, backup_id, fields))

        self.server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="test"),
            [Endpoint()])
        self.server.start()

    def statuses(self, instance_id):
        """The ``service_status`` values heartbeated by one guest."""
        return [p["service_status"] for i, p, _s in self.heartbeats
                if i == instance_id]

    def stop(self):
        """Stop listening."""
        self.server.stop()
        self.server.wait()


@pytest.fixture(scope="session")
def make_conductor(rpc_transport):
    """Factory of :class:`ConductorListener` on a topic; stopped at the
    end of the session."""
    made = []

    def factory(topic):
        listener = ConductorListener(rpc_transport, topic)
        made.append(listener)
        return listener

    yield factory
    for listener in made:
        listener.stop()
