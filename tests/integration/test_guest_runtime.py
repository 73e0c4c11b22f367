"""The guest runtime over a real RabbitMQ, driven by the real client.

One ``trove-guestagent`` process running the fake datastore serves the
whole module; every test leaves it serving.
"""

import time

import pytest

from trove_core import client as client_mod
from trove_core import exceptions
from trove_core import models
from trove_guest_base import net

pytestmark = [pytest.mark.rabbitmq]


def wait_for(predicate, timeout=30):
    """Poll ``predicate`` with the guest's own readiness helper."""
    return net.wait_until(predicate, timeout, "the test's condition")


@pytest.fixture(scope="module")
def served(make_guest, make_conductor, rpc_transport):
    """A prepared fake guest, its client and a conductor listener."""
    guest = make_guest()
    conductor = make_conductor(guest.conductor_queue)
    guest.start()
    client = client_mod.GuestClient(guest.guest_id,
                                    transport=rpc_transport)
    client.wait_until_up(timeout=60)
    client.prepare(memory_mb=512, packages=[], users=[],
                   databases=[models.Database("seeded")])
    client.wait_idle(timeout=60)
    yield guest, client, conductor
    assert guest.terminate() == 0


@pytest.fixture
def client(served):
    """The module guest's client; checks the guest still serves after
    the test."""
    yield served[1]
    assert served[1].rpc_ping() is True


class TestTroveAPI:
    """Trove's guest API methods through the client."""

    def test_ping(self, client):
        """rpc_ping answers True."""
        assert client.rpc_ping() is True

    def test_prepare_created_seed_database(self, client):
        """prepare's databases exist once it finished."""
        names = [d.name for d in client.list_databases()[0]]
        assert "seeded" in names

    def test_prepare_again_is_idempotent(self, client):
        """A second prepare leaves the guest prepared and its data."""
        client.prepare(memory_mb=512, packages=[], databases=[], users=[])
        health = client.wait_idle(timeout=60)
        assert health["prepared"] is True
        assert "seeded" in [d.name for d in client.list_databases()[0]]

    def test_casts_then_calls(self, client):
        """Casts create a database and a user; calls read them back in
        Trove's shapes."""
        client.create_database(databases=[models.Database("shop")])
        client.create_user(users=[models.User(
            "bob", password="s3cret-pass-word",
            databases=(models.Database("shop"),))])
        client.wait_idle(timeout=30)
        user = client.call("get_user", username="bob", hostname="%")
        assert user["_name"] == "bob"
        assert user["_password"] is None
        assert [d["_name"] for d in user["_databases"]] == ["shop"]
        access = client.call("list_access", username="bob", hostname="%")
        assert [d["_name"] for d in access] == ["shop"]

    def test_paging(self, client):
        """list_databases pages by name and returns the next marker."""
        client.create_database(databases=[
            models.Database("page%d" % i) for i in range(5)])
        client.wait_idle(timeout=30)
        page, marker = client.list_databases(limit=2, marker="page0")
        assert [d.name for d in page] == ["page1", "page2"]
        assert marker == "page2"
        raw = client.call("list_databases", limit=1, marker="page3",
                          include_marker=True)
        assert raw == [[{"_name": "page3", "_character_set": None,
                         "_collate": None}], "page3"]

    def test_root_call_returns_password(self, client):
        """enable_root returns the superuser with its password."""
        root = client.call("enable_root")
        assert root["_password"]
        assert client.call("is_root_enabled") is True

    def test_backup_reported_to_conductor(self, served, client):
        """create_backup (a cast) reports BUILDING then COMPLETED."""
        guest, _client, conductor = served
        client.create_backup(backup_info={"id": "bk1"})
        states = wait_for(lambda: [f.get("state") for _i, b, f
                                   in conductor.backups if b == "bk1"
                                   and f.get("state") == "COMPLETED"]
                          and [f.get("state") for _i, b, f
                               in conductor.backups if b == "bk1"])
        assert states == ["BUILDING", "COMPLETED"]
        done = [f for i, b, f in conductor.backups if b == "bk1"][-1]
        assert done["checksum"] and done["size"] > 0
        assert all(i == guest.guest_id for i, _b, _f in conductor.backups)

    def test_heartbeats(self, served, client):
        """The conductor hears periodic heartbeats with Trove's
        payload."""
        guest, _client, conductor = served
        assert wait_for(lambda: conductor.statuses(guest.guest_id).count(
            "healthy") >= 2, timeout=10)
        _i, payload, sent = conductor.heartbeats[-1]
        assert set(payload) == {"service_status"}
        assert abs(sent - time.time()) < 60


class TestFrameworkNamespace:
    """The trove_core namespace."""

    def test_plugin_info(self, client):
        """plugin_info names the plugin, its distribution and tier."""
        info = client.plugin_info()
        assert (info["name"], info["distribution"], info["tier"]) == (
            "fake", "trove-ds-fake", "experimental")

    def test_capabilities(self, client):
        """capabilities lists declared operations with their tags."""
        caps = client.capabilities()
        assert "volume" not in caps["capabilities"]
        assert caps["operations"]["create_database"] == {
            "kind": "cast", "since": "1.0", "mutating": True,
            "long": False}
        assert "mount_volume" not in caps["operations"]

    def test_health_and_idle(self, client):
        """health reports the datastore healthy and the guest idle."""
        health = client.health()
        assert health["status"] == "healthy" and health["busy"] is None
        assert client.current_operation() == {"current": None,
                                              "queued": []}


class TestRefusals:
    """Typed errors for what the guest will not do; it keeps serving."""

    def test_unsupported_operation(self, client):
        """An undeclared operation is refused as OperationNotSupported."""
        with pytest.raises(exceptions.OperationNotSupported,
                           match="does not support operation") as info:
            client.call("mount_volume", device_path="/dev/vdb",
                        mount_point="/mnt")
        assert info.value.kwargs == {"datastore": "fake",
                                     "operation": "mount_volume"}
        assert "Traceback" in info.value.remote_traceback

    @pytest.mark.parametrize("name, kwargs, match", [
        pytest.param("list_databases", {"limit": "ten"},
                     "'limit' must be int", id="wrong-type"),
        pytest.param("list_databases", {"limit": 0},
                     "positive integer", id="bad-value"),
        pytest.param("get_user", {"hostname": "%"},
                     "missing required arguments", id="missing"),
        pytest.param("list_users", {"evil": 1},
                     "unexpected arguments", id="extra"),
        pytest.param("grant_access", {"username": "bob", "hostname": "%",
                                      "databases": "shop"},
                     "must be list", id="string-not-list"),
        pytest.param("get_user", {"username": ["bob"], "hostname": "%"},
                     "must be str", id="list-not-string"),
        pytest.param("enable_root_with_password",
                     {"root_password": {"x": 1}}, "must be str",
                     id="dict-not-string"),
    ])
    def test_malformed_call(self, client, name, kwargs, match):
        """Malformed arguments get BadRequest naming the problem."""
        with pytest.raises(exceptions.BadRequest, match=match) as info:
            client.call(name, **kwargs)
        assert "reason" in info.value.kwargs

    def test_huge_payload(self, client):
        """A 2 MB name is refused as InvalidIdentifier."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="characters long") as info:
            client.call("get_user", username="u" * 2_000_000,
                        hostname="%")
        assert info.value.kwargs["kind"] == "user"

    @pytest.mark.parametrize("name", [
        pytest.param("no_such_method", id="unknown"),
        pytest.param("_runtime", id="private"),
        pytest.param("target", id="attribute"),
        pytest.param("get_hwinfo", id="dead-in-trove"),
    ])
    def test_unknown_method(self, client, name):
        """A name outside the API gets UnknownOperation."""
        with pytest.raises(exceptions.UnknownOperation,
                           match="not an operation") as info:
            client.call(name)
        assert info.value.kwargs == {"operation": name}

    def test_malformed_cast_changes_nothing(self, client):
        """A cast with bad arguments is dropped; nothing is created."""
        client.cast("create_database", databases=[{"_name": 42}])
        client.cast("create_database", databases=[{"name": "ok"}],
                    extra=True)
        client.wait_idle(timeout=30)
        names = [d.name for d in client.list_databases()[0]]
        assert "ok" not in names and "42" not in names

    def test_version_cap(self, rpc_transport, served):
        """A 1.2 method is refused locally under the 'victoria' cap."""
        capped = client_mod.GuestClient(served[0].guest_id,
                                        transport=rpc_transport,
                                        version_cap="victoria")
        with pytest.raises(exceptions.UnsupportedVersion,
                           match="needs guest API 1.2") as info:
            capped.call("pre_create_backup")
        assert info.value.kwargs["cap"] == "1.1"
        assert capped.call("is_root_enabled") in (True, False)

    def test_no_guest(self, rpc_transport):
        """A call nobody answers becomes GuestUnreachable."""
        lonely = client_mod.GuestClient("nobody-home",
                                        transport=rpc_transport)
        with pytest.raises(exceptions.GuestUnreachable,
                           match="did not answer") as info:
            lonely.call("rpc_ping", timeout=1)
        assert info.value.kwargs["guest_id"] == "nobody-home"
