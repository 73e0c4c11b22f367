"""The declarative descriptor a datastore plugin registers.

A descriptor is plain data: listing plugins, building images and the
control plane read it without importing a manager or a datastore driver.
A plugin's ``plugin.py`` builds one and its ``setup.cfg`` registers it::

    [entry_points]
    trove.datastores =
        mysql = trove_ds_mysql.plugin:DESCRIPTOR
"""

import dataclasses
import functools
import itertools
import re

from trove_core import exceptions
from trove_core import tiers

__all__ = ["DatastoreDescriptor", "ImageSpec", "OSSupport",
           "PLUGIN_API_VERSION", "Strategy", "check_api_compatible"]

#: The plugin API this core provides, ``(major, minor)``. A plugin written
#: against ``M.n`` runs on a core providing ``M.m`` with ``m >= n``.
PLUGIN_API_VERSION = (1, 0)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_STRATEGY_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_OS_ID = re.compile(r"^[a-z]+-[0-9][0-9.]*$")
STRATEGY_KINDS = ("backup", "replication", "cluster")


def _invalid(name, reason):
    return exceptions.InvalidDescriptor(name=name, reason=reason)


@functools.cache
def _field_names(cls):
    return frozenset(f.name for f in dataclasses.fields(cls))


#: ``isinstance`` mapped over a sequence runs in C, without a generator
_STR = itertools.repeat(str)


def _fields(name, data, cls, required):
    """Check that ``data`` is a dict holding ``cls``'s fields only."""
    if not isinstance(data, dict):
        raise _invalid(name, "a %s must be given as a dict, got %s"
                       % (cls.__name__, type(data).__name__))
    known = _field_names(cls)
    if not known.issuperset(data):
        raise _invalid(name, "unknown %s fields %s; known: %s"
                       % (cls.__name__, sorted(set(data) - known),
                          sorted(known)))
    if not data.keys() >= set(required):
        raise _invalid(name, "%s fields %s are missing"
                       % (cls.__name__, sorted(set(required) - set(data))))
    return data


def _texts(name, data, keys):
    """Refuse fields among ``keys`` that are present but not strings."""
    for key in keys:
        if key in data and not isinstance(data[key], str):
            raise _invalid(name, "%s must be a string, got %r"
                           % (key, data[key]))


def _strings(name, data, key):
    """``data[key]`` (a list of strings) as a tuple, if present."""
    value = data.get(key, ())
    if not isinstance(value, (list, tuple)) or not all(
            map(isinstance, value, _STR)):
        raise _invalid(name, "%s must be a list of strings, got %r"
                       % (key, value))
    return tuple(value)


def _api_version(name, value):
    if isinstance(value, str):
        parts = value.split(".")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return int(parts[0]), int(parts[1])
    raise _invalid(name, "plugin_api must look like '1.0', got %r"
                   % (value,))


def check_api_compatible(name, plugin_api, provided=PLUGIN_API_VERSION):
    """Refuse a plugin written for a plugin API this core lacks.

    :param name: the datastore name, for the message.
    :param plugin_api: the ``"major.minor"`` the plugin targets.
    :param provided: the core's ``(major, minor)``.
    :raises IncompatiblePlugin: naming both versions and what to do.
    """
    major, minor = _api_version(name, plugin_api)
    if major != provided[0] or minor > provided[1]:
        have = "%d.%d" % provided
        if major > provided[0] or (major == provided[0]
                                   and minor > provided[1]):
            hint = "upgrade trove-core"
        else:
            hint = "install a release of the plugin built for %s" % have
        raise exceptions.IncompatiblePlugin(
            name=name, reason="it targets plugin API %s but trove-core "
            "provides %s; %s" % (plugin_api, have, hint))


@dataclasses.dataclass(frozen=True)
class Strategy:
    """A backup, replication or cluster strategy and its own tier.

    A ``cluster`` strategy is a cluster *topology* the plugin serves
    (``galera``, ``redis-cluster``, ``sharded``, ``ring``...): its name is
    the topology, its code is the manager's cluster family capability
    (``cluster_<family>``), so it has no entry point of its own. A single
    instance is the topology every datastore serves; it is not listed.

    :param name: the entry name in ``trove.guestagent.<kind>_strategies``
        (backup, replication) or the topology name (cluster).
    :param kind: ``backup``, ``replication`` or ``cluster``.
    :param tier: its maturity tier.
    :param summary: one line for listings.
    """

    name: str
    kind: str
    tier: tiers.Tier
    summary: str = ""

    @property
    def group(self):
        """The entry-point group its class is registered in."""
        return "trove.guestagent.%s_strategies" % self.kind

    def to_dict(self):
        """Plain data (JSON-safe) that :meth:`from_dict` turns back."""
        return {"name": self.name, "kind": self.kind,
                "tier": str(self.tier), "summary": self.summary}

    @classmethod
    def from_dict(cls, data, owner="?"):
        """Rebuild a strategy from :meth:`to_dict`'s output.

        :param data: the dict.
        :param owner: the datastore name, for messages.
        :raises InvalidDescriptor: unknown or missing fields.
        """
        _fields(owner, data, cls, ("name", "kind", "tier"))
        _texts(owner, data, ("name", "kind", "tier", "summary"))
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class OSSupport:
    """An operating system a guest image can be built on.

    :param id: ``<distro>-<version>``, e.g. ``debian-12``.
    :param packages: the OS packages the datastore needs there.
    """

    id: str
    packages: tuple = ()

    def to_dict(self):
        """Plain data (JSON-safe) that :meth:`from_dict` turns back."""
        return {"id": self.id, "packages": list(self.packages)}

    @classmethod
    def from_dict(cls, data, owner="?"):
        """Rebuild an OS entry from :meth:`to_dict`'s output.

        :param data: the dict.
        :param owner: the datastore name, for messages.
        :raises InvalidDescriptor: unknown, missing or mistyped fields.
        """
        _fields(owner, data, cls, ("id",))
        _texts(owner, data, ("id",))
        return cls(data["id"], _strings(owner, data, "packages"))


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """What a guest image of this datastore needs.

    :param supported_os: the operating systems images are built on.
    :param service_user: the OS account the datastore runs as.
    :param data_dirs: directories the image creates for the datastore.
    :param elements: the package-relative directory holding the image
        elements (setup hooks, diskimage-builder files).
    """

    supported_os: tuple = ()
    service_user: str = ""
    data_dirs: tuple = ()
    elements: str = "elements"

    def os(self, os_id):
        """Return the :class:`OSSupport` for ``os_id`` or ``None``."""
        for entry in self.supported_os:
            if entry.id == os_id:
                return entry
        return None

    def to_dict(self):
        """Plain data (JSON-safe) that :meth:`from_dict` turns back."""
        return {"supported_os": [o.to_dict() for o in self.supported_os],
                "service_user": self.service_user,
                "data_dirs": list(self.data_dirs),
                "elements": self.elements}

    @classmethod
    def from_dict(cls, data, owner="?"):
        """Rebuild an image spec from :meth:`to_dict`'s output.

        :param data: the dict.
        :param owner: the datastore name, for messages.
        :raises InvalidDescriptor: unknown or mistyped fields.
        """
        _fields(owner, data, cls, ())
        _texts(owner, data, ("service_user", "elements"))
        entries = data.get("supported_os", ())
        if not isinstance(entries, (list, tuple)):
            raise _invalid(owner, "supported_os must be a list, got %r"
                           % (entries,))
        args = dict(data)
        args["supported_os"] = tuple(OSSupport.from_dict(o, owner)
                                     for o in entries)
        args["data_dirs"] = _strings(owner, data, "data_dirs")
        return cls(**args)


@dataclasses.dataclass(frozen=True)
class DatastoreDescriptor:
    """Everything known about a datastore plugin without importing it.

    :param name: the datastore name; equals the entry-point name.
    :param tier: the maturity tier the author declares.
    :param capabilities: the capability names its manager implements
        (checked against the manager when the guest loads it).
    :param summary: one line for listings.
    :param engine_versions: the datastore versions it supports.
    :param strategies: its backup and replication strategies.
    :param image: what a guest image needs.
    :param driver_modules: Python modules its ``[guest]`` extra provides;
        the guest checks them before importing the manager.
    :param plugin_api: the plugin API version it was written against.
    """

    name: str
    tier: tiers.Tier
    capabilities: frozenset
    summary: str = ""
    engine_versions: tuple = ()
    strategies: tuple = ()
    image: ImageSpec = ImageSpec()
    driver_modules: tuple = ()
    plugin_api: str = "1.0"

    def __post_init__(self):
        from trove_core import capabilities as caps

        name = self.name if isinstance(self.name, str) else repr(self.name)
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise _invalid(name, "the name must match %s" % _NAME.pattern)
        try:
            object.__setattr__(self, "tier", tiers.parse_tier(self.tier))
        except exceptions.InvalidTier as exc:
            raise _invalid(name, str(exc)) from None
        declared = frozenset(self.capabilities)
        unknown = sorted(declared - set(caps.CAPABILITIES))
        if unknown:
            raise _invalid(name, "unknown capabilities %s; known: %s"
                           % (unknown, sorted(caps.CAPABILITIES)))
        if "lifecycle" not in declared:
            raise _invalid(name, "every datastore must declare "
                           "'lifecycle' (prepare, start, stop)")
        object.__setattr__(self, "capabilities", declared)
        for strategy in self.strategies:
            self._check_strategy(strategy)
        seen = [s.name for s in self.strategies]
        if len(seen) != len(set(seen)):
            raise _invalid(name, "strategy names repeat: %s" % seen)
        families = caps.cluster_families(declared)
        topologies = [s.name for s in self.strategies if s.kind == "cluster"]
        if (families or topologies) and "cluster" not in declared:
            raise _invalid(name, "cluster families %s or topologies %s need "
                           "the 'cluster' capability declared too"
                           % (families, topologies))
        if topologies and not families:
            raise _invalid(name, "cluster topologies %s need a cluster "
                           "family capability (one of %s)"
                           % (topologies, sorted(
                               caps.CLUSTER_FAMILIES.values())))
        for entry in self.image.supported_os:
            if not isinstance(entry, OSSupport) or not _OS_ID.match(
                    entry.id):
                raise _invalid(name, "supported OS %r must be an OSSupport "
                               "with an id like 'debian-12'" % (entry,))
        _api_version(name, self.plugin_api)

    def _check_strategy(self, strategy):
        if not isinstance(strategy, Strategy):
            raise _invalid(self.name, "strategy %r is not a Strategy"
                           % (strategy,))
        if strategy.kind not in STRATEGY_KINDS:
            raise _invalid(self.name, "strategy %r has kind %r; use one of"
                           " %s" % (strategy.name, strategy.kind,
                                    STRATEGY_KINDS))
        if not _STRATEGY_NAME.match(strategy.name):
            raise _invalid(self.name, "strategy name %r must match %s"
                           % (strategy.name, _STRATEGY_NAME.pattern))
        try:
            object.__setattr__(strategy, "tier",
                               tiers.parse_tier(strategy.tier))
        except exceptions.InvalidTier as exc:
            raise _invalid(self.name, "strategy %r: %s"
                           % (strategy.name, exc)) from None

    @property
    def server_namespace(self):
        """The ``oslo.config.opts`` namespace of its server options."""
        return "trove.datastore.%s.server" % self.name

    @property
    def guest_namespace(self):
        """The ``oslo.config.opts`` namespace of its guest options."""
        return "trove.datastore.%s.guest" % self.name

    @property
    def topologies(self):
        """The cluster topologies (``cluster`` strategies) it serves."""
        return tuple(s for s in self.strategies if s.kind == "cluster")

    @property
    def cluster_families(self):
        """The cluster family names its capabilities declare."""
        from trove_core import capabilities as caps

        return tuple(caps.cluster_families(self.capabilities))

    def strategy(self, name):
        """Return the :class:`Strategy` called ``name`` or ``None``."""
        for strategy in self.strategies:
            if strategy.name == name:
                return strategy
        return None

    def to_dict(self):
        """Plain data (JSON-safe) that :meth:`from_dict` turns back.

        ``DatastoreDescriptor.from_dict(d.to_dict()) == d`` holds for a
        descriptor whose sequences are tuples of strings, as a plugin
        writes them; callers that depend on the round trip (the plugin
        cache) check it.
        """
        return {"name": self.name, "tier": self.tier.label,
                "capabilities": sorted(self.capabilities),
                "summary": self.summary,
                "engine_versions": list(self.engine_versions),
                "strategies": [s.to_dict() for s in self.strategies],
                "image": self.image.to_dict(),
                "driver_modules": list(self.driver_modules),
                "plugin_api": self.plugin_api}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a descriptor from :meth:`to_dict`'s output.

        The result goes through the same validation as a descriptor a
        plugin builds.

        :param data: the dict.
        :returns: the :class:`DatastoreDescriptor`.
        :raises InvalidDescriptor: the data is malformed or describes an
            invalid descriptor; the reason says which field.
        """
        name = data.get("name", "?") if isinstance(data, dict) else "?"
        name = name if isinstance(name, str) else repr(name)
        _fields(name, data, cls, ("name", "tier", "capabilities"))
        _texts(name, data, ("tier", "summary", "plugin_api"))
        strategies = data.get("strategies", ())
        if not isinstance(strategies, (list, tuple)):
            raise _invalid(name, "strategies must be a list, got %r"
                           % (strategies,))
        args = dict(data)
        args["capabilities"] = frozenset(
            _strings(name, data, "capabilities"))
        args["engine_versions"] = _strings(name, data, "engine_versions")
        args["driver_modules"] = _strings(name, data, "driver_modules")
        args["strategies"] = tuple(Strategy.from_dict(s, name)
                                   for s in strategies)
        if "image" in data:
            args["image"] = ImageSpec.from_dict(data["image"], name)
        return cls(**args)
