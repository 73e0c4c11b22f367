"""The control-plane client and the shared RPC helpers, over
oslo.messaging's in-process ``fake://`` transport (no broker)."""

import oslo_messaging
import pytest
from oslo_config import cfg

from trove_core import client as client_mod
from trove_core import discovery
from trove_core import exceptions
from trove_core import models
from trove_core import rpc
from trove_guest_base.testing import helpers
from trove_guest_base import endpoint


class TestVersionCap:
    """resolve_version_cap understands Trove's aliases."""

    @pytest.mark.parametrize("value, version", [
        pytest.param(None, "1.3", id="default-latest"),
        pytest.param("latest", "1.3", id="latest"),
        pytest.param("ussuri", "1.0", id="ussuri"),
        pytest.param("Victoria", "1.1", id="victoria-any-case"),
        pytest.param("epoxy", "1.2", id="epoxy"),
        pytest.param("hibiscus", "1.3", id="hibiscus"),
        pytest.param("1.2", "1.2", id="explicit"),
    ])
    def test_resolves(self, value, version):
        """Aliases and versions resolve to a version string."""
        assert rpc.resolve_version_cap(value) == version

    @pytest.mark.parametrize("value, match", [
        pytest.param("zed", "unknown guest API version cap", id="alias"),
        pytest.param("1.4", "outside 1.0-1.3", id="too-new"),
        pytest.param("2.0", "outside 1.0-1.3", id="major"),
    ])
    def test_refuses(self, value, match):
        """Unknown aliases and unspeakable versions are refused."""
        with pytest.raises(exceptions.BadRequest, match=match) as info:
            rpc.resolve_version_cap(value)
        assert "reason" in info.value.kwargs


class TestTopics:
    """Guest ids name topics safely."""

    def test_topic(self):
        """The topic is guestagent.<id>."""
        assert rpc.guest_topic("abc-123") == "guestagent.abc-123"

    @pytest.mark.parametrize("guest_id", [
        pytest.param("", id="empty"),
        pytest.param("a.b", id="dot"),
        pytest.param("a b", id="space"),
        pytest.param(None, id="none"),
        pytest.param("x" * 200, id="long"),
    ])
    def test_bad_ids(self, guest_id):
        """Ids that would make another topic are refused."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="invalid guest id") as info:
            rpc.guest_topic(guest_id)
        assert info.value.kwargs["kind"] == "guest id"


@pytest.fixture(scope="module")
def fake_transport():
    """An in-process transport."""
    opts = cfg.ConfigOpts()
    opts([], project="trove-test-client")
    transport = rpc.get_transport(opts, url="fake://")
    yield transport
    transport.cleanup()


@pytest.fixture(scope="module")
def served(fake_transport, tmp_path_factory):
    """A fake-datastore runtime served in-process, and its client."""
    manager = helpers.make_fake_manager(tmp_path_factory.mktemp("fake"))
    runtime = endpoint.GuestRuntime(manager, discovery.find("fake"), "g1")
    server = oslo_messaging.get_rpc_server(
        fake_transport, rpc.guest_target("g1", server="g1"),
        [endpoint.GuestAPIEndpoint(runtime),
         endpoint.FrameworkEndpoint(runtime)],
        access_policy=endpoint.ExposedOnly)
    server.start()
    client = client_mod.GuestClient("g1", transport=fake_transport)
    yield client
    server.stop()
    server.wait()
    runtime.gate.close(timeout=10)


class TestGuestClient:
    """GuestClient sends each kind and maps errors back."""

    def test_round_trip(self, served):
        """prepare and create_database are cast; lists come back typed."""
        served.prepare(memory_mb=128, packages=[], databases=[], users=[])
        served.create_database(databases=[models.Database("a")])
        served.create_user(users=[models.User("u", password="pw-123456",
                                              databases=(
                                                  models.Database("a"),))])
        served.wait_idle(timeout=30, interval=0.05)
        assert served.list_databases() == ([models.Database("a")], None)
        users, marker = served.list_users()
        assert [u.key for u in users] == ["u@%"] and marker is None

    def test_typed_remote_error(self, served):
        """A guest error comes back as its own class, message clean."""
        with pytest.raises(exceptions.OperationNotSupported) as info:
            served.call("mount_volume")
        assert type(info.value) is exceptions.OperationNotSupported
        assert "\n" not in str(info.value)
        assert info.value.kwargs["operation"] == "mount_volume"

    def test_unknown_method(self, served):
        """An unknown method becomes UnknownOperation."""
        with pytest.raises(exceptions.UnknownOperation,
                           match="'teleport'") as info:
            served.call("teleport")
        assert info.value.kwargs == {"operation": "teleport"}

    def test_framework_calls(self, served):
        """The trove_core namespace answers through the client."""
        assert served.plugin_info()["tier"] == "experimental"
        assert served.health()["guest_id"] == "g1"
        assert served.current_operation() == {"current": None,
                                              "queued": []}

    def test_attribute_access(self, served):
        """Operations are reachable as attributes; others are not."""
        assert served.get_root_password() is None
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            served.nope  # noqa: B018 - the access is the test

    def test_timeout(self, fake_transport):
        """No answer within the timeout becomes GuestUnreachable."""
        client = client_mod.GuestClient("nobody", transport=fake_transport)
        with pytest.raises(exceptions.GuestUnreachable,
                           match="'nobody' did not answer") as info:
            client.call("rpc_ping", timeout=0.2)
        assert info.value.kwargs["operation"] == "rpc_ping"

    def test_version_cap_refuses_locally(self, fake_transport):
        """A method newer than the cap is refused before sending."""
        client = client_mod.GuestClient("g1", transport=fake_transport,
                                        version_cap="ussuri")
        with pytest.raises(exceptions.UnsupportedVersion,
                           match="'resize_fs' needs guest API 1.1") as info:
            client.call("resize_fs")
        assert info.value.kwargs == {"operation": "resize_fs",
                                     "version": "1.1", "cap": "1.0"}

    @pytest.mark.parametrize("name, timeout", [
        pytest.param("list_users", client_mod.LOW_TIMEOUT, id="read"),
        pytest.param("restart", client_mod.HIGH_TIMEOUT, id="mutating"),
        pytest.param("get_filesystem_stats", client_mod.LOW_TIMEOUT,
                     id="default-override"),
        pytest.param("is_root_enabled", 7, id="caller-override"),
    ])
    def test_timeouts(self, fake_transport, name, timeout):
        """Reads are short, mutating calls long, both overridable."""
        client = client_mod.GuestClient(
            "g1", transport=fake_transport,
            timeouts={"is_root_enabled": 7})
        assert client.timeout_for(name) == timeout
