"""What the guest and the control plane share about the RPC wire.

Trove's guest API 1.x is served by every guest on topic
``guestagent.<guest_id>`` in the control exchange (``trove`` by default);
the framework's own additions (capabilities, plugin info, health, the
operation in flight) live in the ``trove_core`` namespace at their own
version. Both sides build their transport here, so both allow the same
remote exception modules and get the same defaults.

oslo.messaging is imported lazily: listing plugins never pays for it.
"""

import logging
import re

from oslo_config import cfg

from trove_core import exceptions

__all__ = [
    "ALLOWED_REMOTE_EXMODS", "API_VERSION", "BASE_VERSION",
    "CONDUCTOR_TOPIC", "CONDUCTOR_VERSION", "CONTROL_EXCHANGE",
    "FRAMEWORK_NAMESPACE", "FRAMEWORK_VERSION", "VERSION_ALIASES",
    "check_guest_id", "control_exchange", "get_transport", "guest_target",
    "guest_topic",
    "resolve_version_cap", "version_tuple",
]

LOG = logging.getLogger(__name__)

#: The highest Trove guest API version a guest speaks.
API_VERSION = "1.3"
#: The version every Trove guest API method started at.
BASE_VERSION = "1.0"
#: ``[upgrade_levels] guestagent`` aliases, as Trove spells them.
VERSION_ALIASES = {
    "ussuri": "1.0", "victoria": "1.1", "epoxy": "1.2",
    "hibiscus": "1.3", "latest": API_VERSION,
}
#: The RPC namespace and version of the framework's own methods.
FRAMEWORK_NAMESPACE = "trove_core"
FRAMEWORK_VERSION = "1.0"
#: Trove's defaults for the exchange and the conductor's topic.
CONTROL_EXCHANGE = "trove"
CONDUCTOR_TOPIC = "trove-conductor"
CONDUCTOR_VERSION = "1.0"
#: Modules whose exceptions are rebuilt with their own class on the
#: calling side; anything else arrives as ``oslo_messaging.RemoteError``.
ALLOWED_REMOTE_EXMODS = ["trove_core.exceptions"]


_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def check_guest_id(guest_id):
    """Return ``guest_id`` when it can name a topic; see
    :func:`trove_core.models.check_guest_id`."""
    from trove_core import models

    return models.check_guest_id(guest_id)


def guest_topic(guest_id):
    """The topic a guest listens on: ``guestagent.<guest_id>``."""
    return "guestagent.%s" % check_guest_id(guest_id)


def version_tuple(version):
    """``"1.3"`` -> ``(1, 3)``.

    :raises BadRequest: not a ``major.minor`` string.
    """
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not match:
        raise exceptions.BadRequest(
            reason="RPC version %r is not 'major.minor'" % (version,))
    return int(match.group(1)), int(match.group(2))


def resolve_version_cap(value):
    """Turn an ``[upgrade_levels] guestagent`` value into a version.

    :param value: ``None`` (latest), an alias such as ``victoria``, or a
        ``major.minor`` version.
    :returns: the version string.
    :raises BadRequest: unknown alias, or a version this code cannot
        speak.
    """
    if value is None:
        return API_VERSION
    version = VERSION_ALIASES.get(str(value).strip().lower(), value)
    try:
        parsed = version_tuple(version)
    except exceptions.BadRequest:
        raise exceptions.BadRequest(
            reason="unknown guest API version cap %r; use a version like "
            "'1.2' or one of %s" % (value, sorted(VERSION_ALIASES))
        ) from None
    if parsed[0] != 1 or parsed > version_tuple(API_VERSION):
        raise exceptions.BadRequest(
            reason="guest API version cap %r is outside 1.0-%s"
            % (value, API_VERSION))
    return version


#: Option groups oslo.messaging registers on the global ``cfg.CONF`` only:
#: (module, attribute, group).
_GLOBAL_ONLY_OPTS = (
    ("oslo_messaging._tracing.client", "oslo_messaging_tracing",
     "oslo_messaging_tracing"),
    ("oslo_messaging._metrics.client", "oslo_messaging_metrics",
     "oslo_messaging_metrics"),
)


def _ensure_messaging_opts(conf):
    """Register on ``conf`` what oslo.messaging only puts on the global
    ``cfg.CONF`` (see the field notes: without it a server never
    replies)."""
    import importlib

    import oslo_messaging

    oslo_messaging.set_transport_defaults(CONTROL_EXCHANGE)
    if conf is cfg.CONF:
        return
    for module, attr, group in _GLOBAL_ONLY_OPTS:
        try:
            opts = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):  # not in this release
            continue
        try:
            conf.register_opts(opts, group=group)
        except cfg.DuplicateOptError:  # registered differently: leave it
            LOG.debug("%s options already registered", group)


def get_transport(conf=None, url=None):
    """Build an oslo.messaging RPC transport.

    :param conf: the ``ConfigOpts`` holding ``transport_url`` and
        ``control_exchange``; the global ``cfg.CONF`` by default.
    :param url: a transport URL overriding ``[DEFAULT] transport_url``.
    :returns: an ``oslo_messaging.RPCTransport``.
    """
    import oslo_messaging

    conf = cfg.CONF if conf is None else conf
    _ensure_messaging_opts(conf)
    return oslo_messaging.get_rpc_transport(
        conf, url=url, allowed_remote_exmods=ALLOWED_REMOTE_EXMODS)


def guest_target(guest_id, server=None, namespace=None, version=None,
                 exchange=None):
    """The ``oslo_messaging.Target`` of a guest's topic.

    :param guest_id: the guest's id.
    :param server: the server name (the guest id on the guest side,
        ``None`` on the client side).
    :param namespace: ``None`` for Trove's API, or
        :data:`FRAMEWORK_NAMESPACE`.
    :param version: the target version.
    :param exchange: the exchange; ``None`` is the transport's
        ``control_exchange`` as it was when the transport was built.
    """
    import oslo_messaging

    return oslo_messaging.Target(topic=guest_topic(guest_id),
                                 server=server, namespace=namespace,
                                 version=version, exchange=exchange)


def control_exchange(conf=None):
    """The ``[DEFAULT] control_exchange`` of ``conf`` now.

    It is read when called, so a value set with ``conf.set_override``
    after the transport was built still counts; before oslo.messaging
    registered the option (no transport yet) it is Trove's default,
    :data:`CONTROL_EXCHANGE`.
    """
    conf = cfg.CONF if conf is None else conf
    try:
        return conf.control_exchange or CONTROL_EXCHANGE
    except cfg.NoSuchOptError:
        return CONTROL_EXCHANGE
