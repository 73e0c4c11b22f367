"""Finding datastore plugins and loading exactly one manager.

Listing reads only the ``trove.datastores`` descriptors: no manager and
no datastore driver is imported. A plugin that fails to import, targets
another plugin API, has a malformed descriptor or shares its name with
another distribution is reported with its reason; the others list
normally. Loading a manager, which only the guest does and only for its
configured datastore, fails fast with the reason.

Healthy descriptors of wheel-installed plugins are kept in a cache
(:mod:`trove_core.plugincache`), so that listing hundreds of plugins
does not import hundreds of modules; failures and editable installs are
always imported again.
"""

import dataclasses
import enum
import importlib.metadata
import importlib.util
import logging
import os
import re

from trove_core import descriptor as descriptor_mod
from trove_core import exceptions
from trove_core import plugincache

__all__ = ["DATASTORES_GROUP", "Health", "MANAGERS_GROUP", "PluginRecord",
           "discover", "find", "install_command", "load_manager_class",
           "verify_manager"]

LOG = logging.getLogger(__name__)

DATASTORES_GROUP = "trove.datastores"
MANAGERS_GROUP = "trove.guestagent.managers"

_SEPARATORS = re.compile(r"[-_.]+")


class Health(enum.Enum):
    """Whether a plugin can be used, and if not, why."""

    OK = "ok"
    BROKEN = "broken"
    INCOMPATIBLE = "incompatible"
    INVALID = "invalid"
    DUPLICATE = "duplicate"


@dataclasses.dataclass(frozen=True)
class PluginRecord:
    """One entry of the ``trove.datastores`` group, usable or not.

    :param name: the entry-point name.
    :param distribution: the distribution that registers it.
    :param version: that distribution's version.
    :param target: the entry point's ``module:attr``.
    :param descriptor: the descriptor when it loaded, else ``None``.
    :param health: :class:`Health`.
    :param reason: why it is not usable (empty when it is).
    """

    name: str
    distribution: str
    version: str
    target: str
    descriptor: descriptor_mod.DatastoreDescriptor = None
    health: Health = Health.OK
    reason: str = ""

    @property
    def ok(self):
        """Whether the plugin can be used."""
        return self.health is Health.OK

    def error(self):
        """The :class:`~trove_core.exceptions.PluginError` that explains
        why the plugin cannot be used."""
        cls = {Health.BROKEN: exceptions.PluginLoadError,
               Health.INCOMPATIBLE: exceptions.IncompatiblePlugin,
               Health.INVALID: exceptions.InvalidDescriptor,
               Health.DUPLICATE: exceptions.DuplicatePlugin}
        return cls.get(self.health, exceptions.PluginError)(
            name=self.name, reason=self.reason)


def install_command(distribution, extra="guest"):
    """The one place that spells how to install a plugin's extra."""
    return "pip install '%s[%s]'" % (distribution, extra)


def _normalized(dist):
    """The name ``importlib.metadata`` tells distributions apart by.

    Taken from the ``*.dist-info`` or ``*.egg-info`` directory name, as
    importlib does, so that no metadata file is parsed; other
    distributions fall back to their ``Name``.
    """
    path = getattr(dist, "_path", None)
    base, ext = os.path.splitext(os.path.basename(str(path or "")))
    if ext in (".dist-info", ".egg-info"):
        name = base.partition("-")[0]
    else:
        name = dist.metadata["Name"] or ""
    return _SEPARATORS.sub("_", name).lower()


def _section(text, group):
    """The ``(name, value)`` pairs of section ``[group]`` of an
    ``entry_points.txt``, read as ``importlib.metadata`` reads it."""
    pairs = []
    inside = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line.strip("[]") == group
        elif inside:
            name, sep, value = line.partition("=")
            if sep:
                pairs.append((name.strip(), value.strip()))
    return pairs


def _entries(group):
    """The group's entry points, each once, with their distributions.

    One scan of the installed distributions, the first of each name
    winning as in :func:`importlib.metadata.entry_points`; only files
    that name the group are parsed, and only that section of them
    (parsing every entry point of every distribution cost more than
    reading the files). An entry point seen twice (the same
    distribution reached through two path entries) is kept once.

    :returns: ``[(entry_point, distribution), ...]``.
    """
    header = "[%s]" % group
    names = set()
    entries = {}
    for dist in importlib.metadata.distributions():
        name = _normalized(dist)
        if name in names:
            continue
        names.add(name)
        text = dist.read_text("entry_points.txt")
        if not text or header not in text:
            continue
        for ep_name, value in _section(text, group):
            entries.setdefault((ep_name, value), (
                importlib.metadata.EntryPoint(ep_name, value, group), dist))
    return list(entries.values())


def _owner(dist, parsed):
    """``(distribution, version)`` of ``dist``, reading each owner's
    metadata once (``dist.name`` and ``dist.version`` would each parse
    it again)."""
    if dist is None:
        return ("unknown", "")
    if id(dist) not in parsed:
        meta = dist.metadata
        parsed[id(dist)] = (dist, (meta["Name"], meta["Version"]))
    return parsed[id(dist)][1]


def _load(ep, cache=None):
    """Import one descriptor entry point.

    :returns: ``(obj, health, reason, cacheable)``.
    """
    cacheable = False
    try:
        if cache is None:
            obj = ep.load()
        else:
            obj, cacheable = cache.load(ep)
    except exceptions.InvalidDescriptor as exc:
        return None, Health.INVALID, exc.reason, False
    except (Exception, SystemExit) as exc:  # a plugin's import may
        # raise anything, sys.exit() included; Ctrl-C still stops us
        return None, Health.BROKEN, "importing %s failed: %s: %s" % (
            ep.value, type(exc).__name__,
            exceptions.bounded(exc.args[0] if len(exc.args) == 1
                               else exc.args)
            if isinstance(exc, SystemExit) else exc), False
    health, reason = _check(ep.name, obj)
    if health is not Health.OK:
        return None, health, reason, False
    return obj, health, reason, cacheable


def _evaluate(group, ep, dist, cache, parsed):
    """Load one entry point, from the cache when its key still holds.

    Only healthy descriptors are kept in the cache; a failure is
    evaluated again every time.

    :returns: ``(obj, health, reason, (distribution, version))``.
    """
    slot = cache.key(group, ep, dist) if cache is not None else None
    if slot is not None:
        hit = cache.get(*slot)
        if hit is not None:
            desc, dist, version = hit
            health, reason = _check(ep.name, desc)
            if health is Health.OK:
                return desc, health, reason, (dist, version)
    obj, health, reason, cacheable = _load(ep, cache)
    owner = _owner(dist, parsed)
    if slot is not None and cacheable:
        cache.put(*slot, obj, *owner)
    return obj, health, reason, owner


def _check(name, obj):
    if not isinstance(obj, descriptor_mod.DatastoreDescriptor):
        return Health.INVALID, (
            "the entry point gives a %s, not a DatastoreDescriptor"
            % type(obj).__name__)
    if obj.name != name:
        return Health.INVALID, (
            "the descriptor is named %r but registered as %r"
            % (obj.name, name))
    try:
        descriptor_mod.check_api_compatible(name, obj.plugin_api)
    except exceptions.IncompatiblePlugin as exc:
        return Health.INCOMPATIBLE, exc.reason
    return Health.OK, ""


def discover(group=DATASTORES_GROUP, names=None):
    """List every datastore plugin, healthy or not.

    Descriptors come from the plugin cache when nothing they depend on
    has changed (see :mod:`trove_core.plugincache`), else from importing
    their entry point; duplicates are found over all of them.

    :param group: the entry-point group to read.
    :param names: when given, only the entry points registered under
        these names are evaluated (every one of them, so a duplicate is
        still found); the others are neither imported nor listed. The
        guest uses it to touch no plugin but its own.
    :returns: :class:`PluginRecord` objects sorted by name.
    """
    cache = plugincache.DescriptorCache.open(group)
    records = []
    parsed = {}
    for ep, dist in _entries(group):
        if names is not None and ep.name not in names:
            continue
        obj, health, reason, owner = _evaluate(group, ep, dist, cache,
                                               parsed)
        records.append((ep.name, ep.value, obj, health, reason, owner))
    if cache is not None:
        cache.save()
    by_name = {}
    for rec in records:
        by_name.setdefault(rec[0], []).append(rec)
    result = []
    for name, recs in by_name.items():
        dists = sorted(r[5][0] for r in recs)
        for _name, value, obj, health, reason, owner in recs:
            dist, version = owner
            if len(recs) > 1:
                obj, health = None, Health.DUPLICATE
                reason = ("the name is registered by %d entry points "
                          "(distributions %s); uninstall all but one"
                          % (len(recs), ", ".join(dists)))
            result.append(PluginRecord(name, dist, version, value, obj,
                                       health, reason))
    for rec in result:
        if not rec.ok:
            LOG.warning("datastore plugin %s (%s) is %s: %s", rec.name,
                        rec.distribution, rec.health.value, rec.reason)
    return sorted(result, key=lambda r: (r.name, r.distribution))


def find(name, records=None):
    """Return the usable record for datastore ``name``.

    :raises PluginNotFound: nothing is registered under ``name``.
    :raises PluginError: the plugin is broken, incompatible, invalid or
        duplicated; the subclass says which, the message says why.
    """
    scanned = records is None
    if scanned:  # evaluate only this name's entry points
        records = discover(names={name})
    matches = [r for r in records if r.name == name]
    if not matches:
        installed = ({ep.name for ep, _dist in _entries(DATASTORES_GROUP)}
                     if scanned else {r.name for r in records})
        raise exceptions.PluginNotFound(
            name=name, installed=sorted(installed),
            command=install_command("trove-ds-" + name))
    if not matches[0].ok:
        raise matches[0].error()
    return matches[0]


def _check_drivers(record):
    for module in record.descriptor.driver_modules:
        if importlib.util.find_spec(module) is None:
            raise exceptions.DriverNotInstalled(
                name=record.name, module=module,
                command=install_command(record.distribution))


def verify_manager(name, manager_cls, descriptor=None):
    """Check that a manager implements exactly what it declares.

    :param name: the datastore name, for messages.
    :param manager_cls: the manager class.
    :param descriptor: when given, its declared capabilities must equal
        the manager's.
    :returns: the manager's capability names, sorted.
    :raises PluginValidationError: naming the plugin, the interface and
        the missing or mismatched method.
    """
    from zope.interface import exceptions as zexc
    from zope.interface import verify

    from trove_core import capabilities as caps
    from trove_core import manager as manager_mod

    if not (isinstance(manager_cls, type) and issubclass(
            manager_cls, manager_mod.BaseDatastoreManager)):
        raise exceptions.PluginValidationError(
            name=name, reason="its manager %r is not a subclass of "
            "trove_core.manager.BaseDatastoreManager" % (manager_cls,))
    for iface in caps.interfaces_of(manager_cls):
        try:
            verify.verifyClass(iface, manager_cls)
        except zexc.Invalid as exc:
            raise exceptions.PluginValidationError(
                name=name, reason="%s declares %s but %s" % (
                    manager_cls.__name__, iface.__name__,
                    _describe(exc))) from None
    declared = caps.capabilities_of(manager_cls)
    if descriptor is not None and set(declared) != set(
            descriptor.capabilities):
        only_desc = sorted(set(descriptor.capabilities) - set(declared))
        only_mgr = sorted(set(declared) - set(descriptor.capabilities))
        parts = []
        if only_desc:
            parts.append("the descriptor declares %s, which %s does not "
                         "implement" % (only_desc, manager_cls.__name__))
        if only_mgr:
            parts.append("%s implements %s, which the descriptor does "
                         "not declare" % (manager_cls.__name__, only_mgr))
        raise exceptions.PluginValidationError(
            name=name, reason="%s; make DESCRIPTOR.capabilities list "
            "exactly the capabilities the manager implements"
            % "; ".join(parts))
    return declared


def _method(method):
    """``name(signature)`` of an interface method (or a name)."""
    name = getattr(method, "__name__", method)
    try:
        return "%s%s" % (name, method.getSignatureString())
    except AttributeError:
        return str(name)


def _describe(exc):
    from zope.interface import exceptions as zexc

    if isinstance(exc, zexc.BrokenMethodImplementation):
        return ("method %r does not match the interface's %s: %s"
                % (getattr(exc.method, "__name__", exc.method),
                   _method(exc.method), exc.mess))
    if isinstance(exc, zexc.BrokenImplementation):
        return "method %r is missing" % (_method(exc.name),)
    if isinstance(exc, zexc.MultipleInvalid):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return str(exc)


def load_manager_class(name, records=None):
    """Load and verify the manager of datastore ``name``, and only it.

    :returns: ``(record, manager_cls)``.
    :raises PluginNotFound: nothing is registered under ``name``.
    :raises PluginError: the plugin is unusable, its driver is not
        installed, its manager fails to import or does not implement what
        it declares.
    """
    from stevedore import driver

    def reraise(_mgr, _ep, exc):
        raise exc

    record = find(name, records)
    _check_drivers(record)
    try:
        mgr = driver.DriverManager(MANAGERS_GROUP, name,
                                   invoke_on_load=False,
                                   on_load_failure_callback=reraise)
    except (Exception, SystemExit) as exc:  # stevedore wraps import
        # errors variously; a manager module may call sys.exit()
        raise exceptions.PluginLoadError(
            name=name, reason="its manager (%s %r) could not be loaded: "
            "%s: %s" % (MANAGERS_GROUP, name, type(exc).__name__,
                        exc)) from exc
    manager_cls = mgr.driver
    verify_manager(name, manager_cls, record.descriptor)
    return record, manager_cls
