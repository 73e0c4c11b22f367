"""redis.conf rendering and the override schema.

The schema ships as ``data/validation-rules.json`` (Trove's file name) in
the format of :mod:`trove_core.configuration`, which checks overrides:
one entry per parameter an override may set, with its type, range,
choices or pattern and whether ``CONFIG SET`` applies it at once
(``dynamic``). Anything not in the schema is refused, naming the
parameter, before any file or server is touched. What is Redis's own
lives here: values come back as the strings redis.conf and ``CONFIG
SET`` take (``yes``/``no`` for booleans).

The rendered file is built in three layers: the base configuration the
control plane sent (``config_contents``), minus the keys the guest owns;
the guest's own keys (port, bind, data directory, ACL file, persistence,
memory, replication); then the validated overrides.
"""

from trove_core import configuration
from trove_guest_base.configfile import KeyValueConfig

__all__ = ["GUEST_OWNED", "load_schema", "render", "validate_overrides"]

#: Keys a base configuration may not set: they would bypass the guest's
#: authentication, file layout or replication state.
GUEST_OWNED = frozenset({
    "port", "bind", "dir", "dbfilename", "aclfile", "daemonize", "logfile",
    "requirepass", "user", "include", "rename-command", "replicaof",
    "slaveof", "masterauth", "masteruser", "unixsocket", "unixsocketperm",
    "enable-debug-command", "enable-module-command", "loadmodule",
    "appenddirname", "appendfilename", "pidfile", "supervised",
    "tls-port", "tls-cert-file", "tls-key-file", "tls-ca-cert-file",
    "tls-ca-cert-dir", "tls-auth-clients",
    "cluster-enabled", "cluster-config-file", "cluster-port",
    "cluster-announce-ip", "cluster-announce-port",
    "cluster-announce-bus-port",
})


def load_schema():
    """Return the override schema, a mapping of name to
    :class:`trove_core.configuration.Parameter` (loaded once)."""
    return configuration.load_schema(__package__)


def _redis_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def validate_overrides(overrides):
    """Check ``overrides`` against the schema.

    :param overrides: ``{name: value}``; ``None`` is empty.
    :returns: ``{name: redis value string}``, in the given order.
    :raises InvalidConfiguration: a parameter is unknown or its value is
        invalid; nothing was applied.
    :raises BadRequest: ``overrides`` is not a mapping.
    """
    return {name: _redis_value(value) for name, value in
            load_schema().validate(overrides).items()}


def _save_points(value):
    """Split a ``save`` value into the repeated lines redis.conf takes."""
    numbers = value.split()
    if not numbers:
        return ['""']
    return ["%s %s" % pair for pair in zip(numbers[::2], numbers[1::2],
                                            strict=True)]


def render(base_text, managed, overrides):
    """Return redis.conf text.

    :param base_text: the control plane's base configuration, or ``None``.
    :param managed: the guest's own keys, ``{key: value or [values]}``.
    :param overrides: validated overrides (:func:`validate_overrides`).
    :raises ConfigFileError: a value holds a line break.
    """
    config = KeyValueConfig.parse(base_text or "")
    config.items = [(k, v) for k, v in config.items
                    if k.lower() not in GUEST_OWNED]
    config.merge(managed)
    rendered = {}
    for name, value in overrides.items():
        rendered[name] = _save_points(value) if name == "save" else value
    config.merge(rendered)
    return ("# Rendered by the trove guest agent; edits are overwritten.\n"
            + config.render())
