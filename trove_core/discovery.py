"""Finding datastore plugins and loading exactly one manager.

Listing reads only the ``trove.datastores`` descriptors: no manager and
no datastore driver is imported. A plugin that fails to import, targets
another plugin API, has a malformed descriptor or shares its name with
another distribution is reported with its reason; the others list
normally. Loading a manager, which only the guest does and only for its
configured datastore, fails fast with the reason.

A plugin installed from a wheel ships its descriptor as data
(:mod:`trove_core.descriptordata`), which listing reads instead of
importing the plugin; ``show``, ``check`` and the guest's load also
import it and refuse data that disagrees. Plugins without data and
editable installs are imported (healthy wheel-installed ones are then
kept in :mod:`trove_core.plugincache`). The outcome of the whole scan is
kept in :mod:`trove_core.pluginindex` while the environment does not
change, so that a warm listing reads one file.
"""

import dataclasses
import enum
import importlib.metadata
import importlib.util
import logging
import os
import pathlib
import re

from trove_core import descriptor as descriptor_mod
from trove_core import descriptordata
from trove_core import exceptions
from trove_core import plugincache
from trove_core import pluginindex

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

    def listing(self):
        """What a listing shows of the plugin's descriptor: ``(tier
        label, sorted capability names, strategies)``, each strategy a
        ``(name, kind, tier label, summary)`` sequence; ``None`` without
        a descriptor."""
        desc = self.descriptor
        if desc is None:
            return None
        return (desc.tier.label, sorted(desc.capabilities),
                [(s.name, s.kind, s.tier.label, s.summary)
                 for s in desc.strategies])

    def error(self):
        """The :class:`~trove_core.exceptions.PluginError` that explains
        why the plugin cannot be used."""
        cls = {Health.BROKEN: exceptions.PluginLoadError,
               Health.INCOMPATIBLE: exceptions.IncompatiblePlugin,
               Health.INVALID: exceptions.InvalidDescriptor,
               Health.DUPLICATE: exceptions.DuplicatePlugin}
        return cls.get(self.health, exceptions.PluginError)(
            name=self.name, reason=self.reason)


class _PackedRecord(PluginRecord):
    """A usable record from the listing index: its descriptor stays in
    the index's packed form until something reads it, and a listing
    reads what it shows from that form in place.

    Built by :func:`_packed_record` (the dataclass ``__init__`` cannot
    set a property).
    """

    @property
    def descriptor(self):
        fields = self.__dict__
        if "_descriptor" not in fields:
            fields["_descriptor"] = descriptordata.unpack(fields["_packed"])
        return fields["_descriptor"]

    @descriptor.setter
    def descriptor(self, value):  # the dataclass __init__, as replace()
        # calls it
        self.__dict__["_descriptor"] = value
        self.__dict__.pop("_packed", None)

    def listing(self):
        packed = self.__dict__.get("_packed")
        if packed is None:
            return super().listing()
        return descriptordata.packed_listing(packed)


def _packed_record(name, distribution, version, target, packed):
    record = object.__new__(_PackedRecord)
    record.__dict__.update(name=name, distribution=distribution,
                           version=version, target=target,
                           health=Health.OK, reason="", _packed=packed)
    return record


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


def _read(dist, name):
    """``dist.read_text(name)``, without its ``pathlib`` and ``io``
    overhead for a distribution in a directory (together about half of
    a 500-plugin scan).

    :returns: the text, or ``None`` when the file is absent.
    """
    path = getattr(dist, "_path", None)
    if type(path) is not pathlib.PosixPath:
        return dist.read_text(name)
    try:
        return plugincache.read_bytes("%s/%s" % (path, name)).decode(
            "utf-8", "replace")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError,
            PermissionError):
        return None


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
        text = _read(dist, "entry_points.txt")
        if not text or header not in text:
            continue
        for ep_name, value in _section(text, group):
            entries.setdefault((ep_name, value), (
                importlib.metadata.EntryPoint(ep_name, value, group), dist))
    return list(entries.values())


def _owner(dist, parsed):
    """``(distribution, version)`` of ``dist``, reading each owner's
    metadata once, and only its header's ``Name`` and ``Version`` lines
    (``dist.metadata`` parses the whole file with the email parser)."""
    if dist is None:
        return ("unknown", "")
    if id(dist) not in parsed:
        text = _read(dist, "METADATA") or _read(dist, "PKG-INFO")
        found = {}
        for line in (text or "").split("\n"):
            if not line.strip():
                break
            key, sep, value = line.partition(":")
            if sep and key in ("Name", "Version") and key not in found:
                found[key] = value.strip()
        if len(found) < 2:
            meta = dist.metadata
            found = {"Name": meta["Name"] or "unknown",
                     "Version": meta["Version"] or ""}
        parsed[id(dist)] = (dist, (found["Name"], found["Version"]))
    return parsed[id(dist)][1]


def _wheel_record(dist, records):
    """The ``RECORD`` text of a non-editable ``*.dist-info`` install, or
    ``None`` (editable, egg-info, zipped, or no ``RECORD``): only a
    wheel install's files are surely its own and unchanged."""
    path = getattr(dist, "_path", None)
    info = str(path or "")
    if info not in records:
        text = None
        if isinstance(path, pathlib.Path) and info.endswith(
                ".dist-info") and not plugincache.is_editable(info):
            text = _read(dist, "RECORD")
        records[info] = text
    return records[info]


def _data_file(ep, dist, records):
    """The descriptor data file that ``dist`` installed for ``ep``, or
    ``None``.

    Found in the distribution's ``RECORD``, so that nothing is imported
    (``importlib.util.find_spec`` of a submodule would import its
    package) and a stray file the distribution does not own is never
    read.
    """
    record = _wheel_record(dist, records)
    if not record:
        return None
    for is_package in (False, True):
        rel = descriptordata.relative_path(ep.module, is_package)
        if record.startswith(rel + ",") or ("\n%s," % rel) in record:
            return os.path.join(os.path.dirname(str(dist._path)), rel)
    return None


def _scan(group, index=None):
    """Rows for every entry point of ``group``: its distribution and
    version, and where its descriptor comes from.

    A row is a JSON-safe dict: ``name``, ``value``, ``dist``,
    ``version``, ``info`` (the distribution's metadata directory) and,
    for a plugin installed from a wheel that ships descriptor data,
    ``file`` and either ``data`` (the descriptor's dict, ``None`` when
    the file lacks it) or ``error``. A row without ``file`` is
    evaluated by importing its entry point.

    :param index: the :class:`~trove_core.pluginindex.ListingIndex`
        told which files beyond ``sys.path``'s directories the rows
        depend on.
    """
    parsed = {}
    records = {}
    rows = []
    for ep, dist in _entries(group):
        dist_name, version = _owner(dist, parsed)
        path = getattr(dist, "_path", None)
        info = str(path) if isinstance(path, pathlib.Path) else None
        row = {"name": ep.name, "value": ep.value, "dist": dist_name,
               "version": version, "info": info}
        if index is not None and info and not info.endswith(".dist-info"):
            index.watch(os.path.join(info, "entry_points.txt"))
        data_file = _data_file(ep, dist, records)
        if data_file is not None:
            row["file"] = data_file
            try:
                row["data"] = descriptordata.read(
                    data_file, ep.module, plugincache.read_bytes).get(ep.attr)
            except (OSError, ValueError) as exc:
                row["error"] = str(exc)
        rows.append(row)
    return rows


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



def _evaluate(group, ep, dist, cache):
    """Import one entry point, or take it from the descriptor cache
    while its key holds (only healthy descriptors are cached; a failure
    is evaluated again every time).

    :returns: ``(obj, health, reason, slot)``: ``slot`` is where the
        caller may cache ``obj``, or ``None``.
    """
    slot = cache.key(group, ep, dist) if cache is not None else None
    if slot is not None:
        hit = cache.get(*slot)
        if hit is not None:
            health, reason = _check(ep.name, hit[0])
            if health is Health.OK:
                return hit[0], health, reason, None
    obj, health, reason, cacheable = _load(ep, cache)
    return obj, health, reason, (slot if cacheable else None)


def _from_data(row):
    """Evaluate a row with descriptor data, importing nothing.

    :returns: ``(obj, health, reason)``.
    """
    target = row["value"]
    if "error" in row:
        return None, Health.INVALID, (
            "its descriptor data cannot be read: %s; regenerate it with %r"
            " and reinstall the plugin"
            % (row["error"], descriptordata.regenerate_command(target)))
    try:
        obj = descriptordata.decode(row["name"], row.get("data"), target,
                                    row["file"])
    except exceptions.InvalidDescriptor as exc:
        return None, Health.INVALID, exc.reason
    health, reason = _check(row["name"], obj)
    return (obj if health is Health.OK else None), health, reason


def _verify(row, obj, group):
    """Import a data row's descriptor and hold it against the data.

    :returns: ``(obj, health, reason)``: the plugin is invalid when they
        disagree, broken when the import fails.
    """
    ep = importlib.metadata.EntryPoint(row["name"], row["value"], group)
    imported, health, reason, _cacheable = _load(ep)
    if health is not Health.OK:
        return None, health, reason
    fields = descriptordata.compare(imported, obj)
    if fields:
        return None, Health.INVALID, descriptordata.mismatch_reason(
            row["value"], row["file"], fields)
    return obj, Health.OK, ""


def _verify_live(row, obj):
    """Hold an imported descriptor against data lying beside its module
    (an editable install, or a plugin whose RECORD omits the file):
    stale data is refused there too, before it ships.

    :returns: ``(obj, health, reason)``.
    """
    import sys

    module = sys.modules.get(row["value"].partition(":")[0])
    path = descriptordata.data_beside(module) if module else None
    if path is None:
        return obj, Health.OK, ""
    attr = row["value"].partition(":")[2]
    try:
        held = descriptordata.read(path, module.__name__).get(attr)
        shipped = descriptordata.decode(row["name"], held, row["value"],
                                        path)
    except (OSError, ValueError, exceptions.InvalidDescriptor) as exc:
        return None, Health.INVALID, (
            "its descriptor data %s is unusable (%s); regenerate it with "
            "%r" % (path, getattr(exc, "reason", exc),
                    descriptordata.regenerate_command(row["value"])))
    fields = descriptordata.compare(obj, shipped)
    if fields:
        return None, Health.INVALID, descriptordata.mismatch_reason(
            row["value"], path, fields)
    return obj, Health.OK, ""


def _distribution(row):
    """The distribution of a row, for the descriptor cache's key."""
    if not row.get("info"):
        return None
    return importlib.metadata.PathDistribution(pathlib.Path(row["info"]))


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


def _rows(group):
    """The rows of :func:`_scan`, from the listing index while the
    environment is unchanged.

    A row the index holds as checked carries its descriptor packed
    (:func:`trove_core.descriptordata.pack`); it is rebuilt only when
    read (:class:`_PackedRecord`). The index hands over only rows whose
    digest holds; one whose packed descriptors are not of the expected
    shape is still a miss.

    :returns: ``(rows, index)``: ``index`` is where the caller writes
        the rows once evaluated, ``None`` when they came from it (or
        caching is off).
    """
    index = pluginindex.ListingIndex.open(group)
    rows = index.get() if index is not None else None
    if rows is not None:
        try:
            for row in rows:
                if row.get("checked"):
                    packed = row["data"]
                    if type(packed) is not list or packed[0] != row["name"]:
                        raise ValueError(row["name"])
            return rows, None
        except (KeyError, TypeError, ValueError, IndexError):
            LOG.debug("plugin index %s does not rebuild; scanning",
                      index.path)
    return _scan(group, index), index


def discover(group=DATASTORES_GROUP, names=None, verify=False):
    """List every datastore plugin, healthy or not.

    A plugin installed from a wheel that ships its descriptor data
    (:mod:`trove_core.descriptordata`) is read from that file, without
    importing it; others (editable installs, plugins without data) are
    imported, or taken from the descriptor cache
    (:mod:`trove_core.plugincache`). Where the environment is unchanged
    since the last listing, the whole scan comes from the listing index
    (:mod:`trove_core.pluginindex`). Duplicates are found over every
    entry point.

    :param group: the entry-point group to read.
    :param names: when given, only the entry points registered under
        these names are evaluated (every one of them, so a duplicate is
        still found); the others are neither imported nor listed. The
        guest uses it to touch no plugin but its own.
    :param verify: also import each evaluated descriptor that was read
        from data, and read the data beside each imported one, and make
        the plugin invalid when the two disagree (``show``, ``check``,
        the guest's load); listing does not.
    :returns: :class:`PluginRecord` objects sorted by name.
    """
    cache = None
    records = []
    rows, index = _rows(group)
    for row in rows:
        name = row["name"]
        if names is not None and name not in names:
            continue
        packed = None
        if "file" in row:
            if index is None and row.get("checked"):
                obj, health, reason = None, Health.OK, ""
                packed = row["data"]
                if verify:
                    obj = descriptordata.unpack(packed)
            else:
                obj, health, reason = _from_data(row)
                if health is Health.OK and index is not None:
                    # kept compact: the index is read by every listing
                    row["checked"] = True
                    row["data"] = descriptordata.pack(obj)
            if verify and health is Health.OK:
                obj, health, reason = _verify(row, obj, group)
        else:
            if cache is None:
                cache = plugincache.DescriptorCache.open(group) or False
            ep = importlib.metadata.EntryPoint(name, row["value"], group)
            obj, health, reason, slot = _evaluate(
                group, ep, _distribution(row), cache or None)
            if slot is not None:
                cache.put(*slot, obj, row["dist"], row["version"])
            if verify and health is Health.OK:
                obj, health, reason = _verify_live(row, obj)
        records.append((name, row["value"], obj, health, reason,
                        (row["dist"], row["version"]), packed))
    if cache:
        cache.save()
    if index is not None and names is None:
        index.put(rows)
    by_name = {}
    for rec in records:
        by_name.setdefault(rec[0], []).append(rec)
    result = []
    for name, recs in by_name.items():
        dists = sorted(r[5][0] for r in recs)
        for _name, value, obj, health, reason, owner, packed in recs:
            dist, version = owner
            if len(recs) > 1:
                obj, health = None, Health.DUPLICATE
                reason = ("the name is registered by %d entry points "
                          "(distributions %s); uninstall all but one"
                          % (len(recs), ", ".join(dists)))
            elif obj is None and packed is not None:
                result.append(_packed_record(name, dist, version, value,
                                             packed))
                continue
            result.append(PluginRecord(name, dist, version, value, obj,
                                       health, reason))
    for rec in result:
        if not rec.ok:
            LOG.warning("datastore plugin %s (%s) is %s: %s", rec.name,
                        rec.distribution, rec.health.value, rec.reason)
    return sorted(result, key=lambda r: (r.name, r.distribution))


def find(name, records=None):
    """Return the usable record for datastore ``name``.

    Without ``records``, only this name's entry points are evaluated,
    and a descriptor read from data is checked against its import
    (``verify``), as the guest's load needs.

    :raises PluginNotFound: nothing is registered under ``name``.
    :raises PluginError: the plugin is broken, incompatible, invalid or
        duplicated; the subclass says which, the message says why.
    """
    scanned = records is None
    if scanned:  # evaluate only this name's entry points
        records = discover(names={name}, verify=True)
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
