"""The ``trove-guestagent`` process: refusing to start, SIGTERM while an
operation runs, restarts, and a broker that drops its connections."""

import gc
import re
import signal
import threading
import time
import warnings

import pytest

from trove_core import client as client_mod
from trove_core import exceptions
from trove_core import models
from trove_guest_base import net

pytestmark = [pytest.mark.rabbitmq]


def wait_for(predicate, timeout=30):
    """Poll ``predicate`` with the guest's own readiness helper."""
    return net.wait_until(predicate, timeout, "the test's condition")


class TestRefusesToStart:
    """Start-up refusals: exit status 2 and one line saying what to do."""

    @pytest.mark.parametrize("kwargs, match", [
        pytest.param({"datastore": "nosuch"},
                     "no datastore plugin named 'nosuch'.*pip install",
                     id="missing-plugin"),
        pytest.param({"datastore": "broken"},
                     "'broken' cannot be used: importing",
                     id="broken-plugin"),
        pytest.param({"datastore": "incompatible"},
                     "targets plugin API 9.0", id="incompatible-plugin"),
        pytest.param({"datastore": "nodriver"},
                     "needs the Python module 'trove_no_such_driver'.*pip "
                     "install", id="driver-not-installed"),
        pytest.param({"default": {"allowed_tiers": "stable"}},
                     "datastore 'fake' is experimental; allowed tiers are "
                     r"\['stable'\] \(set \[DEFAULT\] allowed_tiers",
                     id="tier-refused"),
        pytest.param({"guest_id": "bad.id"}, "invalid guest id name",
                     id="bad-guest-id"),
        pytest.param({"default": {"transport_url": "nonsense"}},
                     r"invalid \[DEFAULT\] transport_url", id="bad-url"),
        pytest.param({"default": {"transport_url": "nodriver://h/"}},
                     r"invalid \[DEFAULT\] transport_url",
                     id="unknown-driver"),
        pytest.param({"default": {"log_file": "/nonexistent-trove-dir/g.log"}},
                     r"cannot open \[DEFAULT\] log_file "
                     r"'/nonexistent-trove-dir/g.log'.*create its directory",
                     id="log-file-dir-missing"),
    ])
    def test_refusal(self, make_guest, kwargs, match):
        """The guest exits 2 naming the reason and the fix."""
        guest = make_guest(**kwargs).start()
        assert guest.wait(timeout=60) == 2
        lines = [line for line in guest.log().splitlines()
                 if "refusing to start" in line]
        assert len(lines) == 1
        assert re.search(match, lines[0]), lines[0]

    def test_secure_rpc_without_key(self, make_guest):
        """Secure RPC switched on without a key refuses to start."""
        guest = make_guest()
        with open(guest.conf_file, "a", encoding="utf-8") as handle:
            handle.write("[secure_rpc]\nenabled = true\n")
        assert guest.start().wait(timeout=60) == 2
        assert "refusing to start: secure RPC key" in guest.log()

    def test_secure_rpc_without_cryptography(self, make_guest, tmp_path,
                                             monkeypatch):
        """Secure RPC on without the cryptography package is a refusal
        naming it (exit 2), not a traceback."""
        from trove_core.security import keys

        # the modules secure RPC needs are missing, as when the
        # 'cryptography' package is not installed
        blocker = tmp_path / "block"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(
            "import sys\n"
            "class _Missing:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.startswith(('cryptography.hazmat.primitives."
            "kdf.hkdf', 'cryptography.hazmat.primitives.ciphers.aead'"
            ")):\n"
            "            raise ImportError('No module named %r' % name)\n"
            "sys.meta_path.insert(0, _Missing())\n")
        key = tmp_path / "guest.key"
        keys.write_key(str(key), keys.generate_key())
        guest = make_guest()
        with open(guest.conf_file, "a", encoding="utf-8") as handle:
            handle.write("[secure_rpc]\nenabled = true\nkey_file = %s\n"
                         % key)
        monkeypatch.setenv("PYTHONPATH", str(blocker))
        code = guest.start().wait(timeout=60)
        log = guest.log()
        assert code == 2, log[-3000:]
        assert "refusing to start" in log and "cryptography" in log
        assert "Traceback" not in log

    def test_default_tiers_refuse_experimental(self, make_guest):
        """Without allowed_tiers set, an experimental plugin is refused."""
        guest = make_guest(default={"allowed_tiers": None}).start()
        assert guest.wait(timeout=60) == 2
        assert ("allowed tiers are ['stable', 'technical-preview']"
                in guest.log())


@pytest.fixture
def slow_guest(make_guest, rpc_transport):
    """A fake guest whose prepare takes 5 s (time for the test to act
    while it runs, even on a loaded machine), and its client."""
    guest = make_guest(slow_prepare=5).start()
    client = client_mod.GuestClient(guest.guest_id,
                                    transport=rpc_transport)
    client.wait_until_up(timeout=60)
    yield guest, client
    guest.kill()


def _running(client, name):
    current = client.current_operation()["current"]
    return current is not None and current["name"] == name


def _progress(client):
    current = client.current_operation()["current"]
    return None if current is None else current.get("progress")


class TestWhileMutating:
    """One mutating operation at a time; reads are not blocked."""

    def test_busy_reads_and_progress(self, slow_guest):
        """While prepare runs, a mutating call gets GuestBusy, casts
        queue, reads answer, and progress is visible."""
        _guest, client = slow_guest
        client.prepare(memory_mb=256, packages=[], databases=[], users=[])
        assert wait_for(lambda: _running(client, "prepare"))
        with pytest.raises(exceptions.GuestBusy,
                           match="busy with 'prepare'") as info:
            client.call("enable_root")
        assert info.value.kwargs["operation"] == "enable_root"
        client.create_database(databases=[models.Database("after")])
        # The operation is "running" a moment before its first progress
        # report, and the cast reaches the queue asynchronously: wait for
        # both rather than racing them.
        assert wait_for(lambda: _progress(client) is not None)
        assert wait_for(lambda: client.current_operation()["queued"])
        state = client.current_operation()
        assert state["queued"] == ["create_database"]
        assert state["current"]["progress"]["total"] == 10
        assert client.rpc_ping() is True
        assert client.health()["busy"] == "prepare"
        client.wait_idle(timeout=60)
        assert [d.name for d in client.list_databases()[0]] == ["after"]


class TestShutdown:
    """SIGTERM and restarts."""

    def test_sigterm_finishes_operation_in_flight(self, slow_guest,
                                                  make_guest,
                                                  rpc_transport):
        """SIGTERM during prepare lets it finish, drops queued casts,
        exits 0; the restarted guest is still prepared."""
        guest, client = slow_guest
        client.prepare(memory_mb=256, packages=[], databases=[], users=[])
        assert wait_for(lambda: _running(client, "prepare"))
        client.create_database(databases=[models.Database("dropped")])
        assert wait_for(lambda: client.current_operation()["queued"])
        assert guest.terminate(timeout=60) == 0
        log = guest.log()
        assert "prepare done" in log
        assert "dropped queued operations that never started: " \
               "create_database" in log
        again = make_guest(guest_id=guest.guest_id,
                           workdir=guest.workdir).start()
        client.wait_until_up(timeout=60)
        health = client.health()
        assert health["prepared"] is True and health["status"] == "healthy"
        assert client.list_databases()[0] == []
        assert again.terminate() == 0

    def test_sigterm_during_call_still_replies(self, slow_guest):
        """SIGTERM while stop_db (a call) runs: the caller still gets its
        answer, then the guest exits 0."""
        guest, client = slow_guest
        client.prepare(memory_mb=256, packages=[], databases=[], users=[])
        client.wait_idle(timeout=60)
        answers = []
        caller = threading.Thread(
            target=lambda: answers.append(client.call("stop_db")))
        caller.start()
        assert wait_for(lambda: _running(client, "stop_db"))
        guest.proc.send_signal(signal.SIGTERM)
        caller.join(timeout=60)
        assert answers == [None]
        assert guest.wait(timeout=60) == 0

    def test_sigterm_abandons_after_timeout(self, make_guest,
                                            rpc_transport):
        """A prepare longer than graceful_shutdown_timeout is abandoned
        cleanly: exit 0, and the guest is not claimed prepared."""
        guest = make_guest(slow_prepare=60, default={
            "graceful_shutdown_timeout": "1"}).start()
        client = client_mod.GuestClient(guest.guest_id,
                                        transport=rpc_transport)
        client.wait_until_up(timeout=60)
        client.prepare(memory_mb=256, packages=[], databases=[], users=[])
        assert wait_for(lambda: _running(client, "prepare"))
        assert guest.terminate(timeout=30) == 0
        assert "did not finish within 1 s" in guest.log()
        again = make_guest(guest_id=guest.guest_id,
                           workdir=guest.workdir).start()
        client.wait_until_up(timeout=60)
        assert client.health()["prepared"] is False
        assert again.terminate() == 0


@pytest.mark.slow
@pytest.mark.broker_outage
class TestBrokerOutage:
    """The guest reconnects when the broker drops its connections or
    restarts. Each test starts a RabbitMQ node of its own: the shared
    broker is never closed, stopped or restarted."""

    @staticmethod
    def survive(make_guest, node, outage):
        """Start a guest on ``node``, run ``outage(node, guest)``, then
        prove the guest serves again: it answers, prepares, exits 0 and
        logged its reconnection. The test's own transport lost its
        connections too: it is driven through its reconnection as well."""
        from oslo_config import cfg

        from trove_core import rpc

        guest = make_guest(url=node.url).start()
        opts = cfg.ConfigOpts()
        opts([], project="trove-test-outage")
        transport = rpc.get_transport(opts, url=node.url)
        try:
            client = client_mod.GuestClient(guest.guest_id,
                                            transport=transport)
            client.wait_until_up(timeout=60)
            outage(node, guest)
            assert client.wait_until_up(timeout=180) is True
            client.prepare(memory_mb=256, packages=[], databases=[],
                           users=[])
            assert client.wait_idle(timeout=60)["prepared"] is True
        finally:
            transport.cleanup()
            # kombu hands the socket of a connection the broker killed to
            # the garbage collector unclosed; reap it here, where the
            # outage was caused, not in whichever test runs next.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
        assert guest.terminate() == 0
        assert "Reconnected to AMQP server" in guest.log()

    def test_connections_closed(self, make_guest, private_rabbitmq):
        """After the broker closes the guest's connections (as a broker
        restart does), the guest reconnects and serves again."""
        def close_mine(node, guest):
            rows = node.rows("list_connections", "pid",
                             "client_properties")
            mine = [row[0] for row in rows
                    if "trove-guestagent:%d:" % guest.proc.pid in row[1]]
            assert mine, rows
            for pid in mine:
                node.ctl("close_connection", pid, "trove test")

        self.survive(make_guest, private_rabbitmq, close_mine)

    def test_broker_restart(self, make_guest, private_rabbitmq):
        """A real broker restart (stop_app, start_app: every connection
        and transient queue gone) is survived: the guest reconnects,
        redeclares its queues and serves again."""
        def restart(node, _guest):
            node.ctl("stop_app", timeout=120)
            try:
                time.sleep(2)
            finally:
                node.ctl("start_app", timeout=120)
                node.wait_ready(timeout=120)

        self.survive(make_guest, private_rabbitmq, restart)
