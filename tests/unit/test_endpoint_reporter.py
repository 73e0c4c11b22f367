"""The conductor reporter, over the in-process ``fake://`` transport."""

import time

import oslo_messaging
import pytest
from oslo_config import cfg

from trove_core import rpc
from trove_core.status import ServiceStatus
from trove_guest_base import reporter


@pytest.fixture(scope="module")
def conductor_server():
    """A transport and a recording conductor on topic 'trove-conductor'."""
    opts = cfg.ConfigOpts()
    opts([], project="trove-test-reporter")
    transport = rpc.get_transport(opts, url="fake://")
    seen = []

    class Endpoint:
        target = oslo_messaging.Target(version="1.0")

        def heartbeat(self, ctxt, instance_id, payload, sent=None):
            seen.append(("heartbeat", instance_id, payload, sent))

        def update_backup(self, ctxt, instance_id, backup_id, sent=None,
                          **fields):
            seen.append(("update_backup", instance_id, backup_id, fields))

    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=rpc.CONDUCTOR_TOPIC,
                                         server="c"), [Endpoint()])
    server.start()
    yield transport, seen
    server.stop()
    server.wait()
    transport.cleanup()


@pytest.fixture
def conductor(conductor_server):
    """The module's conductor with an empty record."""
    conductor_server[1].clear()
    return conductor_server


def _wait(seen, count):
    deadline = time.monotonic() + 30
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return seen


class TestConductorReporter:
    """Heartbeats and backup updates as Trove's conductor takes them."""

    def test_status_change_heartbeats(self, conductor):
        """A status change casts heartbeat with service_status."""
        transport, seen = conductor
        rep = reporter.ConductorReporter(transport, "i1")
        rep.status_changed(ServiceStatus.BUILDING)
        kind, instance, payload, sent = _wait(seen, 1)[0]
        assert (kind, instance, payload) == (
            "heartbeat", "i1", {"service_status": "building"})
        assert abs(sent - time.time()) < 5

    def test_backup_update(self, conductor):
        """backup_update casts update_backup with its fields."""
        transport, seen = conductor
        rep = reporter.ConductorReporter(transport, "i1")
        rep.backup_update("b1", state="COMPLETED", size=3)
        assert _wait(seen, 1)[0] == ("update_backup", "i1", "b1",
                                     {"state": "COMPLETED", "size": 3})

    def test_periodic(self, conductor):
        """start() heartbeats every interval with the probed status."""
        transport, seen = conductor
        rep = reporter.ConductorReporter(transport, "i1", interval=0.05)
        rep.start(lambda: ServiceStatus.HEALTHY)
        try:
            _wait(seen, 3)
        finally:
            rep.stop()
        assert len(seen) >= 3
        assert {p["service_status"] for _k, _i, p, _s in seen} == {
            "healthy"}

    def test_progress_board(self):
        """progress() is kept for the framework namespace."""
        board = reporter.ProgressBoard()
        board.update("prepare", 1, 3, "init")
        assert board.get("prepare")["total"] == 3
        assert board.latest(since=time.time() + 60) is None
        assert board.latest()["operation"] == "prepare"
