"""``trove-guest-credentials``: a guest's own identity on the broker.

:mod:`.broker` gives each guest a RabbitMQ user limited to its own
queues; :mod:`.cli` is the console script. The keys a guest uses at run
time stay in :mod:`trove_core.security.keys`.

The facade is lazy, like :mod:`trove_core`'s.
"""

from trove_core import lazy

__all__ = ["GuestBrokerPolicy", "Rabbitmqctl"]


__getattr__, __dir__ = lazy.facade(
    __name__, {name: "trove_core.tools.credentials.broker"
               for name in __all__})
