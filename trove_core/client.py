"""The control plane's client of one guest.

:class:`GuestClient` speaks Trove's guest API 1.x the way Trove's
taskmanager does (calls and casts on ``guestagent.<guest_id>``, a context
dict beside the keyword arguments, a version cap from ``[upgrade_levels]
guestagent``) and the framework's ``trove_core`` namespace. What it adds:

- each operation goes out as the kind the API defines (``call`` or
  ``cast``), at the version that introduced it, refused locally with
  :class:`~trove_core.exceptions.UnsupportedVersion` above the cap;
- a timeout per method (short for reads, long for mutating calls,
  overridable);
- errors come back as the trove-core exception the guest raised
  (``OperationNotSupported``, ``BadRequest``, ``GuestBusy``...), without
  the remote traceback in the message (it is kept in
  ``remote_traceback``); an unknown method becomes ``UnknownOperation``,
  a timeout ``GuestUnreachable``;
- :class:`~trove_core.models.Database` and :class:`~trove_core.models.User`
  arguments are turned into Trove's wire dicts.

Example::

    client = GuestClient("f3c1...", transport=rpc.get_transport())
    client.prepare(memory_mb=512, packages=[], databases=[], users=[])
    client.wait_idle(timeout=300)
    client.create_database(databases=[models.Database("shop")])
    dbs, marker = client.list_databases()
"""

import functools
import logging
import time

from oslo_config import cfg

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import models
from trove_core import rpc
from trove_core import secure_rpc

__all__ = ["DEFAULT_TIMEOUTS", "GuestClient", "HIGH_TIMEOUT",
           "LOW_TIMEOUT"]

LOG = logging.getLogger(__name__)

#: Seconds a read (or ``rpc_ping``) may take; Trove's
#: ``agent_call_low_timeout`` is 15, a little more is kinder to busy hosts.
LOW_TIMEOUT = 30
#: Seconds a mutating call may take (Trove's ``agent_call_high_timeout``).
HIGH_TIMEOUT = 600
#: Per-method overrides of the two defaults above.
DEFAULT_TIMEOUTS = {
    "wait_for_txn": HIGH_TIMEOUT,
    "get_filesystem_stats": LOW_TIMEOUT,
}

_TRACE_MARK = "\nTraceback (most recent call last):"


def _wire(value):
    if isinstance(value, models.User):
        return value.to_trove(with_password=True)
    if isinstance(value, models.Database):
        return value.to_trove()
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


def _typed_error(exc):
    """Rebuild a remote trove-core error as its own class, message clean."""
    base = next((c for c in type(exc).__mro__
                 if c.__module__ == exceptions.__name__), None)
    if base is None:
        return None
    message = exc.args[0] if exc.args else None
    _text, _sep, trace = str(exc).partition(_TRACE_MARK)
    clean = base(message, **getattr(exc, "kwargs", {}))
    clean.remote_traceback = (_TRACE_MARK.lstrip("\n") + trace
                              if trace else "")
    return clean


class GuestClient:
    """Client of one guest's RPC API.

    :param guest_id: the guest's id (Trove's instance id).
    :param transport: an oslo.messaging RPC transport; one is built from
        ``conf`` (and owned, see :meth:`close`) when omitted.
    :param conf: the ``ConfigOpts`` (global ``cfg.CONF`` by default).
    :param version_cap: ``[upgrade_levels] guestagent``: a version, an
        alias (``victoria``...) or ``None`` for the latest.
    :param timeouts: per-method timeouts overriding the defaults.
    :param control_exchange: the exchange the guest consumes in; by
        default ``[DEFAULT] control_exchange`` of ``conf`` as it is now
        (also when set after the transport was built), else ``trove``.
    :raises BadRequest: the guest id or the version cap is malformed.
    """

    def __init__(self, guest_id, transport=None, conf=None,
                 version_cap=None, timeouts=None, control_exchange=None):
        import oslo_messaging

        conf = cfg.CONF if conf is None else conf
        self.guest_id = rpc.check_guest_id(guest_id)
        self.version_cap = rpc.resolve_version_cap(version_cap)
        self.timeouts = dict(DEFAULT_TIMEOUTS, **(timeouts or {}))
        self._own_transport = transport is None
        self.transport = transport or rpc.get_transport(conf)
        #: the exchange every message goes to, named in timeouts
        self.exchange = control_exchange or rpc.control_exchange(conf)
        serializer = secure_rpc.build_serializer(conf, guest_id, "control")
        self._secure = serializer is not None
        self._api = oslo_messaging.get_rpc_client(
            self.transport,
            rpc.guest_target(guest_id, version=rpc.BASE_VERSION,
                             exchange=self.exchange),
            version_cap=self.version_cap, serializer=serializer)
        self._framework = oslo_messaging.get_rpc_client(
            self.transport,
            rpc.guest_target(guest_id,
                             namespace=rpc.FRAMEWORK_NAMESPACE,
                             version=rpc.FRAMEWORK_VERSION,
                             exchange=self.exchange),
            serializer=serializer)

    # -- plumbing ----------------------------------------------------------

    def timeout_for(self, name):
        """The timeout in seconds of a call to ``name``."""
        if name in self.timeouts:
            return self.timeouts[name]
        spec = caps.OPERATIONS.get(name)
        return HIGH_TIMEOUT if spec and spec.mutating else LOW_TIMEOUT

    def _version(self, name):
        spec = caps.OPERATIONS.get(name)
        version = spec.since if spec else rpc.BASE_VERSION
        if rpc.version_tuple(version) > rpc.version_tuple(
                self.version_cap):
            raise exceptions.UnsupportedVersion(
                operation=name, version=version, cap=self.version_cap)
        return version

    def _send(self, client, kind, name, timeout, kwargs):
        import oslo_messaging

        ctxt = {}
        if self._secure:
            ctxt = secure_rpc.bind_method(ctxt, name)
        try:
            if kind == caps.CAST:
                client.cast(ctxt, name, **_wire(kwargs))
                return None
            return client.call(ctxt, name, **_wire(kwargs))
        except oslo_messaging.MessagingTimeout:
            raise exceptions.GuestUnreachable(
                guest_id=self.guest_id, operation=name, timeout=timeout,
                topic=rpc.guest_topic(self.guest_id),
                exchange=self.exchange) from None
        except oslo_messaging.NoSuchMethod:
            # The in-process 'fake://' driver raises it unwrapped.
            raise exceptions.UnknownOperation(operation=name) from None
        except oslo_messaging.RemoteError as exc:
            if exc.exc_type == "NoSuchMethod":
                raise exceptions.UnknownOperation(operation=name) from None
            if exc.exc_type == "UnsupportedVersion":
                raise exceptions.UnsupportedVersion(
                    operation=name, version=getattr(client, "version", "?"),
                    cap="what the guest speaks") from None
            raise exceptions.DatastoreError(
                operation=name, reason="%s: %s" % (exc.exc_type, exc.value)
            ) from None
        except exceptions.TroveError as exc:
            clean = _typed_error(exc)
            if clean is None:
                raise
            raise clean from None

    def call(self, name, timeout=None, **kwargs):
        """Call guest API method ``name`` and return its result.

        :param name: a method of Trove's guest API (or ``rpc_ping``).
        :param timeout: seconds to wait; see :meth:`timeout_for`.
        :param kwargs: its keyword arguments.
        :raises TroveError: the typed error the guest raised.
        :raises GuestUnreachable: no answer within the timeout.
        :raises UnsupportedVersion: the method is above the version cap.
        """
        timeout = timeout or self.timeout_for(name)
        cctxt = self._api.prepare(version=self._version(name),
                                  timeout=timeout)
        return self._send(cctxt, caps.CALL, name, timeout, kwargs)

    def cast(self, name, **kwargs):
        """Cast guest API method ``name``; returns at once.

        :raises UnsupportedVersion: the method is above the version cap.
        """
        cctxt = self._api.prepare(version=self._version(name))
        return self._send(cctxt, caps.CAST, name, None, kwargs)

    def invoke(self, name, **kwargs):
        """Send ``name`` as the kind the guest API defines for it."""
        spec = caps.OPERATIONS.get(name)
        if spec is not None and spec.kind == caps.CAST:
            return self.cast(name, **kwargs)
        return self.call(name, **kwargs)

    def __getattr__(self, name):
        if name in caps.OPERATIONS:
            return functools.partial(self.invoke, name)
        raise AttributeError("%r object has no attribute %r"
                             % (type(self).__name__, name))

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(caps.OPERATIONS))

    # -- Trove's guest API: the methods with a result to unpack -----------

    def rpc_ping(self):
        """Return ``True`` once the guest consumes its topic."""
        return self.call("rpc_ping")

    def list_databases(self, limit=None, marker=None, include_marker=False):
        """Return ``([Database...], next_marker)``."""
        items, next_marker = self.call(
            "list_databases", limit=limit, marker=marker,
            include_marker=include_marker)
        return ([models.Database.from_trove(d) for d in items],
                next_marker)

    def list_users(self, limit=None, marker=None, include_marker=False):
        """Return ``([User...], next_marker)``."""
        items, next_marker = self.call(
            "list_users", limit=limit, marker=marker,
            include_marker=include_marker)
        return [models.User.from_trove(u) for u in items], next_marker

    # -- the framework's namespace ---------------------------------------

    def _framework_call(self, name, timeout=LOW_TIMEOUT):
        cctxt = self._framework.prepare(timeout=timeout)
        return self._send(cctxt, caps.CALL, name, timeout, {})

    def capabilities(self):
        """The datastore's capabilities and operations with their tags."""
        return self._framework_call("capabilities")

    def plugin_info(self):
        """The plugin's name, distribution, version, tier, strategies."""
        return self._framework_call("plugin_info")

    def health(self):
        """The datastore's status and the guest's own state."""
        return self._framework_call("health")

    def current_operation(self):
        """``{"current": {...} or None, "queued": [...]}``."""
        return self._framework_call("current_operation")

    # -- helpers -------------------------------------------------------

    def wait_until_up(self, timeout=60, interval=0.5):
        """Ping until the guest answers.

        :raises GuestUnreachable: it did not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        # Short attempts: a ping sent before the guest declared its queue
        # is dropped by the broker and would wait out a long timeout.
        cctxt = self._api.prepare(timeout=1)
        while True:
            try:
                return self._send(cctxt, caps.CALL, "rpc_ping", timeout,
                                  {})
            except exceptions.GuestUnreachable:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(interval)

    def wait_idle(self, timeout=600, interval=0.5):
        """Wait until no mutating operation runs or waits.

        Casts (``prepare``, ``create_database``...) return at once; this
        is how a caller learns that they finished.

        :returns: the last :meth:`health` answer.
        :raises GuestUnreachable: still busy after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        idle_before = False
        while True:
            state = self.current_operation()
            idle = state["current"] is None and not state["queued"]
            # Twice in a row: a cast sent just before may not have been
            # dispatched yet when the first answer was made.
            if idle and idle_before:
                return self.health()
            idle_before = idle
            if time.monotonic() >= deadline:
                busy = (state["current"] or {}).get("name")
                raise exceptions.GuestUnreachable(
                    "guest %r answers but is still busy with %r after %s "
                    "s (%d queued); wait longer" % (
                        self.guest_id, busy, timeout,
                        len(state["queued"])),
                    guest_id=self.guest_id, operation=busy,
                    timeout=timeout, topic=rpc.guest_topic(self.guest_id),
                    exchange=self.exchange)
            time.sleep(interval if not idle else min(interval, 0.1))

    def close(self):
        """Release the transport when this client built it."""
        if self._own_transport:
            self.transport.cleanup()
