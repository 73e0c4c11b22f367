"""One index of an environment's plugins, so a warm listing scans nothing.

Listing plugins means finding every ``trove.datastores`` entry point,
which walks the metadata of every installed distribution (500 plugins:
500 ``entry_points.txt`` reads, plus their ``RECORD``, ``METADATA`` and
descriptor data). :func:`trove_core.discovery.discover` keeps the
outcome of that scan in one file per environment, entry-point group and
``sys.path`` under ``$XDG_CACHE_HOME/trove-core`` (``index-*.json``),
and uses it while the environment's *fingerprint* is unchanged:

* the cache schema, trove-core's version and validating modules, the
  plugin API and the exact Python version (as
  :mod:`trove_core.plugincache`);
* ``sys.path``, and for each of its entries the device, inode,
  ``mtime_ns`` and ``ctime_ns`` of the directory (or zip file): pip
  creates, renames or removes a ``*.dist-info`` directory there on every
  install, uninstall, upgrade and reinstall, editable or not, which
  changes the directory's times;
* the stats of each ``entry_points.txt`` that does not sit in a
  ``*.dist-info`` directory (``*.egg-info`` of legacy development
  installs, rewritten in place by ``setup.py egg_info``).

A warm listing therefore costs a few ``stat`` calls and one file read.
The file is two lines of JSON: a header (schema, group, fingerprint and
the SHA-256 of the second line) and the rows. The rows are parsed only
when the header matches and the digest holds, so that what a listing
takes from them (descriptors packed by
:func:`trove_core.descriptordata.pack` after validation, rebuilt or read
without validating again) is exactly what a complete scan wrote.
What the index holds per entry point is its distribution's name and
version and either the descriptor read from the plugin's shipped data
(:mod:`trove_core.descriptordata`) or a mark that it must be evaluated
live (editable installs, plugins that ship no data): those are imported
on every listing, as before, through the descriptor cache.

Why not stevedore's entry-point cache (``~/.cache/python-entrypoints``):
it holds entry points only (no distribution name or version, no
descriptor), so a listing would still read 500 distributions' metadata;
its key globs and stats every ``entry_points.txt`` on every use (500
``stat`` calls plus a directory listing per ``sys.path`` entry); it packs
modification times as 32-bit floats, which resolve today's timestamps
only to 128 seconds, so an install soon after the cache was written can
go unseen; and it is off when Python runs from ``/tmp``.

Safety: an index is written only from a complete scan, atomically
(temporary file and rename) with mode 0600 in a 0700 directory; one not
owned by the current user, writable by others, corrupt or of another
schema is ignored and rewritten; an unwritable cache directory only
costs the scan. Writing an index deletes the index and cache files of
environments that no longer exist and those unused for 30 days. An
index is not written while a directory of the fingerprint changed within
the last :data:`RACY_SECONDS` (a change in the same timestamp tick as
the scan could otherwise go unseen). Limits: a
file under ``site-packages`` edited by hand, with nothing installed or
removed in that directory since, is not seen until then;
``TROVE_PLUGIN_CACHE=0`` turns the index off with the descriptor cache.
"""

import hashlib
import json
import logging
import os
import sys
import time

from trove_core import plugincache

__all__ = ["RACY_SECONDS", "SCHEMA", "ListingIndex"]

LOG = logging.getLogger(__name__)

#: bumped whenever the file layout or the fingerprint changes
SCHEMA = 2

#: a directory changed this recently makes the scan too fresh to index
RACY_SECONDS = 2.0


def _stamp(path):
    """``[dev, ino, mtime_ns, ctime_ns]`` of ``path``, ``None`` if
    absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


class ListingIndex:
    """The listing index of one entry-point group in this environment.

    Use :meth:`open`, then :meth:`get`; on a miss, scan and
    :meth:`put` the rows with :meth:`watch` called for every file the
    scan depends on beyond ``sys.path``'s directories. Nothing here
    raises on a cache problem.

    :param path: the index file.
    :param group: the entry-point group.
    """

    def __init__(self, path, group):
        self.path = path
        self.group = group
        self._files = {}

    @classmethod
    def open(cls, group, environ=None):
        """The index of ``group`` for this ``sys.path``, or ``None`` when
        caching is off (``TROVE_PLUGIN_CACHE``)."""
        if not plugincache.enabled(environ):
            return None
        tag = hashlib.sha256("\0".join(
            [sys.prefix, sys.implementation.cache_tag or "", group]
            + sys.path).encode()).hexdigest()[:16]
        return cls(plugincache.cache_dir(environ) / ("index-%s.json" % tag),
                   group)

    def _fingerprint(self):
        return {"path": list(sys.path),
                "dirs": [_stamp(entry or ".") for entry in sys.path]}

    def get(self):
        """The rows of the last scan, or ``None`` when there is none,
        anything in the fingerprint changed or the file is damaged."""
        try:
            raw = plugincache.read_bytes(self.path, private=True)
        except FileNotFoundError:
            return None
        except OSError as exc:
            LOG.debug("ignoring plugin index %s: %s", self.path, exc)
            return None
        head, _sep, body = raw.partition(b"\n")
        try:
            header = json.loads(head)
            if (header["schema"] != SCHEMA or header["group"] != self.group
                    or header["fingerprint"] != self._fingerprint()
                    or header["core"] != plugincache.core_fingerprint()):
                return None
            for path, seen in header["files"].items():
                if plugincache.file_stat(path) != seen:
                    return None
            if hashlib.sha256(body).hexdigest() != header["rows_sha256"]:
                LOG.debug("ignoring plugin index %s: its rows do not "
                          "match their digest", self.path)
                return None
            rows = json.loads(body)
        except (ValueError, KeyError, TypeError, AttributeError):
            LOG.debug("ignoring plugin index %s: malformed", self.path)
            return None
        return rows if isinstance(rows, list) else None

    def watch(self, path):
        """Make ``path``'s ``mtime_ns`` and size part of the
        fingerprint."""
        self._files[str(path)] = plugincache.file_stat(path)

    def put(self, rows):
        """Write the rows of a complete scan; a failure is logged at
        debug only.

        :param rows: JSON-safe rows (see
            :func:`trove_core.discovery.discover`).
        """
        fingerprint = self._fingerprint()
        now = time.time_ns()
        racy = RACY_SECONDS * 1e9
        if any(s is not None and now - s[2] < racy
               for s in fingerprint["dirs"]) or any(
                s is not None and now - s[0] < racy
                for s in self._files.values()):
            LOG.debug("not writing plugin index %s: the environment "
                      "changed moments ago", self.path)
            return
        # ASCII JSON holds no raw newline: the header is the first line
        body = json.dumps(rows, separators=(",", ":"))
        text = json.dumps({"schema": SCHEMA, "group": self.group,
                           "environment": sys.prefix,
                           "core": plugincache.core_fingerprint(),
                           "fingerprint": fingerprint,
                           "files": self._files,
                           "rows_sha256": hashlib.sha256(
                               body.encode()).hexdigest()},
                          separators=(",", ":")) + "\n" + body
        if not plugincache.write_private(self.path, text, "plugin index"):
            return
        plugincache.prune(self.path)
