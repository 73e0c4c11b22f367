"""Guest isolation on the message bus.

:mod:`trove_core.security.broker` gives each guest its own RabbitMQ user
limited to its own queues; :mod:`trove_core.secure_rpc` seals payloads;
:mod:`trove_core.security.cli` is ``trove-guest-credentials``.

The facade is lazy: a guest that only needs :mod:`.keys` (through secure
RPC) never imports the broker provisioning code.
"""

from trove_core import lazy

__all__ = ["GuestBrokerPolicy", "Rabbitmqctl"]


__getattr__, __dir__ = lazy.facade(
    __name__, {name: "trove_core.security.broker" for name in __all__})
