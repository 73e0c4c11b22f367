"""The real guest runtime on restricted credentials with secure RPC on.

A ``trove-guestagent`` process (fake datastore) connects with the
per-guest user made by ``trove-guest-credentials`` and seals everything
with its key; the control plane drives it with ``trove_core.client`` and
hears its heartbeats through a conductor that binds each one to its
sender's key.
"""

import os
import shutil
import time

import pytest
from oslo_config import cfg

from trove_core import client as client_mod
from trove_core import exceptions
from trove_core import models
from trove_core import secure_rpc
from trove_core.tools.credentials import cli

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def _wait_for(predicate, what, timeout=60, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail("gave up waiting for %s%s" % (
        what, "; guest log:\n" + log()[-3000:] if log else ""))


class SecureConductor:
    """A conductor stand-in that accepts only self-attested heartbeats."""

    def __init__(self, transport, topic, key_dir):
        import oslo_messaging

        self.heartbeats = []
        heard = self.heartbeats

        class Endpoint:
            target = oslo_messaging.Target(version="1.0")

            def heartbeat(self, ctxt, instance_id, payload, sent=None):
                secure_rpc.verify_call(ctxt, "heartbeat", instance_id)
                heard.append((instance_id, payload["service_status"]))

            def update_backup(self, ctxt, instance_id, backup_id,
                              sent=None, **fields):
                secure_rpc.verify_call(ctxt, "update_backup", instance_id)

        self.server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="test"),
            [Endpoint()], serializer=secure_rpc.SecureSerializer(
                "control", None, key_dir=key_dir))
        self.server.start()

    def stop(self):
        """Stop listening."""
        self.server.stop()
        self.server.wait()


@pytest.fixture(scope="module")
def secured(make_guest, rpc_transport, rabbitmq, tmp_path_factory):
    """A guest process on its own user and key, its client, a conductor."""
    if shutil.which("rabbitmqctl") is None or os.geteuid() != 0:
        reason = "needs rabbitmqctl run as root to provision a guest user"
        print("skipping: %s" % reason)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("secured")
    key_dir = str(work / "keys")
    url_file = str(work / "url")
    draft = make_guest()
    assert cli.main(["create", draft.guest_id, "--conductor-topic",
                     draft.conductor_queue, "--output", url_file,
                     "--rpc-key-dir", key_dir]) == 0
    conductor = None
    try:
        with open(url_file) as handle:
            url = handle.read().strip()
        guest = make_guest(guest_id=draft.guest_id, default={
            "transport_url": url,
            "conductor_queue": draft.conductor_queue})
        with open(guest.conf_file, "a", encoding="utf-8") as handle:
            handle.write("[secure_rpc]\nenabled = true\nkey_file = %s\n"
                         % secure_rpc.key_path(key_dir, guest.guest_id))
        conductor = SecureConductor(rpc_transport, draft.conductor_queue,
                                    key_dir)
        guest.start()
        conf = cfg.ConfigOpts()
        conf([], project="trove-test-secure")
        secure_rpc.register_opts(conf)
        conf.set_override("enabled", True, "secure_rpc")
        conf.set_override("key_dir", key_dir, "secure_rpc")
        client = client_mod.GuestClient(guest.guest_id,
                                        transport=rpc_transport, conf=conf)
        client.wait_until_up(timeout=60)
        yield guest, client, conductor
        assert guest.terminate() == 0
    finally:
        if conductor is not None:
            conductor.stop()
        cli.main(["delete", draft.guest_id, "--missing-ok",
                  "--rpc-key-dir", key_dir])
        _delete_queues(rabbitmq, [
            "guestagent." + draft.guest_id,
            "guestagent.%s.%s" % (draft.guest_id, draft.guest_id),
            draft.conductor_queue, draft.conductor_queue + ".test"])


def _delete_queues(url, names):
    import kombu

    with kombu.Connection(url.replace("rabbit://", "amqp://", 1)) as conn:
        channel = conn.channel()
        for name in names:
            channel.queue_delete(name)


class TestSecuredGuest:
    """The guest does its normal work on its own restricted identity."""

    def test_prepare_calls_and_heartbeats(self, secured):
        """prepare (cast), list_databases (call) and heartbeats all work."""
        guest, client, conductor = secured
        client.prepare(memory_mb=512, packages=[], users=[],
                       databases=[models.Database("sealed_db")])
        client.wait_idle(timeout=60)
        names = [db.name for db in client.list_databases()[0]]
        assert "sealed_db" in names
        _wait_for(lambda: any(i == guest.guest_id
                              for i, _ in conductor.heartbeats),
                  "a sealed heartbeat", log=guest.log)
        assert "secure RPC refused" not in guest.log()

    def test_unsealed_client_refused(self, secured, rpc_transport):
        """A client without secure RPC is refused, at once and typed."""
        guest = secured[0]
        plain = client_mod.GuestClient(guest.guest_id,
                                       transport=rpc_transport,
                                       conf=cfg.ConfigOpts())
        with pytest.raises(exceptions.PlaintextRefused,
                           match="unsealed context") as err:
            plain.rpc_ping()
        assert err.value.instance_id == "<invalid>"
