"""mongod.conf: the overrides schema and the YAML rendering.

Overrides are named by their dotted YAML path, as Trove's MongoDB
validation rules named them (``net.maxIncomingConnections``). Only the
names in the schema (``data/validation-rules.json``, checked by
:mod:`trove_core.configuration`) are accepted; a dynamic parameter's
``apply`` is the ``setParameter`` name that changes it on a running
server. The settings the guest owns (port, addresses, paths,
authorization, replica set) are rendered last, so neither the base
configuration nor an override can change them.
"""

import copy

from trove_core import configuration
from trove_core import exceptions
from trove_guest_base import configfile

__all__ = ["dynamic_changes", "json_schema", "load_schema", "parse_base",
           "render", "validate_overrides"]


def load_schema():
    """Return the overrides schema (loaded once): a mapping of dotted
    name to :class:`trove_core.configuration.Parameter`."""
    return configuration.load_schema(__package__, require_apply=True)


def _invalid(name, reason):
    return exceptions.InvalidConfiguration(name=name, reason=reason)


def validate_overrides(overrides):
    """Check ``overrides`` against the schema and type their values.

    :param overrides: a mapping of dotted names to values.
    :returns: a new dict with values of the schema's types.
    :raises BadRequest: ``overrides`` is not a mapping.
    :raises InvalidConfiguration: an unknown name or a bad value; the
        message names the parameter and what is accepted.
    """
    return load_schema().validate(overrides)


def dynamic_changes(overrides):
    """Split typed overrides by how they apply to a running server.

    :returns: ``({setParameter name: value}, [names needing a restart])``.
    """
    schema = load_schema()
    live, restart = schema.split(overrides)
    return ({schema[name].apply: value for name, value in live.items()},
            sorted(restart))


def json_schema():
    """Return the schema as a JSON Schema of the overrides mapping."""
    return load_schema().json_schema()


def parse_base(text):
    """Parse a base mongod.conf (YAML) into a mapping.

    :raises InvalidConfiguration: not YAML, or not a mapping.
    """
    return configfile.parse_yaml_mapping(text)


def _set(tree, dotted, value):
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _remove(node, parts):
    """Remove a dotted setting, and the sections it leaves empty."""
    if not isinstance(node, dict) or parts[0] not in node:
        return
    if len(parts) == 1:
        del node[parts[0]]
        return
    _remove(node[parts[0]], parts[1:])
    if node[parts[0]] == {}:
        del node[parts[0]]


def render(base, overrides, system):
    """Render mongod.conf.

    :param base: the base configuration mapping (see :func:`parse_base`).
    :param overrides: typed overrides (see :func:`validate_overrides`).
    :param system: dotted name -> value the guest owns; applied last;
        a ``None`` value removes the setting.
    :returns: the YAML text.
    """
    import yaml

    tree = copy.deepcopy(base)
    for name, value in overrides.items():
        _set(tree, name, value)
    for name, value in system.items():
        if value is None:
            _remove(tree, name.split("."))
            continue
        _set(tree, name, value)
    return ("# Rendered by the trove-core guest agent; edits are "
            "overwritten.\n" + yaml.safe_dump(tree, default_flow_style=False,
                                              sort_keys=True))
