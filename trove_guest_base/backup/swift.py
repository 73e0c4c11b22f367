"""The ``swift`` backup storage driver: backups in OpenStack Swift, where
Trove's control plane finds, restores and deletes them.

A backup is a *static large object*: its bytes go to segments in
``<container>_segments`` while the tool runs, each segment streamed by
one chunked PUT (a bounded queue between the pipeline and the upload, so
memory stays flat and no temporary file holds the backup); ``commit``
puts the manifest under the backup's name in ``<container>``, carrying
the backup's metadata as object metadata. Nothing is visible at the
location before the manifest; ``abort`` deletes the segments. Trove's
delete (``multipart-manifest=delete``) removes manifest and segments.

What Trove keeps (:meth:`SwiftStorage.reference`): the location
``<storage URL>/<container>/<object>`` (its backup model takes the last
two path parts as container and object) and the checksum, the object's
ETag, which ``check_swift_object_exist`` compares.

Where: ``backup_info["swift_url"]`` and ``["swift_container"]`` as Trove
sends them, else ``[backup_swift] storage_url`` (else the one the
authentication returns) and ``container``; a location that is a URL
names its own. The guest authenticates with ``[backup_swift]``'s
credentials.
"""

import hashlib
import io
import json
import logging
import queue
import threading
import urllib.parse
import uuid

from oslo_config import cfg

from trove_core import exceptions
from trove_guest_base.backup import storage as storage_mod

__all__ = ["GROUP", "SwiftStorage", "list_opts"]

LOG = logging.getLogger(__name__)

GROUP = "backup_swift"
_MIB = 1024 * 1024
_META = "x-object-meta-trove-meta-"
_META_PIECE = 200  # Swift allows 256 bytes per metadata value
_INSTALL = "pip install 'trove-core[swift]'"

OPTS = [
    cfg.StrOpt("auth_url", help="Swift's authentication URL (tempauth "
               "'.../auth/v1.0', or Keystone's '.../v3')."),
    cfg.StrOpt("auth_version", default="1", choices=["1", "2", "3"],
               help="The authentication protocol of auth_url."),
    cfg.StrOpt("user", help="The account the guest stores backups "
               "as (tempauth 'account:user', or a Keystone user)."),
    cfg.StrOpt("key", secret=True, help="Its password or key."),
    cfg.StrOpt("project_name", help="Keystone: the user's project."),
    cfg.StrOpt("user_domain_name", default="Default",
               help="Keystone: the user's domain."),
    cfg.StrOpt("project_domain_name", default="Default",
               help="Keystone: the project's domain."),
    cfg.StrOpt("storage_url", help="The storage URL to use instead of "
               "the one the authentication returns (backup_info's "
               "swift_url, when Trove sends it, wins)."),
    cfg.StrOpt("container", default="database_backups",
               help="The container of backups when backup_info names none "
               "(Trove's backup_swift_container)."),
    cfg.StrOpt("log_container", default="database_logs",
               help="The container published guest logs go to (Trove's "
               "guest_log_container_name)."),
    cfg.IntOpt("segment_size_mb", default=64, min=1, max=5120,
               help="Size of the segments a backup is uploaded in (MiB)."),
    cfg.IntOpt("timeout", default=60, min=1,
               help="Seconds a Swift request may take."),
    cfg.IntOpt("retries", default=2, min=0,
               help="Retries of a failed Swift request (not of a "
               "streamed segment)."),
    cfg.BoolOpt("insecure", default=False,
                help="Skip TLS certificate checks (test clouds only)."),
]


def list_opts():
    """The ``[backup_swift]`` options, for oslo-config-generator."""
    return [(GROUP, OPTS)]


def _client():
    try:
        import swiftclient
    except ImportError:
        raise exceptions.PluginNotFound(
            "the 'swift' backup storage driver needs python-swiftclient; "
            "run %s" % _INSTALL, name="swift", installed=[]) from None
    return swiftclient


def _strip(etag):
    return (etag or "").strip('"')


class _SegmentPut:
    """One segment streamed by a chunked PUT in a thread, fed through a
    bounded queue."""

    def __init__(self, conn, container, name, timeout):
        self.container, self.name = container, name
        self.timeout = timeout
        self.size = 0
        self.etag = None
        self.error = None
        self._md5 = hashlib.md5()  # noqa: S324 - Swift's ETag, not security
        self._queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(
            target=self._run, args=(conn,), daemon=True,
            name="swift-segment")
        self._thread.start()

    def _chunks(self):
        while (data := self._queue.get()) is not None:
            yield data

    def _run(self, conn):
        try:
            self.etag = _strip(conn.put_object(
                self.container, self.name, contents=self._chunks()))
        except BaseException as exc:  # reported by write/finish
            self.error = exc

    def _put(self, item):
        while True:
            if self.error is not None:
                raise self.error
            if not self._thread.is_alive():
                raise OSError("the segment upload of %r stopped"
                              % self.name)
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def write(self, data):
        self._put(data)
        self._md5.update(data)
        self.size += len(data)

    def finish(self):
        """End the PUT; returns the manifest entry of the segment."""
        self._put(None)
        self._thread.join(self.timeout)
        if self.error is not None:
            raise self.error
        if self._thread.is_alive():
            raise OSError("the segment upload of %r did not finish within "
                          "%d s" % (self.name, self.timeout))
        if self.etag != self._md5.hexdigest():
            raise OSError("swift stored segment %r with ETag %s, but %s was "
                          "sent" % (self.name, self.etag,
                                    self._md5.hexdigest()))
        return {"path": "/%s/%s" % (self.container, self.name),
                "etag": self.etag, "size_bytes": self.size}

    def cancel(self):
        """Stop feeding the PUT (the thread ends with an error)."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(self.timeout)


class _Writer:
    def __init__(self, store, container, name):
        self.store, self.container, self.name = store, container, name
        self.segment_container = container + "_segments"
        self.prefix = "%s/%s/" % (name, uuid.uuid4().hex)
        self.segment_size = store.opts.segment_size_mb * _MIB
        self.done = []
        self.current = None
        # uploads stream: a retry could not rewind them
        self._upload_conn = store.connection(retries=0)

    def _open_segment(self):
        name = "%s%08d" % (self.prefix, len(self.done))
        self.current = _SegmentPut(self._upload_conn,
                                   self.segment_container, name,
                                   self.store.opts.timeout)

    def write(self, data):
        view = memoryview(data)
        while view:
            if self.current is None:
                self._open_segment()
            room = self.segment_size - self.current.size
            piece, view = view[:room], view[room:]
            # the whole block fits: queue it as it is, not a copy
            piece = (data if isinstance(data, bytes)
                     and len(piece) == len(data) else bytes(piece))
            with self.store.errors("write", self.name):
                self.current.write(piece)
                if self.current.size >= self.segment_size:
                    self.done.append(self.current.finish())
                    self.current = None

    def commit(self, metadata):
        with self.store.errors("write", self.name):
            if self.current is None and not self.done:
                self._open_segment()
            if self.current is not None:
                self.done.append(self.current.finish())
                self.current = None
            self.store.conn.put_object(
                self.container, self.name, json.dumps(self.done),
                query_string="multipart-manifest=put",
                headers=_meta_headers(metadata))
        LOG.info("stored %s/%s in %d segment(s)", self.container,
                 self.name, len(self.done))

    def abort(self):
        if self.current is not None:
            self.current.cancel()
            self.done.append({"path": "/%s/%s" % (
                self.segment_container, self.current.name)})
            self.current = None
        for segment in self.done:
            name = segment["path"].split("/", 2)[2]
            try:
                self.store.conn.delete_object(self.segment_container, name)
            except Exception as exc:  # keep aborting the others
                if getattr(exc, "http_status", None) != 404:
                    LOG.warning("could not delete segment %s of an "
                                "aborted backup: %s", name, exc)
        self.done = []


def _meta_headers(metadata):
    text = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
    pieces = [text[i:i + _META_PIECE]
              for i in range(0, len(text), _META_PIECE)] or [""]
    if len(pieces) > 16:
        raise exceptions.BackupError(
            backup_id=metadata.get("strategy", "-"), reason="the backup's "
            "metadata (%d bytes) is too large for Swift object metadata"
            % len(text))
    return {"X-Object-Meta-Trove-Meta-%02d" % i: piece
            for i, piece in enumerate(pieces)}


class _Reader(io.RawIOBase):
    def __init__(self, body):
        self._body = iter(body)
        self._left = b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._left:
            try:
                self._left = next(self._body)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


class SwiftStorage(storage_mod.StorageDriver):
    """Backups as static large objects in Swift.

    :param conf: the guest's ``ConfigOpts`` (``[backup_swift]`` is
        registered on it).
    :param backup_info: Trove's backup_info (``swift_url``,
        ``swift_container``), or ``None``.
    """

    def __init__(self, conf=None, backup_info=None, **_ignored):
        conf = cfg.CONF if conf is None else conf
        conf.register_opts(OPTS, group=GROUP)
        self.opts = conf[GROUP]
        info = backup_info or {}
        self.storage_url = info.get("swift_url") or self.opts.storage_url
        self.container = info.get("swift_container") or self.opts.container
        # the user's token of Trove's request, when it came with one
        self._token = info.get("trove_auth_token")
        self._conn = None
        self._others = {}

    # -- connections ------------------------------------------------------

    def connection(self, retries=None, storage_url=None):
        """A new swiftclient ``Connection``: with the token of Trove's
        request when one came with it (and a storage URL is known), else
        with the configured credentials.

        :raises BadRequest: neither is there.
        """
        swiftclient = _client()
        opts = self.opts
        url = storage_url or self.storage_url
        retries = opts.retries if retries is None else retries
        if self._token and url:
            # as Trove's guest: the request's token on Trove's swift_url
            return swiftclient.Connection(
                preauthurl=url, preauthtoken=self._token, retries=retries,
                starting_backoff=0.5, max_backoff=4, timeout=opts.timeout,
                insecure=opts.insecure)
        if not (opts.auth_url and opts.user and opts.key):
            raise exceptions.BadRequest(
                reason="the 'swift' backup storage needs credentials: a "
                "request token with a swift_url, or set [%s] auth_url, "
                "user and key" % GROUP)
        os_options = {"project_name": opts.project_name,
                      "user_domain_name": opts.user_domain_name,
                      "project_domain_name": opts.project_domain_name}
        if url:
            os_options["object_storage_url"] = url
        return swiftclient.Connection(
            authurl=opts.auth_url, user=opts.user, key=opts.key,
            auth_version=opts.auth_version, os_options=os_options,
            retries=retries,
            starting_backoff=0.5, max_backoff=4, timeout=opts.timeout,
            insecure=opts.insecure)

    @property
    def conn(self):
        """The driver's connection (made on first use)."""
        if self._conn is None:
            self._conn = self.connection()
        return self._conn

    def errors(self, action, name):
        """A context manager turning Swift's errors into typed ones that
        say what to do."""
        return _Errors(self, action, name)

    # -- locations --------------------------------------------------------

    def split(self, location):
        """``(storage_url or None, container, object)`` of a location: a
        URL ``<storage URL>/<container>/<object>``, or a relative name in
        this driver's container (``a/b`` is the object ``a_b``)."""
        location = str(location)
        if location.startswith(("http://", "https://")):
            base, container, obj = location.rsplit("/", 2)
            return (base, urllib.parse.unquote(container),
                    urllib.parse.unquote(obj))
        if not location.strip("/"):
            raise exceptions.BadRequest(
                reason="swift backup location %r must be an object name or "
                "a URL <storage URL>/<container>/<object>" % location)
        # Trove takes the last path part of a location as the object:
        # a relative path becomes one flat name
        return None, self.container, location.strip("/").replace("/", "_")

    def object_name(self, location):
        """``<container>/<object>`` of a URL location, so the namespace
        rules check both; a relative location as it is."""
        location = str(location)
        if location.startswith(("http://", "https://")):
            _base, container, obj = self.split(location)
            return "%s/%s" % (container, obj)
        return location

    def _target(self, location):
        base, container, obj = self.split(location)
        if base and base != self.storage_url:
            # a location names its own account (Trove's restore sends no
            # swift_url): one connection per account
            if base not in self._others:
                self._others[base] = self.connection(storage_url=base)
            return self._others[base], container, obj
        return self.conn, container, obj

    def reference(self, location):
        """What Trove records for the object at ``location``.

        :returns: ``(url, etag)``: the location Trove's backup model
            parses, and the checksum its ``check_location_exist``
            compares.
        """
        conn, container, obj = self._target(location)
        with self.errors("read", obj):
            headers = conn.head_object(container, obj)
            url = conn.url or conn.get_auth()[0]
        return ("%s/%s/%s" % (url.rstrip("/"), urllib.parse.quote(container),
                              urllib.parse.quote(obj)),
                _strip(headers.get("etag")))

    # -- the StorageDriver interface -------------------------------------

    def open_writer(self, location):
        """See :meth:`StorageDriver.open_writer`; the containers are
        created when missing; an existing object is never replaced.

        :raises BackupError: Swift cannot be reached, refuses the
            credentials or the container, or an object is already there.
        """
        conn, container, obj = self._target(location)
        with self.errors("write", obj):
            for name in (container, container + "_segments"):
                conn.put_container(name)
            if self._exists(conn, container, obj):
                raise exceptions.BackupError(
                    backup_id=obj, reason="swift container %r already "
                    "holds %r; a backup is never overwritten (delete it "
                    "first or use another id)" % (container, obj))
        return _Writer(_Bound(self, conn), container, obj)

    def open_reader(self, location):
        """See :meth:`StorageDriver.open_reader`."""
        conn, container, obj = self._target(location)
        with self.errors("read", obj):
            _headers, body = conn.get_object(container, obj,
                                             resp_chunk_size=_MIB)
        return io.BufferedReader(_Reader(body), buffer_size=_MIB)

    def metadata(self, location):
        """The backup's metadata, plus ``etag`` (Trove's checksum).

        :raises NotFound: there is no object at ``location``.
        """
        conn, container, obj = self._target(location)
        with self.errors("read", obj):
            headers = conn.head_object(container, obj)
        pieces = sorted((k, v) for k, v in headers.items()
                        if k.lower().startswith(_META))
        meta = {}
        if pieces:
            try:
                meta = json.loads("".join(v for _k, v in pieces))
            except ValueError:
                meta = {}
        meta["etag"] = _strip(headers.get("etag"))
        return meta

    def update_metadata(self, location, extra):
        """Add ``extra`` to the metadata of the object at ``location``."""
        meta = self.metadata(location)
        meta.pop("etag", None)
        meta.update(extra)
        conn, container, obj = self._target(location)
        with self.errors("write", obj):
            conn.post_object(container, obj, headers=_meta_headers(meta))

    def delete(self, location):
        """Remove the object and, for a large object, its segments."""
        conn, container, obj = self._target(location)
        with self.errors("delete", obj):
            try:
                headers = conn.head_object(container, obj)
            except Exception as exc:
                if getattr(exc, "http_status", None) == 404:
                    return
                raise
            query = ("multipart-manifest=delete"
                     if "x-static-large-object" in headers else None)
            conn.delete_object(container, obj, query_string=query)

    def exists(self, location):
        """Whether an object is at ``location``."""
        conn, container, obj = self._target(location)
        with self.errors("read", obj):
            return self._exists(conn, container, obj)

    # -- published guest logs (Trove's layout) ---------------------------

    def put_text(self, container, name, data, headers=None):
        """Store ``data`` (bytes) as the plain object ``name`` in
        ``container`` (created when missing), as Trove's guest publishes
        its logs for Trove's client to read."""
        with self.errors("write", name):
            self.conn.put_container(container)
            self.conn.put_object(container, name, data,
                                 headers=dict(headers or {}))

    def delete_prefix(self, container, prefix, also=()):
        """Delete every object of ``container`` under ``prefix``, and the
        objects named in ``also``."""
        with self.errors("delete", prefix):
            try:
                listing = self.conn.get_container(
                    container, prefix=prefix, full_listing=True)[1]
            except Exception as exc:
                if getattr(exc, "http_status", None) == 404:
                    return
                raise
            for name in [o["name"] for o in listing] + list(also):
                try:
                    self.conn.delete_object(container, name)
                except Exception as exc:
                    if getattr(exc, "http_status", None) != 404:
                        raise

    @staticmethod
    def _exists(conn, container, obj):
        try:
            conn.head_object(container, obj)
        except Exception as exc:
            if getattr(exc, "http_status", None) == 404:
                return False
            raise
        return True


class _Bound:
    """The driver seen through one connection (a writer's)."""

    def __init__(self, store, conn):
        self._store, self.conn = store, conn
        self.opts = store.opts

    def connection(self, retries=None):
        return self._store.connection(retries=retries,
                                      storage_url=self.conn.url)

    def errors(self, action, name):
        return self._store.errors(action, name)


class _Errors:
    def __init__(self, store, action, name):
        self.store, self.action, self.name = store, action, name

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, _tb):
        if exc is None or isinstance(exc, exceptions.TroveError):
            return False
        if not isinstance(exc, Exception):
            return False
        status = getattr(exc, "http_status", None)
        where = "swift container %r" % self.store.container
        if status == 404 and self.action != "write":
            raise exceptions.NotFound(kind="backup", name=self.name) \
                from exc
        if status in (401, 403):
            raise exceptions.BackupError(
                backup_id=self.name, reason="swift refused to %s %r in %s "
                "(%s %s): the credentials in [%s] may not; grant them "
                "access or name another container (backup_info "
                "swift_container, [%s] container)" % (
                    self.action, self.name, where, status,
                    getattr(exc, "http_reason", ""), GROUP, GROUP)) from exc
        if status is None:
            raise exceptions.BackupError(
                backup_id=self.name, reason="cannot reach swift to %s %r: "
                "%s: %s (check [%s] auth_url and storage_url, and that "
                "Swift is up)" % (self.action, self.name,
                                  type(exc).__name__, _short(exc),
                                  GROUP)) from exc
        raise exceptions.BackupError(
            backup_id=self.name, reason="swift failed to %s %r in %s: %s"
            % (self.action, self.name, where, _short(exc))) from exc


def _short(exc):
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
