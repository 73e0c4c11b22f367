"""cassandra.yaml: the overrides schema and the YAML rendering.

The file is rendered in four layers, each over the previous one:
defaults Cassandra requires, the base configuration (``config_contents``),
the user's overrides (only names in the schema,
``data/validation-rules.json``, checked by :mod:`trove_core.configuration`;
a dynamic parameter's ``apply`` names the nodetool command that sets it
live), and the settings the guest owns (cluster name, addresses, ports,
directories, seeds, authentication), so neither a base nor an override
can change those.
"""

import copy

from trove_core import configuration
from trove_core import exceptions
from trove_guest_base import configfile

__all__ = ["DEFAULTS", "dynamic_changes", "json_schema", "load_schema",
           "nodetool_args", "parse_base", "render", "render_rackdc",
           "seed_provider", "validate_overrides"]

PASSWORD_AUTHENTICATOR = "PasswordAuthenticator"  # noqa: S105 (a class)
CASSANDRA_AUTHORIZER = "CassandraAuthorizer"
ALLOW_ALL_AUTHENTICATOR = "AllowAllAuthenticator"
ALLOW_ALL_AUTHORIZER = "AllowAllAuthorizer"
SEED_PROVIDER = "org.apache.cassandra.locator.SimpleSeedProvider"

#: What Cassandra refuses to start without, unless the base sets it.
DEFAULTS = {
    "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
    "commitlog_sync": "periodic",
    "commitlog_sync_period_in_ms": 10000,
    "start_native_transport": True,
}


def load_schema():
    """Return the overrides schema (loaded once): a mapping of name to
    :class:`trove_core.configuration.Parameter`."""
    return configuration.load_schema(__package__, require_apply=True)


def _invalid(name, reason):
    return exceptions.InvalidConfiguration(name=name, reason=reason)


def validate_overrides(overrides):
    """Check ``overrides`` against the schema and type their values.

    :returns: a new dict of typed values.
    :raises BadRequest: ``overrides`` is not a mapping.
    :raises InvalidConfiguration: an unknown name or a bad value.
    """
    return load_schema().validate(overrides)


def nodetool_args(parameter, value):
    """The nodetool arguments that set a dynamic ``parameter`` live.

    A boolean's ``apply`` is the suffix of ``enable``/``disable``
    (``handoff``); another's is the command taking the value.
    """
    if parameter.type == "boolean":
        return [("enable" if value else "disable") + parameter.apply]
    return [parameter.apply, str(value)]


def dynamic_changes(overrides):
    """Split typed overrides by how they apply to a running node.

    :returns: ``([nodetool argument lists], [names needing a
        restart])``.
    """
    schema = load_schema()
    live, restart = schema.split(dict(sorted(overrides.items())))
    return ([nodetool_args(schema[name], value)
             for name, value in live.items()], list(restart))


def json_schema():
    """Return the schema as a JSON Schema of the overrides mapping."""
    return load_schema().json_schema()


def parse_base(text):
    """Parse a base cassandra.yaml into a mapping.

    :raises InvalidConfiguration: not YAML, or not a mapping.
    """
    return configfile.parse_yaml_mapping(text)


def seed_provider(seeds):
    """The ``seed_provider`` setting naming ``seeds``."""
    return [{"class_name": SEED_PROVIDER,
             "parameters": [{"seeds": ",".join(seeds)}]}]


def render(base, overrides, system):
    """Render cassandra.yaml.

    :param base: the base mapping (see :func:`parse_base`).
    :param overrides: typed overrides (see :func:`validate_overrides`).
    :param system: top-level settings the guest owns, applied last.
    :returns: the YAML text.
    """
    import yaml

    tree = dict(DEFAULTS)
    tree.update(copy.deepcopy(base))
    tree.update(overrides)
    tree.update(system)
    return ("# Rendered by the trove-core guest agent; edits are "
            "overwritten.\n" + yaml.safe_dump(tree, default_flow_style=False,
                                              sort_keys=True))


def render_rackdc(data_center, rack):
    """cassandra-rackdc.properties for GossipingPropertyFileSnitch.

    :raises BadRequest: a name that is not plain.
    """
    import re

    for what, value in (("data center", data_center), ("rack", rack)):
        if not re.match(r"^[A-Za-z0-9_.-]{1,64}$", str(value)):
            raise exceptions.BadRequest(
                reason="%s name %r must be 1-64 letters, digits, '_', '.' "
                "or '-'" % (what, value))
    return "dc=%s\nrack=%s\nprefer_local=true\n" % (data_center, rack)
