"""Argument conversion, result shapes, the operation gate and the
endpoints of the guest runtime, without a broker."""

import threading
import time

import oslo_messaging
import pytest

from trove_core import capabilities as caps
from trove_core import discovery
from trove_core import exceptions
from trove_core import models
from trove_guest_base.testing import helpers
from trove_guest_base.testing import manager as fake_manager
from trove_guest_base import endpoint
from trove_guest_base import reporter


class TestConvertArguments:
    """convert_arguments checks and converts wire kwargs."""

    def test_databases_become_models(self):
        """Trove's database dicts become Database models."""
        args = endpoint.convert_arguments("create_database", {
            "databases": [{"_name": "a", "_character_set": "utf8mb4",
                           "_collate": None}, {"name": "b"}]})
        assert args["databases"] == (
            models.Database("a", character_set="utf8mb4"),
            models.Database("b"))

    def test_users_become_models(self):
        """Trove's user dicts become User models with their grants."""
        args = endpoint.convert_arguments("create_user", {"users": [{
            "_name": "u", "_password": "pw", "_host": "%",
            "_databases": [{"_name": "a"}], "_is_root": False}]})
        user = args["users"][0]
        assert (user.name, user.password, user.databases) == (
            "u", "pw", (models.Database("a"),))

    def test_grant_access_takes_names(self):
        """grant_access's databases stay plain names."""
        args = endpoint.convert_arguments("grant_access", {
            "username": "u", "hostname": "%", "databases": ["a", "b"]})
        assert args["databases"] == ("a", "b")

    def test_optional_arguments_may_be_absent(self):
        """list_databases needs none of its paging arguments."""
        assert endpoint.convert_arguments("list_databases", {}) == {}

    @pytest.mark.parametrize("name, kwargs, match", [
        pytest.param("list_users", {"limit": "5"}, "'limit' must be int",
                     id="string-limit"),
        pytest.param("list_users", {"limit": True}, "'limit' must be int",
                     id="bool-limit"),
        pytest.param("list_users", {"include_marker": "yes"},
                     "must be bool", id="string-flag"),
        pytest.param("get_user", {"username": "u"},
                     r"missing required arguments \['hostname'\]",
                     id="missing"),
        pytest.param("get_user", {"username": "u", "hostname": "%",
                                  "context": {}},
                     r"unexpected arguments \['context'\]", id="extra"),
        pytest.param("create_database", {"databases": {"_name": "a"}},
                     "must be list or tuple", id="dict-not-list"),
        pytest.param("create_database", {"databases": [{"_name": 5}]},
                     "'databases'.*must be str", id="int-name"),
        pytest.param("delete_user", {"user": "bob"},
                     "'user'.*must be a mapping", id="string-user"),
        pytest.param("update_attributes", {"username": "u",
                                           "hostname": "%",
                                           "user_attrs": None},
                     "'user_attrs' must be dict", id="null-attrs"),
    ])
    def test_malformed(self, name, kwargs, match):
        """Malformed arguments raise BadRequest naming the problem."""
        with pytest.raises(exceptions.BadRequest, match=match) as info:
            endpoint.convert_arguments(name, kwargs)
        assert name in info.value.kwargs["reason"]


class TestResults:
    """Results go back in Trove's wire shapes."""

    def test_paged_list(self):
        """list_* results become [items, next_marker]."""
        wire = endpoint._result("list_databases",
                                ((models.Database("a"),), "a"))
        assert wire == [[{"_name": "a", "_character_set": None,
                          "_collate": None}], "a"]

    def test_root_keeps_password(self):
        """enable_root returns the password; other users never do."""
        user = models.User("root", password="pw", is_root=True)
        assert endpoint._result("enable_root", user)["_password"] == "pw"
        assert endpoint._result("get_user", user)["_password"] is None

    def test_dataclasses_become_dicts(self):
        """A plugin's result dataclass travels as a dict."""
        import dataclasses

        @dataclasses.dataclass
        class Result:
            size: int
            location: str

        assert endpoint.to_wire([Result(3, "x")]) == [
            {"size": 3, "location": "x"}]

    def test_enums_and_nesting(self):
        """Enums become their values inside dicts and lists."""
        from trove_core.status import ServiceStatus

        assert endpoint.to_wire({"s": [ServiceStatus.HEALTHY]}) == {
            "s": ["healthy"]}


def _blocker():
    started, release = threading.Event(), threading.Event()

    def run():
        started.set()
        release.wait(10)
        return "done"
    return started, release, run


class TestOperationGate:
    """One mutating operation at a time."""

    @pytest.fixture
    def gate(self):
        """A gate, closed after the test."""
        gate = endpoint.OperationGate()
        yield gate
        gate.close(timeout=5)

    def test_idle_call_runs(self, gate):
        """A call on an idle gate runs on the caller's thread."""
        assert gate.call("restart", lambda: 42) == 42
        assert gate.current is None

    def test_busy_call_refused(self, gate):
        """A mutating call while a cast runs gets GuestBusy."""
        started, release, run = _blocker()
        gate.submit("prepare", run)
        assert started.wait(5)
        with pytest.raises(exceptions.GuestBusy,
                           match="busy with 'prepare'") as info:
            gate.call("enable_root", lambda: None)
        assert info.value.kwargs["operation"] == "enable_root"
        assert info.value.kwargs["running"] == "prepare"
        release.set()

    def test_casts_run_in_order(self, gate):
        """Casts queued behind a running one run FIFO."""
        started, release, run = _blocker()
        seen = []
        gate.submit("prepare", run)
        assert started.wait(5)
        for name in ("create_database", "create_user", "delete_user"):
            gate.submit(name, lambda n=name: seen.append(n))
        assert gate.queued == ["create_database", "create_user",
                               "delete_user"]
        release.set()
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == ["create_database", "create_user", "delete_user"]

    def test_failing_cast_does_not_stop_the_queue(self, gate):
        """A cast that raises is logged; the next one still runs."""
        seen = threading.Event()

        def boom():
            raise RuntimeError("boom")
        gate.submit("create_database", boom)
        gate.submit("create_user", seen.set)
        assert seen.wait(5)

    def test_close_waits_and_drops(self):
        """close waits for the running cast and drops the queued ones."""
        gate = endpoint.OperationGate()
        started, release, run = _blocker()
        gate.submit("prepare", run)
        assert started.wait(5)
        gate.submit("create_database", lambda: None)
        threading.Timer(0.2, release.set).start()
        finished, dropped = gate.close(timeout=5)
        assert (finished, dropped) == (True, ["create_database"])
        with pytest.raises(exceptions.GuestBusy, match="'shutdown'") as info:
            gate.call("restart", lambda: None)
        assert info.value.kwargs["running"] == "shutdown"

    def test_close_gives_up(self):
        """close reports an operation that outlives its timeout."""
        gate = endpoint.OperationGate()
        started, release, run = _blocker()
        gate.submit("prepare", run)
        assert started.wait(5)
        assert gate.close(timeout=0.1) == (False, [])
        release.set()


class _ExplodingManager(fake_manager.FakeManager):
    """Raises an unexpected error from a read."""

    def list_databases(self, limit=None, marker=None, include_marker=False):
        raise RuntimeError("disk on fire")


@pytest.fixture
def runtime(tmp_path):
    """A runtime around an unprepared fake manager."""
    manager = helpers.make_fake_manager(tmp_path,
                                        manager_cls=_ExplodingManager)
    board = reporter.ProgressBoard()
    runtime = endpoint.GuestRuntime(manager, discovery.find("fake"),
                                    "g1", progress_board=board)
    yield runtime
    runtime.gate.close(timeout=5)


class TestGuestRuntime:
    """GuestRuntime.handle and the framework answers."""

    def test_undeclared_refused_before_arguments(self, runtime):
        """An undeclared operation is refused whatever its arguments."""
        with pytest.raises(exceptions.OperationNotSupported,
                           match="'mount_volume'") as info:
            runtime.handle("mount_volume", {"garbage": object()})
        assert info.value.kwargs["datastore"] == "fake"

    def test_unexpected_error_wrapped(self, runtime):
        """An unexpected exception becomes DatastoreError."""
        with pytest.raises(exceptions.DatastoreError,
                           match="RuntimeError: disk on fire") as info:
            runtime.handle("list_databases", {})
        assert info.value.kwargs["operation"] == "list_databases"

    def test_capabilities(self, runtime):
        """capabilities lists exactly the declared operations."""
        answer = runtime.capabilities()
        assert set(answer["operations"]) == set(
            runtime.manager.operations())
        assert answer["guest_api"] == "1.3"

    def test_current_operation_with_progress(self, runtime):
        """The running operation shows the latest progress."""
        started, release, run = _blocker()
        runtime.gate.submit("create_backup", run)
        assert started.wait(5)
        runtime.progress_board.update("backup", 5, None, "bytes")
        state = runtime.current_operation()
        assert state["current"]["name"] == "create_backup"
        assert state["current"]["progress"]["operation"] == "backup"
        assert state["current"]["progress"]["done"] == 5
        release.set()


class TestEndpoints:
    """What the endpoints expose."""

    def test_every_operation_has_a_method(self):
        """Trove's endpoint has a method per operation plus rpc_ping."""
        names = set(caps.OPERATIONS) | {"rpc_ping"}
        assert endpoint.GuestAPIEndpoint.rpc_methods == names
        for name in names:
            assert callable(getattr(endpoint.GuestAPIEndpoint, name))

    @pytest.mark.parametrize("method, allowed", [
        pytest.param("create_database", True, id="operation"),
        pytest.param("rpc_ping", True, id="ping"),
        pytest.param("target", False, id="attribute"),
        pytest.param("_runtime", False, id="private"),
        pytest.param("get_hwinfo", False, id="dead-in-trove"),
    ])
    def test_access_policy(self, runtime, method, allowed):
        """Only listed methods are reachable."""
        ep = endpoint.GuestAPIEndpoint(runtime)
        assert endpoint.ExposedOnly().is_allowed(ep, method) is allowed

    def test_framework_rejects_arguments(self, runtime):
        """A framework method given arguments answers BadRequest."""
        ep = endpoint.FrameworkEndpoint(runtime)
        with pytest.raises(oslo_messaging.ExpectedException) as info:
            ep.health({}, verbose=True)
        error = info.value.exc_info[1]
        assert isinstance(error, exceptions.BadRequest)
        assert "takes no arguments" in str(error)

    def test_context_dropped(self, runtime):
        """Trove's context dict is accepted and ignored."""
        ep = endpoint.GuestAPIEndpoint(runtime)
        assert ep.rpc_ping({"user": "admin", "tenant": "t"}) is True
