"""A cache of imported datastore descriptors, so listing need not import
them again.

Plugins that ship their descriptor as data
(:mod:`trove_core.descriptordata`) are read without an import; this
cache serves the others. Importing a descriptor module costs a few
hundred microseconds; with hundreds of plugins installed that dominates
``trove-datastores list``. :func:`trove_core.discovery.discover`
therefore keeps each healthy imported descriptor of a wheel-installed
plugin, as plain data, in one JSON file per environment and Python
version under ``$XDG_CACHE_HOME/trove-core`` (default
``~/.cache/trove-core``), and rebuilds it from there (through the
descriptor's own validation) while nothing that could change the
outcome of the import has changed.

What an entry is keyed on (all must be equal for a hit):

* the entry point: group, name and value (``module:attr``);
* the distribution: its ``*.dist-info`` directory (path, device and
  inode), the ``mtime_ns`` and size of its ``RECORD`` and ``METADATA``
  (any reinstall or upgrade rewrites both), and the ``mtime_ns`` and
  size of the descriptor module's source files;
* the file as a whole: the cache schema, trove-core's location and the
  ``mtime_ns`` and size of the core modules that validate descriptors,
  the plugin API version, and the exact Python version.

Never cached, so always imported:

* editable (development) installs (``direct_url.json`` says
  ``"editable": true``) and any distribution without a ``RECORD``:
  their code changes without a reinstall, and a developer editing
  ``plugin.py`` must see the truth;
* failures (broken, invalid, incompatible): they are evaluated again on
  every listing, so a fix shows at once and a failure is never hidden;
* a descriptor module whose import brought in, or which (or whose
  package) refers to, a module of another distribution (neither its own
  package, trove-core nor the standard library): that distribution
  could change under it;
* a descriptor that does not survive the round trip through
  :meth:`~trove_core.descriptor.DatastoreDescriptor.to_dict` unchanged.

Limits: a file under ``site-packages`` edited by hand without touching
``RECORD`` is seen only when it is the descriptor module itself or a
package ``__init__`` on its path. Set ``TROVE_PLUGIN_CACHE=0`` to turn
the cache off. A cache file that is unreadable, corrupt, from another
schema, or not owned by the current user is ignored and rewritten; a
cache directory that cannot be written is skipped (logged at debug).
Each file records its environment (``sys.prefix``); writing one removes
the files of environments that no longer exist. Entries a listing did
not look at (another ``sys.path`` in the same environment) are kept
while their ``*.dist-info`` exists; entries it looked at and could not
use are dropped. Duplicate names are still found: discovery computes
them over every entry point after loading, whether from the cache or
not.
"""

import functools
import hashlib
import importlib
import itertools
import json
import logging
import os
import pathlib
import stat
import sys
import tempfile
import time
import types

from trove_core import descriptor as descriptor_mod
from trove_core import exceptions

__all__ = ["ENV_SWITCH", "SCHEMA", "DescriptorCache", "NotPrivate",
           "cache_dir", "core_fingerprint", "enabled", "file_stat",
           "is_editable", "prune", "read_bytes"]

LOG = logging.getLogger(__name__)

#: bumped whenever the file layout or the key changes
SCHEMA = 2

#: ``TROVE_PLUGIN_CACHE=0`` (or ``false``, ``no``, ``off``) disables it
ENV_SWITCH = "TROVE_PLUGIN_CACHE"

#: the core modules whose code decides whether a descriptor is valid
_CORE_MODULES = ("capabilities", "descriptor", "descriptordata",
                 "discovery", "exceptions", "pluginindex", "plugincache",
                 "tiers")


def enabled(environ=None):
    """Whether the descriptor cache is on (``TROVE_PLUGIN_CACHE``).

    :param environ: the environment (default: ``os.environ``).
    :returns: ``False`` when the variable is ``0``, ``false``, ``no`` or
        ``off``, else ``True``.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_SWITCH, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def cache_dir(environ=None):
    """The directory of the cache: ``$XDG_CACHE_HOME/trove-core``.

    :param environ: the environment (default: ``os.environ``).
    :returns: a :class:`pathlib.Path` (``~/.cache/trove-core`` when
        ``XDG_CACHE_HOME`` is unset or not absolute).
    """
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "trove-core"


_CHUNK = 1 << 16


class NotPrivate(OSError):
    """A cache file someone else could have written."""


def read_bytes(path, private=False):
    """The bytes of file ``path``, read with ``os.read``: half the cost of
    ``open().read()``, which counts when a listing reads four small
    files of each of 500 plugins.

    :param private: refuse (:class:`NotPrivate`) a file not owned by
        this user or writable by others.
    :raises OSError: the file cannot be read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if private:
            st = os.fstat(fd)
            if st.st_uid != os.getuid() or st.st_mode & (
                    stat.S_IWGRP | stat.S_IWOTH):
                raise NotPrivate("%s is not owned by this user or is "
                                 "writable by others" % path)
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:  # a regular file: the whole of it
            return data
        chunks = [data]
        while data:
            data = os.read(fd, _CHUNK)
            chunks.append(data)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_private(path, text, what):
    """Replace cache file ``path`` with ``text``, atomically (temporary
    file and rename), mode 0600 in a 0700 directory; unlike
    :func:`trove_core.files.atomic_write` there is no ``fsync``: a cache
    lost in a crash is only rebuilt. A failure is logged at debug only.

    :param path: a :class:`pathlib.Path`.
    :param what: what the file is, for the log.
    :returns: whether the file was written.
    """
    tmp = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-",
                                   suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            fp.write(text)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError as exc:
        LOG.debug("%s %s not written: %s", what, path, exc)
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def file_stat(path):
    """``[mtime_ns, size]`` of ``path``, or ``None`` when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


@functools.cache
def core_fingerprint():
    """What, in the core and the interpreter, decides an import's
    outcome (computed once per process).

    The core is known by where it is and the ``mtime_ns`` and size of
    its validating modules (an install or upgrade rewrites them), not by
    its distribution's version: finding that would walk every installed
    distribution.
    """
    here = pathlib.Path(__file__).resolve().parent
    return {"schema": SCHEMA, "trove_core": str(here),
            "core_files": {m: file_stat(here / (m + ".py"))
                           for m in _CORE_MODULES + ("__init__",)},
            "plugin_api": list(descriptor_mod.PLUGIN_API_VERSION),
            "python": [sys.implementation.name, sys.version,
                       sys.implementation.cache_tag]}


def is_editable(info):
    """Whether the dist-info directory ``info`` is an editable install.

    An unreadable or malformed ``direct_url.json`` counts as editable:
    when in doubt, import.
    """
    path = info + os.sep + "direct_url.json"
    if not os.access(path, os.F_OK):  # no exception: this is the hot path
        return False
    try:
        with open(path, encoding="utf-8") as fp:
            data = json.load(fp)
    except (OSError, ValueError):
        return True
    if not isinstance(data, dict):
        return True
    dir_info = data.get("dir_info")
    return isinstance(dir_info, dict) and bool(dir_info.get("editable"))


def _sources(root, module):
    """Stats of the files importing ``module`` executes, as far as they
    sit under ``root`` (the site directory holding the dist-info)."""
    found = []
    leaf = root
    for part in module.split("."):
        if leaf is not root:
            found.append(file_stat(leaf + os.sep + "__init__.py"))
        leaf = leaf + os.sep + part
    plain = file_stat(leaf + ".py")
    found.append(plain if plain is not None
                 else file_stat(leaf + os.sep + "__init__.py"))
    return found


def _modules_mark():
    """Where :func:`_new_modules` starts: the count and last name of
    ``sys.modules``."""
    return len(sys.modules), next(reversed(sys.modules), None)


def _new_modules(mark):
    """Names added to ``sys.modules`` since ``mark``.

    ``sys.modules`` keeps insertion order, so the new names are the ones
    past the mark; when an older entry was removed meanwhile (the mark's
    last name moved), nothing can be said and every module counts.
    """
    count, last = mark
    if count and next(itertools.islice(sys.modules, count - 1, None),
                      None) != last:
        return list(sys.modules)
    return list(itertools.islice(sys.modules, count, None))


def _foreign(module_name, mark, allowed):
    """Top-level names of other distributions' modules that importing
    ``module_name`` brought in, or that it or its packages (or any
    module of its own it imported) refer to: modules already imported
    by someone else do not show up as new, but do as references."""
    stdlib = sys.stdlib_module_names
    new = _new_modules(mark)
    seen = {m.partition(".")[0] for m in new}
    own = module_name.partition(".")[0]
    parts = module_name.split(".")
    scan = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    scan.update(m for m in new if m.partition(".")[0] == own)
    for name in scan:
        module = sys.modules.get(name)
        for value in list(vars(module).values()) if module else ():
            if isinstance(value, types.ModuleType):
                seen.add(value.__name__.partition(".")[0])
            else:
                owner = getattr(value, "__module__", None)
                if isinstance(owner, str):
                    seen.add(owner.partition(".")[0])
    return sorted(name for name in seen if name not in stdlib
                  and name not in allowed)


class DescriptorCache:
    """The descriptor cache of one entry-point group.

    Use :meth:`open`, then for each entry point :meth:`key`,
    :meth:`get` or :meth:`load` and :meth:`put`, and :meth:`save` once
    at the end. Nothing here raises on a cache problem: the caller
    always gets either a verified descriptor or ``None``.

    :param path: the cache file.
    """

    def __init__(self, path):
        self.path = path
        self._header = None
        self._old = None
        self._new = {}
        self._seen = set()

    def _ensure_read(self):
        """Read the file on first use: an environment of editable
        installs only never pays for it."""
        if self._old is None:
            self._header = core_fingerprint()
            self._old = self._read()

    @classmethod
    def open(cls, group, environ=None):
        """The cache for ``group``, or ``None`` when it is disabled.

        :param group: the entry-point group.
        :param environ: the environment (default: ``os.environ``).
        """
        if not enabled(environ):
            return None
        tag = hashlib.sha256("\0".join(
            (sys.prefix, sys.implementation.cache_tag or "", group)
        ).encode()).hexdigest()[:16]
        return cls(cache_dir(environ) / ("descriptors-%s.json" % tag))

    def _read(self):
        try:
            with open(self.path, "rb") as fp:
                st = os.fstat(fp.fileno())
                if st.st_uid != os.getuid() or st.st_mode & (
                        stat.S_IWGRP | stat.S_IWOTH):
                    LOG.debug("ignoring plugin cache %s: not owned by "
                              "this user or writable by others", self.path)
                    return {}
                data = json.load(fp)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            LOG.debug("ignoring plugin cache %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get(
                "header") != self._header or not isinstance(
                data.get("entries"), dict):
            LOG.debug("ignoring plugin cache %s: another schema, core or "
                      "Python", self.path)
            return {}
        return data["entries"]

    def key(self, group, ep, dist):
        """The cache slot and key of entry point ``ep``, or ``None``
        when it must always be imported.

        :param group: the entry-point group.
        :param ep: an :class:`importlib.metadata.EntryPoint`.
        :param dist: the :class:`importlib.metadata.Distribution` that
            registers it; only one in a ``*.dist-info`` directory on the
            file system can be cached.
        :returns: ``(slot, key)``: ``slot`` names the entry, ``key`` is
            everything its cached descriptor depends on.
        """
        path = getattr(dist, "_path", None)
        if not isinstance(path, pathlib.Path):  # e.g. inside a zip file
            return None
        info = str(path)
        if not info.endswith(".dist-info"):
            return None
        slot = "\0".join((group, ep.name, ep.value, info))
        self._seen.add(slot)  # looked at: an old entry is not kept
        try:
            st = os.stat(info)
        except OSError:
            return None
        record = file_stat(info + os.sep + "RECORD")
        if record is None or is_editable(info):
            return None
        key = [st.st_dev, st.st_ino, record,
               file_stat(info + os.sep + "METADATA"),
               _sources(os.path.dirname(info), ep.module)]
        return slot, key

    def get(self, slot, key):
        """The cached ``(descriptor, distribution, version)``, or
        ``None`` on a miss or an unusable entry."""
        self._ensure_read()
        entry = self._old.get(slot)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        try:
            desc = descriptor_mod.DatastoreDescriptor.from_dict(
                entry["descriptor"])
            owner = (entry["distribution"], entry["version"])
        except (exceptions.TroveError, KeyError, TypeError,
                ValueError) as exc:
            LOG.debug("ignoring cached descriptor %s: %s", slot, exc)
            return None
        if not all(isinstance(v, str) for v in owner):
            return None
        self._new[slot] = entry
        return desc, owner[0], owner[1]

    def load(self, ep):
        """Import ``ep`` and say whether its outcome may be cached.

        :returns: ``(obj, cacheable)``.
        :raises Exception: whatever the import raises.
        """
        # what validating any descriptor imports is not the plugin's
        importlib.import_module("trove_core.capabilities")
        mark = _modules_mark()
        obj = ep.load()
        allowed = {ep.module.partition(".")[0], "trove_core"}
        try:
            foreign = _foreign(ep.module, mark, allowed)
        except Exception as exc:  # an attribute that raises on access
            LOG.debug("not caching %s: cannot inspect it: %s", ep.value,
                      exc)
            return obj, False
        if foreign:
            LOG.debug("not caching %s: its descriptor module uses %s",
                      ep.value, ", ".join(foreign))
        return obj, not foreign

    def put(self, slot, key, desc, distribution, version):
        """Keep a healthy descriptor, if it survives the round trip."""
        if not (isinstance(distribution, str) and isinstance(version, str)):
            return
        data = desc.to_dict()
        # from_dict type-checks every field, so data that rebuilds an
        # equal descriptor is plain JSON: no need to encode it here
        try:
            again = descriptor_mod.DatastoreDescriptor.from_dict(data)
        except (exceptions.TroveError, TypeError, ValueError):
            again = None
        if again != desc or type(desc) is not type(again):
            LOG.debug("not caching %s: its descriptor does not survive "
                      "the round trip", desc.name)
            return
        self._new[slot] = {"key": key, "distribution": distribution,
                           "version": version, "descriptor": data}

    def save(self):
        """Write the entries used or added by this listing, and those it
        did not look at whose distribution is still installed, if that
        differs from the file; a failure is logged at debug only."""
        if self._old is None and not self._new and not (
                self._seen and os.path.exists(self.path)):
            return  # nothing cacheable, nothing to drop: no work
        self._ensure_read()
        entries = dict(self._new)
        # entries this listing did not look at (another sys.path in the
        # same environment) stay while their distribution is installed
        for slot, entry in self._old.items():
            if slot not in self._seen and slot not in entries and (
                    os.path.isdir(slot.rpartition("\0")[2])):
                entries[slot] = entry
        if entries == self._old:
            return
        data = json.dumps({"header": self._header, "environment": sys.prefix,
                           "entries": entries},
                          sort_keys=True, separators=(",", ":"))
        write_private(self.path, data, "plugin cache")
        self._prune()

    def _prune(self):
        prune(self.path)


#: an index or cache file unused for this long is deleted by the next write
STALE_SECONDS = 30 * 24 * 3600


def prune(keep):
    """Delete the cache and index files beside ``keep`` whose
    environment no longer exists, or which nothing has written for
    :data:`STALE_SECONDS` (throw-away virtualenvs, or ``python -m`` run
    from many directories, would otherwise leave one file each).

    :param keep: the file just written (a :class:`pathlib.Path`).
    """
    directory = keep.parent
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    for name in names:
        if name == keep.name or not (
                name.startswith(("descriptors-", "index-"))
                and name.endswith(".json")):
            continue
        path = directory / name
        try:
            if now - os.stat(path).st_mtime > STALE_SECONDS:
                LOG.debug("removing plugin cache %s, unused", path)
                os.unlink(path)
                continue
            with open(path, "rb") as fp:  # an index's header line
                prefix = json.loads(fp.readline()).get("environment")
            if isinstance(prefix, str) and not os.path.isdir(prefix):
                LOG.debug("removing plugin cache %s of %s, which is "
                          "gone", path, prefix)
                os.unlink(path)
        except (OSError, ValueError, AttributeError) as exc:
            LOG.debug("left plugin cache %s alone: %s", path, exc)
