"""TLS for the server's clients, with a certificate the control plane
sends (Trove guest API 1.3: ``ssl_show``, ``ssl_action``,
``ssl_rollback``).

``ssl_action(enable=True)`` checks the container (PEM ``certificate``,
``private_key`` and optional ``ca``; the key must match the
certificate), keeps the previous state for ``ssl_rollback``, writes the
files (the key 0600, owned by the service user) and renders them into
``my.cnf`` (``ssl_cert``, ``ssl_key``, ``ssl_ca``; mode ``enforced``
also sets ``require_secure_transport``). Like Trove's guest, it answers
``{"restart_required": True}`` and reports ``restart required``: the
server reads its certificate at start.
"""

import datetime
import logging
import os
import shutil

from trove_core import exceptions
from trove_core.status import ServiceStatus
from trove_guest_base import files

__all__ = ["MODES", "TLS"]

LOG = logging.getLogger(__name__)

#: Trove's ssl modes this guest can serve (``builtin`` and ``mtls`` need
#: per-user certificate rules it does not manage).
MODES = ("basic", "enforced")
_FILES = {"certificate": "server-cert.pem", "private_key": "server-key.pem",
          "ca": "ca.pem"}


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise exceptions.PluginNotFound(
            "TLS needs the 'cryptography' package; run pip install "
            "'trove-core[secure]'", name="cryptography",
            installed=[]) from None
    return x509, serialization


def certificate_details(pem):
    """Trove's ``ssl_show`` certificate fields: ``cn``, ``expire_at``,
    ``san`` and the ``payload``."""
    x509, _ser = _crypto()
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    try:
        ext = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName)
        san = ["DNS:%s" % n for n in ext.value.get_values_for_type(
            x509.DNSName)] + ["IP Address:%s" % n for n in
                              ext.value.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        san = []
    expiry = cert.not_valid_after_utc.replace(tzinfo=None)
    return {"cn": names[0].value if names else None,
            "expire_at": expiry.isoformat(), "san": san or None,
            "payload": pem}


def _check_container(container):
    x509, serialization = _crypto()
    if not isinstance(container, dict):
        raise exceptions.BadRequest(
            reason="ssl_action needs a certificate container: a dict with "
            "PEM 'certificate' and 'private_key' (and 'ca')")
    missing = [k for k in ("certificate", "private_key")
               if not container.get(k)]
    if missing:
        raise exceptions.BadRequest(
            reason="the certificate container lacks %s" % missing)
    try:
        cert = x509.load_pem_x509_certificate(
            container["certificate"].encode())
        key = serialization.load_pem_private_key(
            container["private_key"].encode(), password=None)
        if container.get("ca"):
            x509.load_pem_x509_certificates(container["ca"].encode())
    except (ValueError, TypeError) as exc:
        raise exceptions.BadRequest(
            reason="the certificate container does not hold PEM data the "
            "guest can read: %s" % exc) from None
    ours = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise exceptions.BadRequest(
            reason="the private key does not belong to the certificate")
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise exceptions.BadRequest(
            reason="the certificate expired on %s"
            % cert.not_valid_after_utc.isoformat())


class TLS:
    """The TLS state of one server.

    :param manager: the :class:`~trove_ds_mysql.manager.Manager`.
    """

    def __init__(self, manager):
        self.manager = manager
        self.server = manager.server
        self.dir = os.path.join(manager.options.mount_point, "tls")

    def paths(self, directory=None):
        """The files' paths, by container key."""
        return {k: os.path.join(directory or self.dir, v)
                for k, v in _FILES.items()}

    def overrides(self):
        """The ``[mysqld]`` settings of the current state."""
        state = self.manager.recall("tls", {})
        if not state.get("enabled"):
            return {}
        paths = self.paths()
        values = {"ssl_cert": paths["certificate"],
                  "ssl_key": paths["private_key"]}
        if state.get("has_ca"):
            values["ssl_ca"] = paths["ca"]
        if state.get("mode") == "enforced":
            values["require_secure_transport"] = "ON"
        return values

    def show(self):
        """Trove's ``ssl_show``: ``{"status": "off"}`` or ``{"status":
        "on", "mode", "certificate": {cn, expire_at, san, payload}}``,
        from what the running server uses."""
        with self.server.admin() as cur:
            cur.execute("SELECT @@global.have_ssl, @@global.ssl_cert")
            have, cert = cur.fetchone()
        if have != "YES" or not cert:
            return {"status": "off"}
        with open(cert, encoding="ascii") as handle:
            pem = handle.read()
        return {"status": "on",
                "mode": self.manager.recall("tls", {}).get("mode"),
                "certificate": certificate_details(pem)}

    def action(self, mode=None, container=None, enable=False,
               disable=False):
        """Trove's ``ssl_action``.

        :raises BadRequest: both or neither switch, an unsupported mode,
            or an unusable container; nothing was changed.
        """
        if enable == disable:
            raise exceptions.BadRequest(
                reason="ssl_action needs exactly one of enable and disable")
        if enable:
            if mode not in MODES:
                raise exceptions.BadRequest(
                    reason="ssl mode %r is not supported by the mysql "
                    "guest; use one of %s" % (mode, list(MODES)))
            _check_container(container)
        self._save_for_rollback()
        if enable:
            self._write(container)
            self.manager.remember(tls={"enabled": True, "mode": mode,
                                       "has_ca": bool(container.get("ca"))})
        else:
            self.manager.remember(tls={"enabled": False, "mode": None})
        LOG.info("TLS %s (mode %s); the server needs a restart",
                 "enabled" if enable else "disabled", mode)
        return self._restart_required()

    def rollback(self):
        """Trove's ``ssl_rollback``: back to the state before the last
        :meth:`action`.

        :raises BadRequest: there is nothing to roll back.
        """
        saved = self.manager.recall("tls_rollback")
        if not saved:
            raise exceptions.BadRequest(
                reason="there is no ssl_action to roll back")
        backup_dir = os.path.join(self.manager.state_dir, "tls-rollback")
        if saved.get("enabled"):
            for key, path in self.paths(backup_dir).items():
                if os.path.exists(path):
                    self._copy(path, self.paths()[key])
        self.manager.remember(tls=saved, tls_rollback=None)
        shutil.rmtree(backup_dir, ignore_errors=True)
        result = self._restart_required()
        result.update(status="on" if saved.get("enabled") else "off",
                      mode=saved.get("mode"))
        return result

    # -- helpers -----------------------------------------------------------

    def _restart_required(self):
        self.manager.render_config()
        self.manager.remember(restart_required=True)
        self.manager.set_status(ServiceStatus.RESTART_REQUIRED)
        return {"restart_required": True}

    def _save_for_rollback(self):
        state = dict(self.manager.recall("tls", {}) or {"enabled": False})
        backup_dir = os.path.join(self.manager.state_dir, "tls-rollback")
        shutil.rmtree(backup_dir, ignore_errors=True)
        if state.get("enabled"):
            os.makedirs(backup_dir, mode=0o700)
            for key, path in self.paths().items():
                if os.path.exists(path):
                    self._copy(path, self.paths(backup_dir)[key])
        self.manager.remember(tls_rollback=state)

    def _copy(self, source, target):
        with open(source, encoding="ascii") as handle:
            text = handle.read()
        self._put(target, text)

    def _put(self, path, text):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        files.atomic_write(path, text, mode=0o600)
        self.server.chown_tree(os.path.dirname(path))

    def _write(self, container):
        paths = self.paths()
        for key, path in paths.items():
            if container.get(key):
                self._put(path, container[key])
            elif os.path.exists(path):
                os.unlink(path)
