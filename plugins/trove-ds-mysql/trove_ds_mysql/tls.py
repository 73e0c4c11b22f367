"""TLS for the server's clients, with a certificate the control plane
sends (Trove guest API 1.3: ``ssl_show``, ``ssl_action``,
``ssl_rollback``).

The shared part (checking the container, the files, the state before the
last action) is :class:`trove_guest_base.tls.CertificateState`; here the
files are rendered into ``my.cnf`` (``ssl_cert``, ``ssl_key``,
``ssl_ca``; mode ``enforced`` also sets ``require_secure_transport``)
and the status is read from the running server. Like Trove's guest,
``ssl_action`` answers ``{"restart_required": True}`` and reports
``restart required``: the server reads its certificate at start.
"""

import os

from trove_guest_base import tls

__all__ = ["MODES", "TLS"]

#: Trove's ssl modes this guest can serve (``builtin`` and ``mtls`` need
#: per-user certificate rules it does not manage).
MODES = ("basic", "enforced")


class TLS(tls.TLSOperations):
    """The TLS state of one server.

    :param manager: the :class:`~trove_ds_mysql.manager.Manager`.
    """

    def __init__(self, manager):
        self.manager = manager
        self.server = manager.server
        self.certs = tls.CertificateState(
            manager, os.path.join(manager.options.mount_point, "tls"),
            chown=self.server.chown_tree, modes=MODES)

    def overrides(self):
        """The ``[mysqld]`` settings of the current state."""
        state = self.certs.state
        if not state.get("enabled"):
            return {}
        paths = self.certs.paths()
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
        return self._shown(cert)

    def action(self, mode=None, container=None, enable=False,
               disable=False):
        """Trove's ``ssl_action``.

        :raises BadRequest: both or neither switch, an unsupported mode,
            or an unusable container; nothing was changed.
        """
        self.certs.apply(mode=mode, container=container, enable=enable,
                         disable=disable, name="the mysql guest")
        return self._restart_required()
