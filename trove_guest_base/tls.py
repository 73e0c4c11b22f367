"""TLS certificates the control plane sends (Trove guest API 1.3), the
part every datastore shares.

:class:`CertificateState` checks a container (PEM ``certificate``,
``private_key`` and optional ``ca``; the key must match the certificate;
not expired), keeps the state before the last action for
``ssl_rollback``, writes the files (0600, owned by the service user) and
remembers ``{"enabled", "mode", "has_ca"}`` in the manager's state. The
datastore renders the files into its configuration and says how it
shows its status.
"""

import datetime
import logging
import os
import shutil

from trove_core import exceptions
from trove_guest_base import files

__all__ = ["CertificateState", "TLSOperations", "certificate_details",
           "check_container"]

LOG = logging.getLogger(__name__)

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


def check_container(container):
    """Refuse a container that is not a usable certificate and key.

    :raises BadRequest: what is wrong with it.
    """
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
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(der, spki)
            != cert.public_key().public_bytes(der, spki)):
        raise exceptions.BadRequest(
            reason="the private key does not belong to the certificate")
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise exceptions.BadRequest(
            reason="the certificate expired on %s"
            % cert.not_valid_after_utc.isoformat())


class CertificateState:
    """A datastore's certificate files and TLS state.

    :param manager: the manager (``remember``/``recall`` through its
        state, ``state_dir``).
    :param directory: where the server reads its files.
    :param chown: called with ``directory`` after a write, to hand the
        files to the service user, or ``None``.
    :param modes: the Trove ssl modes the datastore serves.
    """

    def __init__(self, manager, directory, chown=None, modes=("basic",)):
        self.manager = manager
        self.dir = directory
        self.chown = chown
        self.modes = tuple(modes)

    @property
    def state(self):
        """``{"enabled", "mode", "has_ca"}`` as last set."""
        return dict(self.manager._state.get("tls") or {"enabled": False})

    def paths(self, directory=None):
        """The files' paths, by container key."""
        return {k: os.path.join(directory or self.dir, v)
                for k, v in _FILES.items()}

    def ca_path(self):
        """The CA file, or the certificate itself when none was sent."""
        paths = self.paths()
        return paths["ca"] if self.state.get("has_ca") else paths[
            "certificate"]

    def apply(self, mode=None, container=None, enable=False,
              disable=False, name="this datastore"):
        """Check and record Trove's ``ssl_action``; the caller renders
        the configuration and asks for a restart.

        :raises BadRequest: both or neither switch, a mode this datastore
            does not serve, or an unusable container; nothing changed.
        """
        if bool(enable) == bool(disable):
            raise exceptions.BadRequest(
                reason="ssl_action needs exactly one of enable and disable")
        if enable:
            if mode not in self.modes:
                raise exceptions.BadRequest(
                    reason="ssl mode %r is not supported by %s; use one of "
                    "%s" % (mode, name, list(self.modes)))
            check_container(container)
        self._save_for_rollback()
        if enable:
            self._write(container)
            self._remember(tls={"enabled": True, "mode": mode,
                                "has_ca": bool(container.get("ca"))})
        else:
            self._remember(tls={"enabled": False, "mode": None})
        LOG.info("TLS %s (mode %s); the server needs a restart",
                 "enabled" if enable else "disabled", mode)

    def rollback(self):
        """Go back to the state before the last :meth:`apply`.

        :returns: that state.
        :raises BadRequest: there is nothing to roll back.
        """
        saved = self.manager._state.get("tls_rollback")
        if not saved:
            raise exceptions.BadRequest(
                reason="there is no ssl_action to roll back")
        backup_dir = self._rollback_dir()
        if saved.get("enabled"):
            for key, path in self.paths(backup_dir).items():
                if os.path.exists(path):
                    self._copy(path, self.paths()[key])
        self._remember(tls=saved, tls_rollback=None)
        shutil.rmtree(backup_dir, ignore_errors=True)
        return saved

    # -- helpers -----------------------------------------------------------

    def _remember(self, **changes):
        self.manager._save_state(**changes)

    def _rollback_dir(self):
        return os.path.join(self.manager.state_dir, "tls-rollback")

    def _save_for_rollback(self):
        state = self.state
        backup_dir = self._rollback_dir()
        shutil.rmtree(backup_dir, ignore_errors=True)
        if state.get("enabled"):
            os.makedirs(backup_dir, mode=0o700)
            for key, path in self.paths().items():
                if os.path.exists(path):
                    self._copy(path, self.paths(backup_dir)[key])
        self._remember(tls_rollback=state)

    def _copy(self, source, target):
        with open(source, encoding="ascii") as handle:
            self._put(target, handle.read())

    def _put(self, path, text):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        files.atomic_write(path, text, mode=0o600)
        if self.chown is not None and os.path.dirname(path) == self.dir:
            self.chown(self.dir)

    def _write(self, container):
        for key, path in self.paths().items():
            if container.get(key):
                self._put(path, container[key])
            elif os.path.exists(path):
                os.unlink(path)


class TLSOperations:
    """What Trove's ``ssl_show``, ``ssl_action`` and ``ssl_rollback`` share
    in every plugin: a subclass sets ``self.certs`` (a
    :class:`CertificateState`) and implements ``show`` and ``action``; a
    change takes effect on the restart it reports.

    :param manager: the plugin's manager (``render_config``,
        ``set_status``).
    """

    def __init__(self, manager):
        self.manager = manager

    def rollback(self):
        """Trove's ``ssl_rollback``: back to the state before the last
        ``action``.

        :raises BadRequest: there is nothing to roll back.
        """
        saved = self.certs.rollback()
        result = self._restart_required()
        result.update(status="on" if saved.get("enabled") else "off",
                      mode=saved.get("mode"))
        return result

    def _shown(self, cert_path):
        """``ssl_show``'s answer for the certificate a server serves."""
        with open(cert_path, encoding="ascii") as handle:
            pem = handle.read()
        return {"status": "on", "mode": self.certs.state.get("mode"),
                "certificate": certificate_details(pem)}

    def _restart_required(self):
        from trove_core.status import ServiceStatus

        self.manager.render_config()
        self.manager._save_state(restart_required=True)
        self.manager.set_status(ServiceStatus.RESTART_REQUIRED)
        return {"restart_required": True}
