"""The guest's RPC endpoints and the rules every request goes through.

Two endpoints share one :class:`GuestRuntime`:

:class:`GuestAPIEndpoint` (namespace ``None``, version 1.3)
    Trove's guest API: one method per name in
    :data:`trove_core.capabilities.OPERATIONS`, plus ``rpc_ping``. Each
    drops Trove's context, looks the operation up on the manager (an
    undeclared one raises ``OperationNotSupported`` before anything else
    happens), checks and converts the keyword arguments into
    :mod:`trove_core.models` objects, runs it, and converts the result
    back to Trove's wire shapes.
:class:`FrameworkEndpoint` (namespace ``trove_core``, version 1.0)
    What Trove's API lacks: capabilities, plugin info, health and the
    operation in flight with its progress.

Mutating operations run one at a time (see :class:`OperationGate`):
a mutating *call* that finds another running or queued is refused at
once with :class:`~trove_core.exceptions.GuestBusy`; mutating *casts*
queue in arrival order and run on one worker thread, because Trove casts
``create_database``/``create_user`` right after ``prepare`` and expects
them to happen. Reads never wait.

Only the methods listed in an endpoint's ``rpc_methods`` are reachable
(:class:`ExposedOnly` access policy); any other name gets oslo.messaging's
``NoSuchMethod``, which the client maps to ``UnknownOperation``.
"""

import collections
import dataclasses
import logging
import os
import threading
import time

import oslo_messaging

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import models
from trove_core import rpc
from trove_core import secure_rpc

__all__ = ["ExposedOnly", "FrameworkEndpoint", "GuestAPIEndpoint",
           "GuestRuntime", "OperationGate", "convert_arguments",
           "to_wire"]

LOG = logging.getLogger(__name__)

_MAX_REASON = 300
#: seconds a status probe may take before the datastore is reported
#: ``blocked`` (a stopped or wedged datastore must not silence the
#: heartbeat, nor hang ``health``).
PROBE_TIMEOUT = 20


# -- argument checks and conversions ------------------------------------


def _typed(op, arg, value, types, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join(t.__name__ for t in types)
        raise exceptions.BadRequest(
            reason="%s: argument %r must be %s%s, got %s"
            % (op, arg, names, " or null" if allow_none else "",
               type(value).__name__))
    return value


def _items(op, arg, value, build):
    _typed(op, arg, value, (list, tuple), allow_none=True)
    try:
        return tuple(build(item) for item in value or ())
    except exceptions.BadRequest as exc:
        raise exceptions.BadRequest(
            reason="%s: argument %r: %s" % (op, arg, exc)) from None


def _one(op, arg, value, build):
    try:
        return build(value)
    except exceptions.BadRequest as exc:
        raise exceptions.BadRequest(
            reason="%s: argument %r: %s" % (op, arg, exc)) from None


def _name(op, arg, value):
    _typed(op, arg, value, (str,), allow_none=False)
    return value


def _packages(op, arg, value):
    _typed(op, arg, value, _LIST + _STR)
    if isinstance(value, (list, tuple)):
        _strings(op, arg, value)
    return value


def _strings(op, arg, value, allow_none=False):
    """A list of strings (addresses, node ids, package names...)."""
    _typed(op, arg, value, _LIST, allow_none)
    for item in value or ():
        if not isinstance(item, str):
            raise exceptions.BadRequest(
                reason="%s: argument %r must be a list of strings, got an "
                "item of type %s" % (op, arg, type(item).__name__))
    return value


_STR = (str,)
_INT = (int,)
_BOOL = (bool,)
_DICT = (dict,)
_LIST = (list, tuple)

#: argument name -> converter(op, arg, value), shared by all operations.
_BY_ARG = {
    "databases": lambda op, a, v: _items(op, a, v, models.Database.from_trove),
    "users": lambda op, a, v: _items(op, a, v, models.User.from_trove),
    "user": lambda op, a, v: _one(op, a, v, models.User.from_trove),
    "database": lambda op, a, v: _one(op, a, v,
                                      models.Database.from_trove),
    "username": _name,
    "hostname": lambda op, a, v: _typed(op, a, v, _STR),
    "limit": lambda op, a, v: _typed(op, a, v, _INT),
    "marker": lambda op, a, v: _typed(op, a, v, _STR),
    "include_marker": lambda op, a, v: bool(_typed(op, a, v, _BOOL)),
    "memory_mb": lambda op, a, v: _typed(op, a, v, _INT + (float,)),
    "packages": _packages,
    "device_path": lambda op, a, v: _typed(op, a, v, _STR),
    "mount_point": lambda op, a, v: _typed(op, a, v, _STR),
    "fs_path": lambda op, a, v: _typed(op, a, v, _STR),
    "backup_info": lambda op, a, v: _typed(op, a, v, _DICT),
    "config_contents": lambda op, a, v: _typed(op, a, v, _STR),
    "root_password": lambda op, a, v: _typed(op, a, v, _STR),
    "overrides": lambda op, a, v: _typed(op, a, v, _DICT),
    "ds_version": lambda op, a, v: _typed(op, a, v, _STR),
    "user_attrs": lambda op, a, v: _typed(op, a, v, _DICT, False),
    "online": lambda op, a, v: bool(_typed(op, a, v, _BOOL)),
    "do_not_start_on_reboot": lambda op, a, v: bool(
        _typed(op, a, v, _BOOL)),
    "modules": lambda op, a, v: _typed(op, a, v, _LIST),
    # cluster families (see trove_core.capabilities.ICluster)
    "admin_password": lambda op, a, v: _typed(op, a, v, _STR, False),
    "replication_user": lambda op, a, v: _typed(op, a, v, _DICT, False),
    "cluster_configuration": lambda op, a, v: _typed(op, a, v, _STR,
                                                     False),
    "bootstrap": lambda op, a, v: bool(_typed(op, a, v, _BOOL)),
    "replica_set_name": lambda op, a, v: _typed(op, a, v, _STR, False),
    "replica_set_member": lambda op, a, v: _typed(op, a, v, _STR, False),
    "members": _strings,
    "config_servers": _strings,
    "password": lambda op, a, v: _typed(op, a, v, _STR, False),
    "seeds": _strings,
    # Redis Cluster: Trove sends the port as text and slots as floats;
    # the plugin checks their values (integral, in range)
    "ip": lambda op, a, v: _typed(op, a, v, _STR, False),
    "port": lambda op, a, v: _typed(op, a, v, _STR + _INT, False),
    "first_slot": lambda op, a, v: _typed(op, a, v, _INT + (float,),
                                          False),
    "last_slot": lambda op, a, v: _typed(op, a, v, _INT + (float,),
                                         False),
    "node_ids": _strings,
    # TLS (API 1.3): the control plane's certificate container
    "mode": lambda op, a, v: _typed(op, a, v, _STR),
    "container": lambda op, a, v: _typed(op, a, v, _DICT),
    "enabled": lambda op, a, v: bool(_typed(op, a, v, _BOOL, False)),
    "admin_credentials": lambda op, a, v: _typed(op, a, v, _DICT, False),
    "log_name": _name,
    # Trove sends {"config_contents": text}; a bare text is accepted too
    "configuration": lambda op, a, v: _typed(op, a, v, _STR + _DICT,
                                             False),
    "txn": lambda op, a, v: _typed(op, a, v, _STR + _INT + _LIST, False),
    "cluster_config": lambda op, a, v: _typed(op, a, v, _DICT),
    "config_overrides": lambda op, a, v: _typed(op, a, v, _DICT),
    "module": lambda op, a, v: _typed(op, a, v, _DICT),
    "replica_info": lambda op, a, v: _typed(op, a, v, _DICT),
    "replica_source_config": lambda op, a, v: _typed(op, a, v, _DICT),
    "slave_config": lambda op, a, v: _typed(op, a, v, _DICT),
    "snapshot": lambda op, a, v: _typed(op, a, v, _DICT),
    "snapshot_info": lambda op, a, v: _typed(op, a, v, _DICT),
    "upgrade_info": lambda op, a, v: _typed(op, a, v, _DICT),
}
# flags: true, false or null (kept as sent)
for _flag in ("enable", "disable", "publish", "discard", "for_failover",
              "read_only", "remove", "restart", "include_contents"):
    _BY_ARG[_flag] = lambda op, a, v: _typed(op, a, v, _BOOL)
del _flag

#: (operation, argument) -> converter, where the shared one is wrong.
_BY_OP = {
    ("grant_access", "databases"): lambda op, a, v: tuple(
        _name(op, a, d) for d in _typed(op, a, v, _LIST, False)),
    ("revoke_access", "database"): _name,
}


def _text_fields(op, arg, value, depth=0):
    """Refuse, anywhere in an argument, text no datastore can store (a
    lone surrogate) or nesting deeper than any Trove payload."""
    if depth > 8:
        raise exceptions.BadRequest(
            reason="%s: argument %r is nested too deeply" % (op, arg))
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.BadRequest(
                reason="%s: argument %r holds text that is not valid "
                "Unicode (a lone surrogate); send UTF-8 text" % (op, arg)
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _text_fields(op, arg, key, depth + 1)
            _text_fields(op, arg, item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _text_fields(op, arg, item, depth + 1)


#: the fields of dict arguments whose values must be strings (or null).
_STRING_FIELDS = {
    "backup_info": ("id", "location", "type", "checksum", "datastore",
                    "datastore_version"),
    "user_attrs": ("name", "host", "password", "_name", "_host",
                   "_password"),
    "configuration": ("config_contents",),
    "replication_user": ("name", "password"),
    "container": ("certificate", "private_key", "ca"),
}


def _string_fields(op, arg, value):
    if arg == "backup_info" and isinstance(value, dict) and value.get(
            "parent") is not None:
        if not isinstance(value["parent"], dict):
            raise exceptions.BadRequest(
                reason="%s: argument %r: field 'parent' must be a dict of "
                "'location' and 'checksum'" % (op, arg))
        _string_fields(op, "backup_info", {
            k: v for k, v in value["parent"].items()
            if k in ("location", "checksum")})
    for field in _STRING_FIELDS.get(arg, ()):
        item = value.get(field) if isinstance(value, dict) else None
        if item is not None and not isinstance(item, str):
            raise exceptions.BadRequest(
                reason="%s: argument %r: field %r must be a string, got %s"
                % (op, arg, field, type(item).__name__))


def _signature(name):
    spec = caps.OPERATIONS[name]
    info = caps.CAPABILITIES[spec.capability][name].getSignatureInfo()
    return tuple(info["positional"]), tuple(info["required"])


def convert_arguments(name, kwargs):
    """Check the keyword arguments of operation ``name`` and convert them
    into what a manager takes.

    :param name: a guest API operation.
    :param kwargs: the arguments as they came off the wire.
    :returns: a new dict of converted arguments.
    :raises BadRequest: an argument is missing, unexpected, or of the
        wrong type; the message names it.
    """
    accepted, required = _signature(name)
    unexpected = sorted(set(kwargs) - set(accepted))
    if unexpected:
        raise exceptions.BadRequest(
            reason="%s got unexpected arguments %s; it takes %s"
            % (name, unexpected, list(accepted)))
    missing = [arg for arg in required if arg not in kwargs]
    if missing:
        raise exceptions.BadRequest(
            reason="%s is missing required arguments %s" % (name, missing))
    converted = {}
    for arg, value in kwargs.items():
        _text_fields(name, arg, value)
        _string_fields(name, arg, value)
        convert = _BY_OP.get((name, arg)) or _BY_ARG.get(arg)
        converted[arg] = convert(name, arg, value) if convert else value
    return converted


def to_wire(value, with_password=False):
    """Turn a manager's result into plain data in Trove's shapes.

    :param value: models, tuples, dicts, enums, other dataclasses (as
        dicts) or plain values.
    :param with_password: include users' passwords (root operations).
    """
    if isinstance(value, models.User):
        return value.to_trove(with_password=with_password)
    if isinstance(value, models.Database):
        return value.to_trove()
    if isinstance(value, (list, tuple)):
        return [to_wire(v, with_password) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v, with_password) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_wire(dataclasses.asdict(value), with_password)
    if hasattr(value, "value") and hasattr(type(value), "__members__"):
        return value.value
    return value


_WITH_PASSWORD = {"enable_root", "enable_root_with_password"}
_PAGED = {"list_databases", "list_users"}


def _result(name, value):
    if name in _PAGED:
        items, marker = value
        return [to_wire(list(items)), marker]
    return to_wire(value, with_password=name in _WITH_PASSWORD)


def _no_arguments(method, kwargs):
    if kwargs:
        raise exceptions.BadRequest(
            reason="%s takes no arguments, got %s"
            % (method, sorted(kwargs)))


# -- serialization of mutating operations -------------------------------


class OperationGate:
    """Runs mutating operations one at a time.

    Calls run on the caller's thread when the guest is idle and are
    refused with :class:`~trove_core.exceptions.GuestBusy` otherwise;
    casts queue FIFO and run on the gate's worker thread.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._queue = collections.deque()
        self._current = None
        self._closing = False
        self._worker = threading.Thread(target=self._work,
                                        name="mutating-ops", daemon=True)
        self._worker.start()

    @property
    def current(self):
        """``{"name", "kind", "started"}`` of the operation running, or
        ``None``."""
        with self._cond:
            return dict(self._current) if self._current else None

    @property
    def queued(self):
        """Names of the casts waiting to run, oldest first."""
        with self._cond:
            return [entry[0] for entry in self._queue]

    def _busy_error(self, name):
        running = self._current or {"name": self._queue[0][0],
                                    "started": self._queue[0][2]}
        return exceptions.GuestBusy(
            running=running["name"], operation=name,
            since=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                time.gmtime(running["started"])))

    def call(self, name, func):
        """Run ``func`` now, or refuse if another mutating operation runs
        or waits.

        :raises GuestBusy: the guest is busy or shutting down.
        """
        with self._cond:
            if self._closing:
                raise exceptions.GuestBusy(
                    running="shutdown", operation=name, since="now")
            if self._current or self._queue:
                raise self._busy_error(name)
            self._current = {"name": name, "kind": caps.CALL,
                             "started": time.time()}
        try:
            return func()
        finally:
            with self._cond:
                self._current = None
                self._cond.notify_all()

    def submit(self, name, func):
        """Queue ``func`` to run after the mutating operations before
        it; returns at once."""
        with self._cond:
            if self._closing:
                LOG.warning("shutting down: dropping %s", name)
                return
            self._queue.append((name, func, time.time()))
            self._cond.notify_all()

    def _work(self):
        while True:
            with self._cond:
                while not self._closing and (self._current
                                             or not self._queue):
                    self._cond.wait()
                if self._closing:
                    return
                name, func, _queued = self._queue.popleft()
                self._current = {"name": name, "kind": caps.CAST,
                                 "started": time.time()}
            try:
                func()
            except exceptions.TroveError as exc:
                LOG.error("%s failed: %s", name, exc)
            except Exception:  # keep the worker alive for the next cast
                LOG.exception("%s failed", name)
            finally:
                with self._cond:
                    self._current = None
                    self._cond.notify_all()

    def close(self, timeout):
        """Stop taking operations and wait for the one running.

        :param timeout: seconds to wait for it.
        :returns: ``(finished, dropped)``: whether nothing is running any
            more, and the names of queued casts that will not run.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            dropped = [entry[0] for entry in self._queue]
            self._queue.clear()
            self._cond.notify_all()
            while self._current is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._current is None, dropped


# -- the runtime shared by both endpoints --------------------------------


class GuestRuntime:
    """Dispatches guest operations to one manager.

    :param manager: the datastore manager instance.
    :param record: its :class:`~trove_core.discovery.PluginRecord`.
    :param guest_id: this guest's id.
    :param progress_board: where long operations record progress
        (:class:`~trove_guest_base.reporter.ProgressBoard`) or ``None``.
    """

    def __init__(self, manager, record, guest_id, progress_board=None):
        self.manager = manager
        self.record = record
        self.guest_id = guest_id
        self.progress_board = progress_board
        self.started = time.time()
        self.gate = OperationGate()
        self.probe_timeout = PROBE_TIMEOUT
        self._probe_lock = threading.Lock()
        self._probe = None

    def probe_status(self):
        """The manager's ``refresh_status()``, bounded in time.

        A probe that has not answered within :attr:`probe_timeout`
        seconds is left to finish in the background (one at a time) and
        ``BLOCKED`` is returned, so heartbeats and ``health`` keep
        reporting a stuck datastore.

        :returns: a :class:`~trove_core.status.ServiceStatus`.
        """
        from trove_core.status import ServiceStatus

        with self._probe_lock:
            probe = self._probe
            if probe is None or probe["done"].is_set():
                probe = self._probe = {"done": threading.Event()}

                def run(box=probe):
                    try:
                        box["value"] = self.manager.refresh_status()
                    except BaseException as exc:  # re-raised to the caller
                        box["error"] = exc
                    finally:
                        box["done"].set()
                threading.Thread(target=run, name="status-probe",
                                 daemon=True).start()
        if not probe["done"].wait(self.probe_timeout):
            LOG.warning("the status probe of %s did not answer within %s "
                        "s; reporting it %s", self.manager.name,
                        self.probe_timeout, ServiceStatus.BLOCKED.value)
            return ServiceStatus.BLOCKED
        if "error" in probe:
            raise probe["error"]
        return probe["value"]

    def handle(self, name, kwargs):
        """Run guest operation ``name`` as the RPC layer received it.

        :returns: the result in Trove's wire shape (``None`` for casts,
            which run later, in order).
        :raises OperationNotSupported: undeclared; nothing was touched.
        :raises BadRequest: malformed arguments; nothing was touched.
        :raises GuestBusy: a mutating call while another one runs.
        :raises DatastoreError: the datastore failed (unexpected errors
            are wrapped in it).
        """
        func = self.manager.operation(name)
        args = convert_arguments(name, kwargs)
        spec = caps.OPERATIONS[name]

        def run():
            return _result(name, self._invoke(name, func, args))

        if not spec.mutating:
            return run()
        if spec.kind == caps.CAST:
            LOG.info("queued %s", name)
            self.gate.submit(name, run)
            return None
        return self.gate.call(name, run)

    @staticmethod
    def _invoke(name, func, args):
        started = time.monotonic()
        try:
            result = func(**args)
        except exceptions.TroveError:
            raise
        except Exception as exc:
            LOG.exception("%s failed", name)
            reason = ("%s: %s" % (type(exc).__name__, exc))[:_MAX_REASON]
            raise exceptions.DatastoreError(operation=name,
                                            reason=reason) from exc
        LOG.log(logging.INFO if caps.OPERATIONS[name].mutating
                else logging.DEBUG, "%s done in %.3f s", name,
                time.monotonic() - started)
        return result

    # -- the framework namespace ------------------------------------------

    def capabilities(self):
        """Capabilities and the operations they expose, with tags."""
        ops = self.manager.operations()
        return {
            "datastore": self.manager.name,
            "capabilities": self.manager.capabilities(),
            "guest_api": rpc.API_VERSION,
            "operations": {
                name: {"kind": s.kind, "since": s.since,
                       "mutating": s.mutating, "long": s.long}
                for name, s in sorted(ops.items())},
        }

    def plugin_info(self):
        """Name, distribution, version, tier and strategies."""
        desc = self.record.descriptor
        return {
            "name": self.record.name,
            "distribution": self.record.distribution,
            "version": self.record.version,
            "tier": desc.tier.label,
            "plugin_api": desc.plugin_api,
            "engine_versions": list(desc.engine_versions),
            "strategies": [{"name": s.name, "kind": s.kind,
                            "tier": s.tier.label, "summary": s.summary}
                           for s in desc.strategies],
            "framework_version": rpc.FRAMEWORK_VERSION,
        }

    def health(self):
        """The datastore's status and the guest's own state."""
        try:
            status = self.probe_status().value
        except Exception as exc:  # report, never fail the health call
            LOG.warning("status probe failed: %s", exc)
            status = "unknown"
        current = self.gate.current
        return {"guest_id": self.guest_id, "datastore": self.manager.name,
                "status": status, "prepared": self.manager.prepared,
                "cluster": self.manager.cluster_member,
                "busy": current["name"] if current else None,
                "uptime": round(time.time() - self.started, 3),
                "pid": os.getpid()}

    def current_operation(self):
        """The mutating operation running (with its progress) and the
        casts queued behind it."""
        current = self.gate.current
        if current and self.progress_board is not None:
            current["progress"] = self.progress_board.latest(
                since=current["started"])
        return {"current": current, "queued": self.gate.queued}


# -- the endpoints ------------------------------------------------------


class ExposedOnly(oslo_messaging.RPCAccessPolicyBase):
    """Allow exactly the names in an endpoint's ``rpc_methods``."""

    def is_allowed(self, endpoint, method):
        """Whether ``method`` is one of ``endpoint.rpc_methods``."""
        return method in getattr(endpoint, "rpc_methods", ())


def _verify(ctxt, method, guest_id):
    # A sealed request must be for this guest and this method; a plain
    # context (secure RPC off, Trove's wire format) has nothing to check.
    verify = getattr(secure_rpc, "verify_call", None)
    if verify is not None:
        verify(ctxt, method=method, instance_id=guest_id)


def _expected(func, *args):
    """Run ``func``; re-raise trove-core errors as expected ones so the
    server replies with them without logging a traceback."""
    try:
        return func(*args)
    except exceptions.TroveError as exc:
        LOG.info("refused: %s: %s", type(exc).__name__, exc)
        raise oslo_messaging.ExpectedException() from exc


class GuestAPIEndpoint:
    """Trove's guest API 1.x; see the module docstring.

    :param runtime: the :class:`GuestRuntime`.
    """

    target = oslo_messaging.Target(version=rpc.API_VERSION)
    rpc_methods = frozenset(caps.OPERATIONS) | {"rpc_ping"}

    def __init__(self, runtime):
        self._runtime = runtime

    def rpc_ping(self, ctxt, /, **kwargs):
        """Answer ``True``: the guest is up and consuming."""
        def run():
            _verify(ctxt, "rpc_ping", self._runtime.guest_id)
            _no_arguments("rpc_ping", kwargs)
            return True
        return _expected(run)


#: the arguments that may name an object store Trove reaches with the
#: request's token (its guest uses ``context.auth_token`` for Swift)
_STORE_ARGUMENTS = ("backup_info", "snapshot_info")
#: where the request's token travels to the storage driver
AUTH_TOKEN_KEY = "trove_auth_token"  # noqa: S105 - a key name


def with_request_token(ctxt, kwargs):
    """Copy the request context's ``auth_token`` into the backup or
    snapshot info of ``kwargs`` (a copy), under :data:`AUTH_TOKEN_KEY`,
    so the storage driver can use the user's token as Trove's own guest
    does. Other arguments are left alone."""
    token = ctxt.get("auth_token") if isinstance(ctxt, dict) else None
    if not token:
        return kwargs
    out = dict(kwargs)
    for key in _STORE_ARGUMENTS:
        if isinstance(out.get(key), dict):
            out[key] = dict(out[key], **{AUTH_TOKEN_KEY: token})
    return out


def _operation_method(name):
    spec = caps.OPERATIONS[name]

    def method(self, ctxt, /, **kwargs):
        def run():
            _verify(ctxt, name, self._runtime.guest_id)
            return self._runtime.handle(name,
                                        with_request_token(ctxt, kwargs))
        return _expected(run)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = ("Trove guest API ``%s`` (%s, since %s, capability "
                      "%r)." % (name, spec.kind, spec.since,
                                spec.capability))
    return method


for _op in caps.OPERATIONS:
    setattr(GuestAPIEndpoint, _op, _operation_method(_op))
del _op


class FrameworkEndpoint:
    """The framework's namespace ``trove_core`` (version 1.0).

    :param runtime: the :class:`GuestRuntime`.
    """

    target = oslo_messaging.Target(namespace=rpc.FRAMEWORK_NAMESPACE,
                                   version=rpc.FRAMEWORK_VERSION)
    rpc_methods = frozenset({"capabilities", "plugin_info", "health",
                             "current_operation"})

    def __init__(self, runtime):
        self._runtime = runtime

    def _answer(self, ctxt, name, kwargs):
        def run():
            _verify(ctxt, name, self._runtime.guest_id)
            _no_arguments(name, kwargs)
            return getattr(self._runtime, name)()
        return _expected(run)

    def capabilities(self, ctxt, /, **kwargs):
        """See :meth:`GuestRuntime.capabilities`."""
        return self._answer(ctxt, "capabilities", kwargs)

    def plugin_info(self, ctxt, /, **kwargs):
        """See :meth:`GuestRuntime.plugin_info`."""
        return self._answer(ctxt, "plugin_info", kwargs)

    def health(self, ctxt, /, **kwargs):
        """See :meth:`GuestRuntime.health`."""
        return self._answer(ctxt, "health", kwargs)

    def current_operation(self, ctxt, /, **kwargs):
        """See :meth:`GuestRuntime.current_operation`."""
        return self._answer(ctxt, "current_operation", kwargs)
