"""GuestClient and a guest in a control exchange other than ``trove``.

Live against the test RabbitMQ: the guest reads its ``control_exchange``
from its configuration file; the client's is set on its ``ConfigOpts``
*after* the transport exists (or passed as an argument), and must still
be the exchange its messages go to. The exchange is deleted afterwards.
"""

import uuid

import pytest
from oslo_config import cfg

from trove_core import client as client_mod
from trove_core import exceptions
from trove_core import rpc

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


@pytest.fixture(scope="module")
def exchange(rabbitmq):
    """A unique exchange name, deleted from the broker at the end."""
    name = "trove-test-%s" % uuid.uuid4().hex
    yield name
    import kombu

    url = rabbitmq.replace("rabbit://", "amqp://", 1)
    with kombu.Connection(url, connect_timeout=10) as conn:
        conn.default_channel.exchange_delete(name)


@pytest.fixture(scope="module")
def guest(make_guest, exchange):
    """A fake guest consuming in ``exchange``."""
    proc = make_guest(default={"control_exchange": exchange}).start()
    yield proc
    assert proc.terminate() == 0, proc.log()[-2000:]


def _conf_and_transport(url):
    conf = cfg.ConfigOpts()
    conf([], project="trove-test-exchange")
    return conf, rpc.get_transport(conf, url=url)


class TestControlExchange:
    """The client talks in the exchange its configuration names now."""

    def test_override_after_transport(self, rabbitmq, guest, exchange):
        """control_exchange set after the transport was built counts."""
        conf, transport = _conf_and_transport(rabbitmq)
        try:
            conf.set_override("control_exchange", exchange)
            client = client_mod.GuestClient(guest.guest_id,
                                            transport=transport, conf=conf)
            assert client.exchange == exchange
            assert client.wait_until_up(timeout=90) is True
            assert client.plugin_info()["name"] == "fake"
        finally:
            transport.cleanup()

    def test_argument(self, rabbitmq, guest, exchange):
        """control_exchange= wins over the configuration."""
        conf, transport = _conf_and_transport(rabbitmq)
        try:
            client = client_mod.GuestClient(
                guest.guest_id, transport=transport, conf=conf,
                control_exchange=exchange)
            assert client.wait_until_up(timeout=90) is True
        finally:
            transport.cleanup()

    def test_wrong_exchange_timeout_says_so(self, rabbitmq, guest):
        """A running guest in another exchange times out with a message
        naming the exchange and that possibility, not only 'check that
        the guest runs'."""
        conf, transport = _conf_and_transport(rabbitmq)
        try:
            client = client_mod.GuestClient(guest.guest_id,
                                            transport=transport, conf=conf)
            assert client.exchange == "trove"
            with pytest.raises(exceptions.GuestUnreachable) as info:
                client.call("rpc_ping", timeout=2)
        finally:
            transport.cleanup()
        message = str(info.value)
        assert "in exchange 'trove'" in message
        assert "another [DEFAULT] control_exchange" in message
        assert "guestagent.%s" % guest.guest_id in message
