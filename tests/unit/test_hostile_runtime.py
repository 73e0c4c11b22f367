"""Hostile input at the runtime: bounded errors and log lines, bad
payload shapes, a stuck datastore, a plugin that exits at import, a
missing crypto package."""

import logging
import sys
import threading

import pytest

from trove_core import discovery
from trove_core import exceptions
from trove_core.status import ServiceStatus
from trove_guest_base.testing import helpers
from trove_guest_base import endpoint
from trove_guest_base import service

HUGE = "x" * 10_000_000


class TestBoundedErrors:
    """No user value comes back whole, however large."""

    def test_huge_identifier(self):
        """A 10 MB name gives an error of a few kilobytes."""
        exc = exceptions.InvalidIdentifier(kind="database", value=HUGE,
                                           reason="too long")
        assert len(str(exc)) <= exceptions.MESSAGE_LIMIT + 100
        assert len(exc.kwargs["value"]) < exceptions.FIELD_LIMIT + 100
        assert "characters cut" in exc.kwargs["value"]

    def test_bounded_repr(self):
        """bounded() says how long the value was."""
        text = exceptions.bounded(HUGE)
        assert len(text) < 300 and "10000002 characters" in text

    def test_hostile_repr(self):
        """A value whose repr raises is still shown by type."""
        class Evil:
            def __repr__(self):
                raise RuntimeError("no")
        assert exceptions.bounded(Evil()) == "<Evil>"

    def test_through_a_validator(self):
        """A 10 MB name refused by a validator gives a bounded reply."""
        from trove_core import models

        with pytest.raises(exceptions.InvalidIdentifier) as info:
            models.check_name("database", HUGE, max_length=64)
        assert len(str(info.value)) < 10_000


class TestLogFilter:
    """Every log line the guest writes is bounded."""

    def _record(self, msg, args=(), exc_info=None, level=logging.ERROR):
        return logging.LogRecord("x", level, __file__, 1, msg, args,
                                 exc_info)

    def test_long_line_cut(self):
        """A 10 MB value in a log line is cut, saying so."""
        record = self._record("refused %s", (HUGE,))
        assert service.BoundedLogFilter().filter(record)
        text = record.getMessage()
        assert len(text) < service.LOG_LINE_LIMIT + 100
        assert "characters cut" in text

    def test_unknown_method_one_line(self):
        """oslo.messaging's NoSuchMethod traceback becomes one WARNING
        line without traceback."""
        import oslo_messaging

        try:
            raise oslo_messaging.NoSuchMethod("x" * 5000)
        except oslo_messaging.NoSuchMethod:
            record = self._record("Exception during message handling",
                                  exc_info=sys.exc_info())
        service.BoundedLogFilter().filter(record)
        assert record.levelno == logging.WARNING
        assert record.exc_info is None
        assert "NoSuchMethod" in record.getMessage()
        assert len(record.getMessage()) < 400
        formatted = logging.Formatter().format(record)
        assert "Traceback" not in formatted and "\n" not in formatted


    def test_typed_refusal_one_line(self):
        """A typed refusal oslo.messaging logs with a traceback (an
        unsealed message) becomes one WARNING line too."""
        try:
            raise exceptions.PlaintextRefused(reason="unsealed",
                                              instance_id="x")
        except exceptions.PlaintextRefused:
            record = logging.LogRecord(
                "oslo_messaging.rpc.server", logging.ERROR, __file__, 1,
                "Exception during message handling", (), sys.exc_info())
        service.BoundedLogFilter().filter(record)
        assert record.levelno == logging.WARNING and not record.exc_info
        assert "PlaintextRefused" in record.getMessage()


class TestPayloadShapes:
    """Malformed payloads are BadRequest, never DatastoreError."""

    @pytest.mark.parametrize("name, kwargs", [
        pytest.param("create_user", {"users": [{
            "_name": "u", "_host": "%", "_password": "a\udc80b"}]},
            id="lone-surrogate-password"),
        pytest.param("create_database", {"databases": [{
            "_name": "d\ud800"}]}, id="lone-surrogate-name"),
        pytest.param("create_backup", {"backup_info": {
            "id": "b1", "location": {"a": 1}}}, id="dict-location"),
        pytest.param("create_backup", {"backup_info": {
            "id": "b1", "type": ["x"]}}, id="list-type"),
        pytest.param("create_backup", {"backup_info": {
            "id": "b1", "parent": "p"}}, id="string-parent"),
        pytest.param("update_attributes", {
            "username": "u", "hostname": "%",
            "user_attrs": {"password": {"x": 1}}}, id="dict-password"),
    ])
    def test_refused(self, name, kwargs):
        """The error names the argument."""
        with pytest.raises(exceptions.BadRequest) as info:
            endpoint.convert_arguments(name, kwargs)
        assert repr(next(iter(kwargs))) in str(info.value) or \
            "argument" in str(info.value)


class _StuckManager:
    """A manager whose status probe hangs until released."""

    name = "stuck"

    def __init__(self):
        self.release = threading.Event()

    def refresh_status(self):
        self.release.wait(30)
        return ServiceStatus.HEALTHY


class TestStuckDatastore:
    """A probe that does not answer is reported, not waited for."""

    def test_blocked_then_recovers(self):
        """BLOCKED while stuck, one probe at a time, real status after."""
        runtime = endpoint.GuestRuntime.__new__(endpoint.GuestRuntime)
        runtime.manager = _StuckManager()
        runtime.probe_timeout = 0.2
        runtime._probe_lock = threading.Lock()
        runtime._probe = None
        assert runtime.probe_status() is ServiceStatus.BLOCKED
        first = runtime._probe
        assert runtime.probe_status() is ServiceStatus.BLOCKED
        assert runtime._probe is first  # no second stuck thread
        runtime.manager.release.set()
        first["done"].wait(5)
        assert runtime.probe_status() is ServiceStatus.HEALTHY

    def test_health_answers(self, tmp_path):
        """health() answers with 'blocked' while the probe hangs."""
        manager = helpers.make_fake_manager(tmp_path)
        release = threading.Event()
        manager.refresh_status = lambda: release.wait(30) and None
        runtime = endpoint.GuestRuntime(manager, discovery.find("fake"),
                                        "g1")
        runtime.probe_timeout = 0.2
        try:
            assert runtime.health()["status"] == "blocked"
        finally:
            release.set()
            runtime.gate.close(timeout=5)


class _ExitingEntryPoint:
    """An entry point whose module calls sys.exit() at import."""

    name = "exits"
    value = "trove_ds_exits.plugin:DESCRIPTOR"
    group = discovery.DESCRIPTORS_GROUP if hasattr(
        discovery, "DESCRIPTORS_GROUP") else "trove.datastores"

    def load(self):
        sys.exit(1)


class TestImportExit:
    """Discovery survives a plugin that exits at import."""

    def test_reported_broken(self):
        """sys.exit() at import is a BROKEN plugin named with its cause."""
        obj, health, reason, _ = discovery._load(_ExitingEntryPoint())
        assert obj is None
        assert health is discovery.Health.BROKEN
        assert "SystemExit" in reason and "trove_ds_exits" in reason


class TestNoCryptography:
    """Secure RPC without cryptography is a refusal, not a traceback."""

    def test_load_key(self, tmp_path, monkeypatch):
        """load_key names the package and the install command."""
        from trove_core.security import keys

        path = tmp_path / "k.key"
        keys.write_key(str(path), keys.generate_key())
        for name in list(sys.modules):
            if name == "cryptography" or name.startswith("cryptography."):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "cryptography", None)
        with pytest.raises(exceptions.SecureRPCKeyError,
                           match="cryptography") as info:
            keys.load_key(str(path), "inst-1")
        assert "pip install" in info.value.reason
