"""TLS for Redis clients, with a certificate the control plane sends
(Trove guest API 1.3: ``ssl_show``, ``ssl_action``, ``ssl_rollback``).

Redis serves one port: with TLS on, ``tls-port`` takes the guest's port
and the plain ``port`` is closed, so every client, the guest's own
included, speaks TLS: Trove's mode ``enforced``, the only one offered
(``basic`` would mean plain clients still welcome). Client certificates
are not asked for (``tls-auth-clients no``). A replica does not take
TLS: replication between TLS and plain servers is not managed.
"""

import os

from trove_core import exceptions
from trove_guest_base import process
from trove_guest_base import tls

__all__ = ["MODES", "TLS"]

MODES = ("enforced",)


class TLS(tls.TLSOperations):
    """The TLS state of one Redis server.

    :param manager: the :class:`~trove_ds_redis.manager.Manager`.
    """

    def __init__(self, manager):
        self.manager = manager
        # beside the data, given to the user redis-server runs as (the
        # guest's state directory holds its secrets: redis never reads it)
        self.certs = tls.CertificateState(
            manager, os.path.join(manager.data_dir, "tls"),
            chown=self._hand_over, modes=MODES)

    def _hand_over(self, directory):
        process.hand_over(self.manager.service_owner, [directory])

    def managed(self):
        """The ``redis.conf`` keys of the current state."""
        if not self.certs.state.get("enabled"):
            return {}
        paths = self.certs.paths()
        return {"port": 0, "tls-port": self.manager.options.port,
                "tls-cert-file": paths["certificate"],
                "tls-key-file": paths["private_key"],
                "tls-ca-cert-file": self.certs.ca_path(),
                "tls-auth-clients": "no"}

    def client_kwargs(self):
        """``redis.Redis`` arguments for the TLS the server runs with."""
        if not self.manager._state.get("tls_live"):
            return {}
        return {"ssl": True, "ssl_ca_certs": self.certs.ca_path(),
                "ssl_cert_reqs": "required", "ssl_check_hostname": False}

    def show(self):
        """Trove's ``ssl_show`` from the running server."""
        client = self.manager.client()
        port = client.config_get("tls-port").get("tls-port", "0")
        cert = client.config_get("tls-cert-file").get("tls-cert-file")
        if port in ("0", "") or not cert:
            return {"status": "off"}
        return self._shown(cert)

    def action(self, mode=None, container=None, enable=False,
               disable=False):
        """Trove's ``ssl_action``.

        :raises BadRequest: a replica or cluster member, both or neither
            switch, a mode other than ``enforced``, or an unusable
            container; nothing was changed.
        """
        if enable and self.manager.replica_source:
            raise exceptions.BadRequest(
                reason="this redis server is a replica; detach it before "
                "switching TLS on")
        if enable and self.manager.is_cluster_member:
            # the cluster bus and every peer would need TLS too
            raise exceptions.BadRequest(
                reason="this redis server is a Redis Cluster member; TLS "
                "is managed for single servers only")
        self.certs.apply(mode=mode, container=container, enable=enable,
                         disable=disable, name="the redis guest (one "
                         "port: TLS there is for every client)")
        return self._restart_required()
