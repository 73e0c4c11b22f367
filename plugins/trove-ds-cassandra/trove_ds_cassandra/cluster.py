"""The Cassandra ring operations of Trove's cassandra cluster strategy
(:class:`trove_core.capabilities.ICassandraCluster`).

Trove's taskmanager (``cluster/experimental/cassandra/taskmanager.py``)
creates a ring by choosing seeds, sending ``set_seeds`` to every node,
``set_auto_bootstrap`` off for the founders, restarting them one at a
time, securing the ring on one node (``cluster_secure``) and handing its
credentials to the others (``store_admin_credentials``), then
``cluster_complete``. It grows a ring with ``set_seeds`` and
``set_auto_bootstrap(True)`` on the new nodes, then
``node_cleanup_begin``/``node_cleanup`` on the old ones; it shrinks one
with ``node_decommission`` on the leaving nodes.

Seeds, data center, rack and auto-bootstrap are kept in the guest's state
(``cluster`` key) and rendered into ``cassandra.yaml`` for the next start;
the admin credentials live in the guest's 0600 secret file only.
``nodetool`` runs with a time limit, against the local node's JMX port.
"""

import ipaddress
import logging
import re

from trove_core import exceptions

__all__ = ["CassandraClusterMember", "check_seeds"]

LOG = logging.getLogger(__name__)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
#: nodetool cleanup and decommission stream data: generous, but bounded.
NODETOOL_LONG_TIMEOUT = 6 * 3600


def _address(value):
    if not isinstance(value, str):
        return False
    host, _sep, port = value.rpartition(":") if (
        value.count(":") == 1) else (value, "", "")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


def check_seeds(seeds):
    """Return ``seeds`` as a list of addresses (``host`` or
    ``host:port``).

    :raises BadRequest: not a non-empty list of addresses; the bad entry
        is named.
    """
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise exceptions.BadRequest(
            reason="seeds must be a non-empty list of node addresses, got "
            "%r" % (seeds,))
    for seed in seeds:
        if not _address(seed):
            raise exceptions.BadRequest(
                reason="seed %r is not an IP address or host name "
                "(optionally with ':port')" % (seed,))
    return list(dict.fromkeys(seeds))


class CassandraClusterMember:
    """Mixed into :class:`trove_ds_cassandra.manager.Manager`."""

    def _update_cluster(self, **changes):
        settings = dict(self._cluster_settings())
        settings.update(changes)
        self._save_state(cluster=settings)
        self._write_rendered()

    def get_data_center(self):
        """See :class:`trove_core.capabilities.ICassandraCluster`."""
        return self._cluster_settings().get("dc") or "dc1"

    def get_rack(self):
        """See :class:`trove_core.capabilities.ICassandraCluster`."""
        return self._cluster_settings().get("rack") or "rack1"

    def set_seeds(self, seeds):
        """Use ``seeds`` from the next start on."""
        self._update_cluster(seeds=check_seeds(seeds))

    def get_seeds(self):
        """The seeds this node uses (its own address alone when none
        were set)."""
        seeds = self._cluster_settings().get("seeds") or \
            self.options.seeds
        return list(seeds or [self.listen_address])

    def set_auto_bootstrap(self, enabled):
        """Whether the node streams its ranges when it next joins."""
        if not isinstance(enabled, bool):
            raise exceptions.BadRequest(
                reason="set_auto_bootstrap: 'enabled' must be true or "
                "false, got %r" % (enabled,))
        self._update_cluster(auto_bootstrap=enabled)

    def node_cleanup_begin(self):
        """Record that a cleanup is about to run (Trove casts
        ``node_cleanup`` next)."""
        self.update_cluster_member(cleanup="pending")

    def node_cleanup(self):
        """``nodetool cleanup``: drop the ranges this node lost."""
        self.update_cluster_member(cleanup="running")
        self._nodetool_long("cleanup")
        self.update_cluster_member(cleanup="done")

    def node_decommission(self):
        """``nodetool decommission``: stream this node's ranges to the
        others and leave the ring; the node is then stopped."""
        self.update_cluster_member(role="decommissioning")
        self._nodetool_long("decommission")
        self.update_cluster_member(role="decommissioned")
        self.do_stop()

    def _nodetool_long(self, *args):
        from trove_ds_cassandra import backup as backup_mod

        backup_mod.NodetoolSnapshot(self).nodetool(
            *args, timeout=NODETOOL_LONG_TIMEOUT)

    def cluster_secure(self, password):
        """Give the ring's admin account ``password`` (the roles
        replicate through ``system_auth``); return its credentials."""
        from trove_ds_cassandra import cql
        from trove_ds_cassandra import options as opts_mod

        _check_password(password)
        with self._admin() as session:
            cql.execute(session, cql.alter_password(
                opts_mod.ADMIN_USER, password,
                hashed=self.hashed_passwords))
        self.store_secret("admin_password", password)
        return {"username": opts_mod.ADMIN_USER, "password": password}

    def get_admin_credentials(self):
        """The ring's admin credentials stored on this node."""
        from trove_ds_cassandra import options as opts_mod

        return {"username": opts_mod.ADMIN_USER,
                "password": self.admin_password()}

    def store_admin_credentials(self, admin_credentials):
        """Keep credentials another node created (``cluster_secure``)."""
        from trove_ds_cassandra import options as opts_mod

        if not isinstance(admin_credentials, dict) or set(
                admin_credentials) != {"username", "password"}:
            raise exceptions.BadRequest(
                reason="admin_credentials must be {'username', "
                "'password'}")
        if admin_credentials["username"] != opts_mod.ADMIN_USER:
            raise exceptions.BadRequest(
                reason="admin_credentials are for %r; this guest manages "
                "the ring as %r" % (admin_credentials["username"],
                                    opts_mod.ADMIN_USER))
        _check_password(admin_credentials["password"])
        self.store_secret("admin_password", admin_credentials["password"])


def _check_password(password):
    if not isinstance(password, str) or not password or any(
            c in password for c in "\x00\r\n"):
        raise exceptions.BadRequest(
            reason="the admin password must be a non-empty one-line "
            "string")
