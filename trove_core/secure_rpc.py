"""Authenticated encryption of guest RPC payloads.

Trove's optional payload encryption used AES-CBC without authentication,
a key derived with MD5, no replay protection, no binding of a key to the
instance it belongs to, and a silent fallback to plaintext whenever
decryption failed. This module replaces it with an oslo.messaging
:class:`~oslo_messaging.Serializer` that seals every context and every
argument with AES-256-GCM:

* one key per guest (:func:`generate_key`, :func:`write_key`), expanded
  with HKDF over the instance id, so a key only ever opens messages of the
  instance it was issued for;
* the associated data of each seal names the instance, the sender's role,
  the message kind (request or reply), a random message id and the
  argument's position, so a seal cannot be moved to another instance,
  direction, message or argument, and a reply is bound to its request;
* a replay window: a message older (or newer) than ``replay_window``
  seconds is refused, and message ids are remembered that long;
* no plaintext fallback: with ``[secure_rpc] enabled = true`` anything
  unsealed is refused. With it false (the default) :func:`build_serializer`
  returns ``None`` and the guest speaks Trove's guest API 1.x unchanged,
  which is the compatibility mode for Trove control planes.

oslo.messaging does not show a serializer the method name. A client binds
it with :func:`bind_method` (it travels inside the sealed context) and an
endpoint checks it, and the instance a message speaks for, with
:func:`verify_call`. Refusals raise a
:class:`~trove_core.exceptions.SecureRPCError` subclass and are logged
with the reason, the instance and the message id, never the content.
"""

import base64
import binascii
import collections
import json
import logging
import os
import re
import secrets
import threading
import time

from oslo_config import cfg

from trove_core import exceptions
from trove_core.security import keys
from trove_core.security.keys import check_instance_id
from trove_core.security.keys import generate_key
from trove_core.security.keys import key_path
from trove_core.security.keys import load_key
from trove_core.security.keys import write_key

__all__ = ["ENVELOPE", "GROUP", "OPTS", "ROLES", "SEAL", "SecureContext",
           "SecureSerializer", "bind_method", "build_serializer",
           "check_instance_id", "generate_key", "key_path", "list_opts",
           "load_key", "register_opts", "verify_call", "write_key"]

LOG = logging.getLogger(__name__)

GROUP = "secure_rpc"
ROLES = ("guest", "control")
VERSION = 1
ENVELOPE = "trove_secure_rpc"
SEAL = "trove_sealed"
METHOD_KEY = "trove_secure_rpc_method"
_NONCE_BYTES = 12
_INSTANCE_RE = keys.INSTANCE_RE
_MESSAGE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_PEER = {"guest": "control", "control": "guest"}

OPTS = [
    cfg.BoolOpt(
        "enabled", default=False,
        help="Seal every guest RPC payload (requests, replies and "
             "guest-to-conductor messages) with the guest's AEAD key and "
             "refuse anything unsealed. False keeps Trove's guest API "
             "wire format: the compatibility mode for Trove control "
             "planes, which lack this scheme. Both sides must agree."),
    cfg.StrOpt(
        "key_file",
        help="Guest side: file (mode 0600) holding this guest's key, as "
             "written by 'trove-guest-credentials create --rpc-key-dir'."),
    cfg.StrOpt(
        "key_dir",
        help="Control side: directory of per-guest key files named "
             "<instance_id>.key (mode 0600)."),
    cfg.IntOpt(
        "replay_window", default=120, min=5,
        help="Seconds a sealed message stays acceptable, in either "
             "direction of clock skew; message ids are remembered that "
             "long, so a replay inside the window is refused too."),
]


def register_opts(conf):
    """Register the ``[secure_rpc]`` options on *conf* (idempotent).

    :param conf: an oslo.config ``ConfigOpts``.
    """
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """``oslo.config.opts`` hook for ``trove.secure_rpc``.

    :returns: ``[(group, options)]``.
    """
    return [(GROUP, list(OPTS))]


# -------------------------------------------------------- context helpers

class SecureContext(dict):
    """A request context that arrived sealed and verified.

    It is the dict the endpoint receives, plus what the seal proved:
    ``instance_id`` (whose key opened it), ``message_id`` and ``method``
    (when the client bound it with :func:`bind_method`).
    """

    def __init__(self, values, instance_id, message_id, count, serializer):
        method = values.pop(METHOD_KEY, None)
        super().__init__(values)
        self.instance_id = instance_id
        self.message_id = message_id
        self.method = method
        self._count = count
        self._next = 0
        self._serializer = serializer

    def _take_index(self):
        index = self._next
        self._next += 1
        return index


def bind_method(ctxt, method):
    """Return a copy of *ctxt* that carries *method* inside the seal.

    :param ctxt: the request context dict.
    :param method: the RPC method about to be called.
    :returns: a new dict; send it instead of *ctxt*.
    """
    bound = dict(ctxt or {})
    bound[METHOD_KEY] = method
    return bound


def verify_call(ctxt, method=None, instance_id=None):
    """Check that a sealed request is for *method* and *instance_id*.

    An endpoint calls this first. With secure RPC disabled the context is
    a plain dict and nothing is checked (there is nothing to check with).

    :param ctxt: the context the endpoint received.
    :param method: the method being dispatched, checked when the client
        bound one.
    :param instance_id: the instance the call speaks for (for example the
        ``instance_id`` argument of a conductor ``heartbeat``).
    :raises WrongInstance: when the sender's key belongs to another
        instance.
    :raises MessageAuthenticationFailed: when the bound method differs.
    """
    if not isinstance(ctxt, SecureContext):
        return
    if instance_id is not None and instance_id != ctxt.instance_id:
        raise _refuse(exceptions.WrongInstance, ctxt.instance_id,
                      ctxt.message_id,
                      "sender's key belongs to another instance than the "
                      "one the message speaks for")
    if method is not None and ctxt.method is not None \
            and method != ctxt.method:
        raise _refuse(exceptions.MessageAuthenticationFailed,
                      ctxt.instance_id, ctxt.message_id,
                      "method differs from the one sealed by the client")


def _refuse(klass, instance_id, message_id, reason):
    shown = instance_id if isinstance(instance_id, str) and \
        _INSTANCE_RE.match(instance_id) else "<invalid>"
    mid = message_id if isinstance(message_id, str) and \
        _MESSAGE_ID_RE.match(message_id) else "<invalid>"
    LOG.warning("secure RPC refused a message from instance %s "
                "(message %s): %s", shown, mid, reason)
    return klass(reason=reason, instance_id=shown, message_id=mid)


def _invalid_tag():
    from cryptography import exceptions as crypto_exc

    return crypto_exc.InvalidTag


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def _unb64(text):
    return base64.b64decode(text.encode("ascii"), validate=True)


def _aad(header):
    return json.dumps(header, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


# ----------------------------------------------------------- serializer

class _ReplayCache:
    """Message ids seen within the window, per instance."""

    def __init__(self, window):
        self.window = window
        self._seen = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, instance_id, message_id, now):
        """Remember an id; return False when it was already seen."""
        with self._lock:
            while self._seen:
                key, expiry = next(iter(self._seen.items()))
                if expiry > now:
                    break
                del self._seen[key]
            key = (instance_id, message_id)
            if key in self._seen:
                return False
            self._seen[key] = now + 2 * self.window
            return True


class _Identity:
    """Stands in for ``oslo_messaging.NoOpSerializer`` without importing it."""

    def serialize_entity(self, ctxt, entity):
        return entity

    deserialize_entity = serialize_entity

    def serialize_context(self, ctxt):
        return ctxt

    deserialize_context = serialize_context


class SecureSerializer:
    """Seal and open RPC payloads for one guest, or for the control plane.

    An ``oslo_messaging.Serializer`` (registered as a virtual subclass when
    the first one is built, so that importing this module stays cheap:
    cryptography and oslo.messaging load only when secure RPC is used).

    :param role: ``'guest'`` or ``'control'``: who this process is.
    :param instance_id: the guest's instance id; ``None`` only for a
        control-side server that serves every guest (the conductor),
        which then looks up the sender's key in *key_dir*.
    :param key: the derived key for *instance_id* (see :func:`load_key`),
        or ``None`` to read it from *key_dir*.
    :param key_dir: directory of ``<instance_id>.key`` files.
    :param replay_window: seconds; see the ``replay_window`` option.
    :param base: an optional serializer applied inside the seal.
    """

    def __init__(self, role, instance_id=None, key=None, key_dir=None,
                 replay_window=120, base=None):
        if role not in ROLES:
            raise ValueError("role must be one of %s, got %r"
                             % (ROLES, role))
        if instance_id is not None:
            check_instance_id(instance_id)
        if key is None and key_dir is None:
            raise exceptions.SecureRPCKeyError(
                instance_id=instance_id,
                reason="no key: set [secure_rpc] key_file (guest) or "
                       "key_dir (control plane)")
        import oslo_messaging
        try:
            from cryptography.hazmat.primitives.ciphers import aead
        except ImportError:
            raise exceptions.SecureRPCKeyError(
                instance_id=instance_id,
                reason="secure RPC needs the 'cryptography' package; run "
                       "pip install 'trove-core[secure]'") from None

        oslo_messaging.Serializer.register(SecureSerializer)
        self._aead = aead
        self.role = role
        self.peer = _PEER[role]
        self.instance_id = instance_id
        self.replay_window = replay_window
        self._base = base or _Identity()
        self._key_dir = key_dir
        self._keys = {}
        if key is not None:
            self._keys[instance_id] = (aead.AESGCM(key), None)
        self._invalid_tag = _invalid_tag()
        self._keys_lock = threading.Lock()
        self._replays = _ReplayCache(replay_window)
        self._local = threading.local()

    # -- keys

    def _cipher(self, instance_id, message_id=None):
        if self.instance_id is not None and instance_id != self.instance_id:
            raise _refuse(exceptions.WrongInstance, instance_id, message_id,
                          "message names an instance this process does "
                          "not serve")
        with self._keys_lock:
            entry = self._keys.get(instance_id)
            if entry is not None and entry[1] is None:
                return entry[0]  # given at construction: never reloaded
            if self._key_dir is None:
                raise exceptions.SecureRPCKeyError(
                    instance_id=instance_id, reason="no key configured")
            path = key_path(self._key_dir, instance_id)
            try:
                stamp = os.stat(path).st_mtime_ns
            except OSError:
                stamp = -1
            # A key re-created by 'trove-guest-credentials' (rotation)
            # is picked up without restarting the control plane.
            if entry is None or entry[1] != stamp:
                entry = (self._aead.AESGCM(load_key(path, instance_id)),
                         stamp)
                self._keys[instance_id] = entry
            return entry[0]

    def _seal(self, instance_id, header, value):
        nonce = secrets.token_bytes(_NONCE_BYTES)
        plain = json.dumps(value, separators=(",", ":")).encode("utf-8")
        sealed = self._cipher(instance_id).encrypt(
            nonce, plain, _aad(header))
        return _b64(nonce + sealed)

    def _open(self, instance_id, message_id, header, blob, what):
        try:
            raw = _unb64(blob)
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            plain = self._cipher(instance_id, message_id).decrypt(
                nonce, sealed, _aad(header))
        except (self._invalid_tag, ValueError, TypeError,
                AttributeError, binascii.Error):
            raise _refuse(exceptions.MessageAuthenticationFailed,
                          instance_id, message_id,
                          "%s seal did not verify (tampered, or sealed "
                          "with another guest's key)" % what) from None
        return json.loads(plain.decode("utf-8"))

    # -- outgoing requests: arguments first, then the context

    def _pending(self, ctxt):
        pending = getattr(self._local, "pending", None)
        if pending is None or pending["ctxt"] != id(ctxt):
            if self.instance_id is None:
                raise exceptions.SecureRPCKeyError(
                    instance_id=None,
                    reason="a serializer serving every instance cannot "
                           "send requests; build one per instance")
            pending = {"ctxt": id(ctxt), "mid": secrets.token_hex(16),
                       "count": 0}
            self._local.pending = pending
        return pending

    def serialize_entity(self, ctxt, entity):
        """Seal one argument of a request, or the result of a request.

        :param ctxt: the request context (a :class:`SecureContext` when
            this is the reply to a request this process received).
        :param entity: a JSON-serializable value.
        :returns: ``{"trove_sealed": "<base64>"}``.
        """
        entity = self._base.serialize_entity(ctxt, entity)
        if isinstance(ctxt, SecureContext) and ctxt._serializer is self:
            header = {"v": VERSION, "iid": ctxt.instance_id,
                      "from": self.role, "kind": "reply",
                      "mid": ctxt.message_id, "i": 0}
            return {SEAL: self._seal(ctxt.instance_id, header, entity)}
        pending = self._pending(ctxt)
        header = {"v": VERSION, "iid": self.instance_id, "from": self.role,
                  "kind": "request", "mid": pending["mid"],
                  "i": pending["count"]}
        pending["count"] += 1
        return {SEAL: self._seal(self.instance_id, header, entity)}

    def serialize_context(self, ctxt):
        """Seal a request's context; this completes the request's seal.

        :param ctxt: the request context dict.
        :returns: ``{"trove_secure_rpc": {...}}``.
        """
        pending = self._pending(ctxt)
        self._local.pending = None
        values = dict(ctxt or {})
        header = {"v": VERSION, "iid": self.instance_id, "from": self.role,
                  "kind": "context", "mid": pending["mid"],
                  "n": pending["count"], "ts": round(time.time(), 3)}
        sealed = self._seal(self.instance_id, header,
                            self._base.serialize_context(values))
        self._local.request = (id(ctxt), pending["mid"])
        return {ENVELOPE: dict(header, seal=sealed)}

    # -- incoming

    def deserialize_context(self, ctxt):
        """Open and verify a request's context.

        :param ctxt: the context as received.
        :returns: a :class:`SecureContext`.
        :raises SecureRPCError: when unsealed, forged, tampered, foreign,
            stale or replayed.
        """
        envelope = ctxt.get(ENVELOPE) if isinstance(ctxt, dict) else None
        if not isinstance(envelope, dict):
            raise _refuse(exceptions.PlaintextRefused, None, None,
                          "unsealed context while [secure_rpc] is enabled")
        instance_id = envelope.get("iid")
        message_id = envelope.get("mid")
        header = {k: envelope.get(k) for k in
                  ("v", "iid", "from", "kind", "mid", "n", "ts")}
        if (header["v"] != VERSION or header["kind"] != "context"
                or not isinstance(instance_id, str)
                or not _INSTANCE_RE.match(instance_id)
                or not isinstance(message_id, str)
                or not _MESSAGE_ID_RE.match(message_id)
                or not isinstance(header["n"], int)
                or not isinstance(header["ts"], (int, float))):
            raise _refuse(exceptions.MessageAuthenticationFailed,
                          instance_id, message_id, "malformed seal header")
        if header["from"] != self.peer:
            raise _refuse(exceptions.WrongInstance, instance_id, message_id,
                          "message comes from a %r, expected a %r"
                          % (header["from"], self.peer))
        values = self._open(instance_id, message_id, header,
                            envelope.get("seal"), "context")
        now = time.time()
        if abs(now - header["ts"]) > self.replay_window:
            raise _refuse(exceptions.MessageReplayed, instance_id,
                          message_id, "outside the %ss replay window"
                          % self.replay_window)
        if not self._replays.add(instance_id, message_id, now):
            raise _refuse(exceptions.MessageReplayed, instance_id,
                          message_id, "message id already seen")
        if not isinstance(values, dict):
            raise _refuse(exceptions.MessageAuthenticationFailed,
                          instance_id, message_id, "context is not a dict")
        values = self._base.deserialize_context(values)
        return SecureContext(values, instance_id, message_id, header["n"],
                             self)

    def deserialize_entity(self, ctxt, entity):
        """Open one argument of a received request, or a call's result.

        :param ctxt: the :class:`SecureContext` of the request, or the
            caller's own context when opening the reply to its call.
        :param entity: the sealed value.
        :returns: the value.
        :raises SecureRPCError: when unsealed or when the seal does not
            verify for this position, message, instance and direction.
        """
        if isinstance(ctxt, SecureContext) and ctxt._serializer is self:
            instance_id, message_id = ctxt.instance_id, ctxt.message_id
            index = ctxt._take_index()
            if index >= ctxt._count:
                raise _refuse(exceptions.MessageAuthenticationFailed,
                              instance_id, message_id,
                              "more arguments than were sealed")
            header = {"v": VERSION, "iid": instance_id, "from": self.peer,
                      "kind": "request", "mid": message_id, "i": index}
            what = "argument"
        else:
            request = getattr(self._local, "request", None)
            instance_id = self.instance_id
            if request is None or request[0] != id(ctxt):
                raise _refuse(exceptions.MessageAuthenticationFailed,
                              instance_id, None,
                              "reply to no request sent by this thread")
            message_id = request[1]
            header = {"v": VERSION, "iid": instance_id, "from": self.peer,
                      "kind": "reply", "mid": message_id, "i": 0}
            what = "reply"
        if not isinstance(entity, dict) or set(entity) != {SEAL}:
            raise _refuse(exceptions.PlaintextRefused, instance_id,
                          message_id, "unsealed %s while [secure_rpc] is "
                          "enabled" % what)
        value = self._open(instance_id, message_id, header, entity[SEAL],
                           what)
        return self._base.deserialize_entity(ctxt, value)


def build_serializer(conf, instance_id, role, base=None):
    """Return the payload serializer for one process, or ``None``.

    The guest calls it with its own id for its RPC server and its
    conductor reporter; the control plane calls it per guest for its
    client, or with ``instance_id=None`` for a server that hears from
    every guest (its keys then come from ``key_dir``).

    :param conf: an oslo.config ``ConfigOpts``; ``[secure_rpc]`` options
        are registered on it if needed.
    :param instance_id: the guest's instance id, or ``None`` (control).
    :param role: ``'guest'`` or ``'control'``.
    :param base: an optional serializer applied inside the seal.
    :returns: a :class:`SecureSerializer`, or ``None`` when
        ``[secure_rpc] enabled`` is false (Trove-compatible wire format).
    :raises SecureRPCKeyError: when enabled but no usable key is found.
    """
    register_opts(conf)
    if role not in ROLES:
        raise ValueError("role must be one of %s, got %r" % (ROLES, role))
    group = conf[GROUP]
    if not group.enabled:
        return None
    if role == "guest" and instance_id is None:
        raise ValueError("a guest must give its instance id")
    key = None
    if instance_id is not None:
        check_instance_id(instance_id)
        if role == "guest" or group.key_dir is None:
            if group.key_file is None:
                raise exceptions.SecureRPCKeyError(
                    instance_id=instance_id,
                    reason="[secure_rpc] enabled is true but key_file is "
                           "not set")
            key = load_key(group.key_file, instance_id)
    return SecureSerializer(role, instance_id, key=key,
                            key_dir=group.key_dir,
                            replay_window=group.replay_window, base=base)
