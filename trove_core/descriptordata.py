"""A descriptor as data a plugin ships, read without importing it.

A plugin's descriptor module (``trove_ds_foo/plugin.py``) builds a
:class:`~trove_core.descriptor.DatastoreDescriptor` in code. Its
canonical JSON form is written beside it, as package data that the
plugin's wheel installs, so that listing plugins reads a file instead of
importing a module::

    trove_ds_foo/plugin.py                  DESCRIPTOR = ...
    trove_ds_foo/plugin.descriptor.json     {"schema": 1, ...}

The file of module ``a.b.plugin`` is ``a/b/plugin.descriptor.json``; of
a package's ``__init__`` (target ``a.b:DESCRIPTOR``),
``a/b/__init__.descriptor.json``. One file holds every descriptor
attribute of its module::

    {"schema": 1, "module": "trove_ds_foo.plugin",
     "descriptors": {"DESCRIPTOR": {...DatastoreDescriptor.to_dict()...}}}

The writer (run by the author, and by the plugin's tests and the
conformance kit through ``--check``)::

    python -m trove_core.descriptordata trove_ds_foo.plugin:DESCRIPTOR
    python -m trove_core.descriptordata --check trove_ds_foo.plugin:DESCRIPTOR

Discovery trusts the file on the listing path; ``show``, ``check``, the
guest's load and the conformance kit import the descriptor and refuse a
file that disagrees with it (:func:`compare`).
"""

import argparse
import dataclasses
import importlib
import itertools
import json
import os
import pathlib
import sys

from trove_core import descriptor as descriptor_mod
from trove_core import exceptions
from trove_core import tiers

__all__ = ["SCHEMA", "SUFFIX", "check_shipped", "compare", "data_beside",
           "decode", "dumps", "file_name", "main", "mismatch_reason",
           "pack", "packed_listing", "read", "regenerate_command",
           "relative_path", "unpack", "write"]

#: the version of the file layout; a reader refuses other versions
SCHEMA = 1

#: what follows the module's own name in the data file's name
SUFFIX = ".descriptor.json"


def file_name(module, is_package=False):
    """The data file's name for ``module``.

    :param module: the dotted module name of the descriptor.
    :param is_package: whether ``module`` is a package (its code is an
        ``__init__.py``).
    """
    leaf = "__init__" if is_package else module.rpartition(".")[2]
    return leaf + SUFFIX


def relative_path(module, is_package=False):
    """The data file's path relative to the site directory, ``/``
    separated as a wheel's ``RECORD`` spells it."""
    parts = module.split(".")
    if is_package:
        return "/".join(parts + [file_name(module, True)])
    return "/".join(parts[:-1] + [file_name(module)])


def regenerate_command(target):
    """The command that rewrites the data of ``target`` (``mod:attr``)."""
    return "python -m trove_core.descriptordata %s" % target


def dumps(module, descriptors):
    """The canonical text of a data file.

    :param module: the descriptor module's dotted name.
    :param descriptors: ``{attr: DatastoreDescriptor}``.
    :returns: JSON text, keys sorted, ending with a newline (stable, so
        that a rebuild of an unchanged plugin writes the same bytes).
    """
    return json.dumps({"schema": SCHEMA, "module": module,
                       "descriptors": {attr: desc.to_dict() for attr, desc
                                       in sorted(descriptors.items())}},
                      indent=2, sort_keys=True) + "\n"


def read(path, module, reader=None):
    """The descriptor dicts a data file holds.

    :param path: the file.
    :param module: the module it must describe.
    :param reader: a function returning a file's bytes (discovery's
        faster one); default: ``open(path, "rb").read()``.
    :returns: ``{attr: dict}``.
    :raises OSError: the file cannot be read.
    :raises ValueError: it is not JSON, not of :data:`SCHEMA` or of
        another module; the message says which.
    """
    if reader is None:
        with open(path, "rb") as fp:
            raw = fp.read()
    else:
        raw = reader(path)
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError("%s is not descriptor data of schema %d"
                         % (path, SCHEMA))
    if data.get("module") != module:
        raise ValueError("%s describes module %r, not %r"
                         % (path, data.get("module"), module))
    found = data.get("descriptors")
    if not isinstance(found, dict):
        raise ValueError("%s has no 'descriptors' mapping" % path)
    return found


def decode(name, data, target, path):
    """Build the descriptor of one attribute's data, validated as
    :meth:`~trove_core.descriptor.DatastoreDescriptor.from_dict` does.

    :param name: the entry-point name, for messages.
    :param data: the dict (``None`` when the file lacks the attribute).
    :param target: the entry point's ``module:attr``, for messages.
    :param path: the data file, for messages.
    :raises InvalidDescriptor: the data is missing or malformed; the
        reason says how to regenerate it.
    """
    if data is None:
        raise exceptions.InvalidDescriptor(
            name=name, reason="its descriptor data %s has no entry for %s;"
            " regenerate it with %r and reinstall the plugin"
            % (path, target, regenerate_command(target)))
    try:
        obj = _quick(data)
        if obj is None:  # unusual: from_dict says exactly what is wrong
            obj = descriptor_mod.DatastoreDescriptor.from_dict(data)
        else:
            obj.__post_init__()
        return obj
    except exceptions.InvalidDescriptor as exc:
        raise exceptions.InvalidDescriptor(
            name=name, reason="its descriptor data %s: %s; regenerate it "
            "with %r and reinstall the plugin" % (
                path, exc.reason, regenerate_command(target))) from None


def _keys(cls):
    return frozenset(f.name for f in dataclasses.fields(cls))


_DESCRIPTOR_KEYS = _keys(descriptor_mod.DatastoreDescriptor)
_DESCRIPTOR_NEEDS = frozenset(("name", "tier", "capabilities"))
_STRATEGY_KEYS = _keys(descriptor_mod.Strategy)
_STRATEGY_NEEDS = frozenset(("name", "kind", "tier"))
_IMAGE_KEYS = _keys(descriptor_mod.ImageSpec)
_OS_KEYS = _keys(descriptor_mod.OSSupport)
_STR = itertools.repeat(str)


def _texts(values):
    """The list of strings ``values`` as a tuple, else raise
    :class:`_Unusual`."""
    if type(values) is not list or not all(map(isinstance, values, _STR)):
        raise _Unusual()
    return tuple(values)


def _text(value):
    if type(value) is not str:
        raise _Unusual()
    return value


class _Unusual(Exception):
    """Data :func:`_quick` leaves to ``from_dict``."""


def _record(data, keys, needs):
    if type(data) is not dict or not data.keys() <= keys or not (
            data.keys() >= needs):
        raise _Unusual()
    return data


def _quick(data):
    """The descriptor of well-formed data, built in one pass (a third of
    ``from_dict``'s cost) and not yet validated by ``__post_init__``;
    ``None`` for anything unusual, which ``from_dict`` then explains.

    It accepts exactly the shapes the writer produces (lists, strings),
    a subset of what ``from_dict`` accepts, so both give equal results.
    """
    try:
        _record(data, _DESCRIPTOR_KEYS, _DESCRIPTOR_NEEDS)
        image = data.get("image")
        if image is None:
            image_obj = descriptor_mod.ImageSpec()
        else:
            _record(image, _IMAGE_KEYS, frozenset())
            systems = image.get("supported_os", [])
            if type(systems) is not list:
                raise _Unusual()
            image_obj = _build(
                descriptor_mod.ImageSpec,
                supported_os=tuple(_build(
                    descriptor_mod.OSSupport,
                    id=_text(_record(o, _OS_KEYS, {"id"})["id"]),
                    packages=_texts(o.get("packages", [])))
                    for o in systems),
                service_user=_text(image.get("service_user", "")),
                data_dirs=_texts(image.get("data_dirs", [])),
                elements=_text(image.get("elements", "elements")))
        strategies = data.get("strategies", [])
        if type(strategies) is not list:
            raise _Unusual()
        return _build(
            descriptor_mod.DatastoreDescriptor, name=data["name"],
            tier=_text(data["tier"]),
            capabilities=frozenset(_texts(data["capabilities"])),
            summary=_text(data.get("summary", "")),
            engine_versions=_texts(data.get("engine_versions", [])),
            strategies=tuple(_build(
                descriptor_mod.Strategy,
                name=_text(_record(s, _STRATEGY_KEYS,
                                   _STRATEGY_NEEDS)["name"]),
                kind=_text(s["kind"]), tier=_text(s["tier"]),
                summary=_text(s.get("summary", "")))
                for s in strategies),
            image=image_obj,
            driver_modules=_texts(data.get("driver_modules", [])),
            plugin_api=_text(data.get("plugin_api", "1.0")))
    except _Unusual:
        return None


_TIERS = {t.label: t for t in tiers.Tier}


def _build(cls, **fields):
    """An instance of the frozen dataclass ``cls`` without running its
    ``__init__`` (nor so its validation)."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def pack(desc):
    """A descriptor as a compact list (fields in order, no keys), the
    form the listing index keeps: a fifth of the JSON to parse.

    :param desc: a validated :class:`~trove_core.descriptor.
        DatastoreDescriptor`.
    """
    image = desc.image
    return [desc.name, desc.tier.label, sorted(desc.capabilities),
            desc.summary, list(desc.engine_versions),
            [[s.name, s.kind, s.tier.label, s.summary]
             for s in desc.strategies],
            [[o.id, list(o.packages)] for o in image.supported_os],
            image.service_user, list(image.data_dirs), image.elements,
            list(desc.driver_modules), desc.plugin_api]


def unpack(packed):
    """Rebuild a descriptor from :func:`pack`'s list, skipping the
    validation (a fifth of the cost).

    Only for data trove-core packed itself after validating it, with the
    same core (the listing index); anything else goes through
    :func:`decode`.

    :raises ValueError: the list has the wrong shape.
    :raises KeyError: an unknown tier.
    """
    (name, tier, capabilities, summary, engine_versions, strategies,
     systems, service_user, data_dirs, elements, driver_modules,
     plugin_api) = packed
    image = _new(descriptor_mod.ImageSpec)
    image.__dict__.update(
        supported_os=tuple(_os(os_id, packages)
                           for os_id, packages in systems),
        service_user=service_user, data_dirs=tuple(data_dirs),
        elements=elements)
    desc = _new(descriptor_mod.DatastoreDescriptor)
    desc.__dict__.update(
        name=name, tier=_TIERS[tier], capabilities=frozenset(capabilities),
        summary=summary, engine_versions=tuple(engine_versions),
        strategies=tuple(_strategy(*s) for s in strategies), image=image,
        driver_modules=tuple(driver_modules), plugin_api=plugin_api)
    return desc


def packed_listing(packed):
    """What a listing shows of a packed descriptor, read in place: its
    tier label, its capability names (sorted) and its strategies as
    ``[name, kind, tier label, summary]`` lists.

    The same facts as the rebuilt descriptor's, for a third of the cost
    of :func:`unpack`; the same trust rule applies.
    """
    return packed[1], packed[2], packed[5]


_new = object.__new__


def _strategy(name, kind, tier, summary):
    obj = _new(descriptor_mod.Strategy)
    obj.__dict__.update(name=name, kind=kind, tier=_TIERS[tier],
                        summary=summary)
    return obj


def _os(os_id, packages):
    obj = _new(descriptor_mod.OSSupport)
    obj.__dict__.update(id=os_id, packages=tuple(packages))
    return obj


def compare(imported, shipped):
    """The fields in which two descriptors differ.

    :param imported: the descriptor the module builds.
    :param shipped: the one its data file holds.
    :returns: sorted field names (empty when they agree).
    """
    if imported == shipped:
        return []
    left, right = imported.to_dict(), shipped.to_dict()
    return sorted(k for k in set(left) | set(right)
                  if left.get(k) != right.get(k)) or ["(type)"]


def mismatch_reason(target, path, fields):
    """What to say when the shipped data disagrees with the code."""
    return ("its descriptor data %s disagrees with %s in %s; the plugin "
            "was built from other code than it runs. Regenerate the data "
            "with %r, then rebuild and reinstall the plugin"
            % (path, target, ", ".join(fields),
               regenerate_command(target)))


def _resolve(target):
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise ValueError("%r is not MODULE:ATTR" % target)
    module = importlib.import_module(module_name)
    obj = getattr(module, attr)
    if not isinstance(obj, descriptor_mod.DatastoreDescriptor):
        raise ValueError("%s is a %s, not a DatastoreDescriptor"
                         % (target, type(obj).__name__))
    return module, attr, obj


def _path_of(module):
    is_package = hasattr(module, "__path__")
    return (os.path.join(os.path.dirname(module.__file__),
                         file_name(module.__name__, is_package)))


def write(target, check=False):
    """Write (or check) the data file of ``target``.

    Other attributes the file already holds for the same module are
    kept, so one module may hold several descriptors.

    :param target: ``module:attr``; the module is imported.
    :param check: only compare; write nothing.
    :returns: ``(path, current)``: the file, and whether it held exactly
        the canonical text before the call.
    :raises ValueError: ``target`` is not a descriptor.
    :raises ImportError: its module cannot be imported.
    """
    module, attr, desc = _resolve(target)
    path = _path_of(module)
    descriptors = {}
    try:
        with open(path, encoding="utf-8") as fp:
            old = fp.read()
        held = read(path, module.__name__)
        for other in held:
            if other != attr and isinstance(getattr(
                    module, other, None),
                    descriptor_mod.DatastoreDescriptor):
                descriptors[other] = getattr(module, other)
    except (OSError, ValueError):
        old = None
    descriptors[attr] = desc
    text = dumps(module.__name__, descriptors)
    current = old == text
    if not check and not current:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fp:
            fp.write(text)
        os.replace(tmp, path)
    return path, current


def check_shipped(name, group="trove.datastores"):
    """Whether the data shipped beside each descriptor registered as
    ``name`` is current, for tests and the conformance kit.

    Imports the descriptor modules (the installed ones, editable or
    not), so it also finds data that has not been regenerated after an
    edit during development.

    :param name: the entry-point name (the datastore).
    :returns: ``[(target, problem), ...]``: ``problem`` is ``""`` when
        the data is current, ``"missing"`` or ``"stale"`` with the
        command that fixes it otherwise.
    :raises LookupError: nothing is registered under ``name``.
    """
    import importlib.metadata

    eps = importlib.metadata.entry_points(group=group, name=name)
    if not eps:
        raise LookupError("no entry point %r in group %s" % (name, group))
    found = []
    for target in sorted({ep.value for ep in eps}):
        module, _attr, _desc = _resolve(target)
        path = _path_of(module)
        if not os.path.exists(path):
            found.append((target, "missing: %s does not exist; run %s"
                          % (path, regenerate_command(target))))
            continue
        _path, current = write(target, check=True)
        found.append((target, "" if current else (
            "stale: %s disagrees with %s; run %s"
            % (path, target, regenerate_command(target)))))
    return found


def data_beside(module):
    """The data file beside an imported module, if there is one.

    :param module: the module object.
    :returns: its path, or ``None``.
    """
    path = getattr(module, "__file__", None) and _path_of(module)
    return path if path and os.path.exists(path) else None


def main(argv=None):
    """``python -m trove_core.descriptordata [--check] MODULE:ATTR...``.

    :returns: 0 when every file is (now) current; 1 with ``--check`` when
        one is missing or stale; 2 when a target cannot be resolved.
    """
    parser = argparse.ArgumentParser(
        prog="python -m trove_core.descriptordata",
        description="Write each descriptor's data file (%s) beside its "
        "module, for discovery to read without importing the plugin."
        % ("<module>" + SUFFIX))
    parser.add_argument("targets", nargs="+", metavar="MODULE:ATTR")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a file is "
                        "missing or stale")
    args = parser.parse_args(argv)
    code = 0
    for target in args.targets:
        try:
            path, current = write(target, check=args.check)
        except (ImportError, AttributeError, ValueError,
                exceptions.TroveError) as exc:
            sys.stderr.write("%s: %s\n" % (target, exc))
            return 2
        if args.check and not current:
            sys.stderr.write("%s is missing or stale for %s; run: %s\n"
                             % (path, target, regenerate_command(target)))
            code = 1
        elif not args.check:
            print("%s %s" % ("unchanged" if current else "wrote", path))
            if {"site-packages", "dist-packages"} & set(
                    pathlib.PurePath(path).parts):
                sys.stderr.write(
                    "note: %s is an installed copy, not your source tree;"
                    " run this in the plugin's source directory\n" % path)
    return code


if __name__ == "__main__":
    sys.exit(main())
