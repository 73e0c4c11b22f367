"""The ``redis-sync`` replication strategy: ``REPLICAOF`` with ACL
authentication.

A primary keeps a replication ACL user ``os_repl`` allowed only the
commands a replica sends (``PSYNC``, ``REPLCONF``, ``PING``); its password
is a 0600 secret and is handed to replicas in the replica context. A
replica authenticates with ``masteruser``/``masterauth`` and follows the
primary with ``REPLICAOF``; both are written to redis.conf (0600) so a
restart keeps following. Redis seeds a new replica itself with a full
sync, so no backup is needed.

Transactions are replication offsets: ``master_repl_offset`` on a
primary, the processed offset on a replica. A replica has caught up with
offset ``n`` once its own offset reaches ``n`` while it follows the same
replication id.

ACL users are not replicated by Redis: each server keeps its own.

Registered as ``redis-sync`` in
``trove.guestagent.replication_strategies``.
"""

import logging
import re

from trove_core import exceptions
from trove_ds_redis import manager as manager_mod
from trove_ds_redis import users as acl
from trove_guest_base import backup

__all__ = ["RedisSyncReplication"]

LOG = logging.getLogger(__name__)

_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
_REPLICA_COMMANDS = ("+psync", "+replconf", "+ping")


class RedisSyncReplication(backup.ReplicationStrategy):
    """Primary/replica replication of one Redis server.

    :param manager: the :class:`~trove_ds_redis.manager.Manager`.
    """

    name = "redis-sync"

    def backup_required(self):
        """Redis seeds replicas with a full sync: ``False``."""
        return False

    def _ensure_replication_user(self, client):
        password = self.manager.load_secret("replication_password")
        if not password:
            password = self.manager.generate_password()
            self.manager.store_secret("replication_password", password)
        client.execute_command(
            "ACL", "SETUSER", manager_mod.REPLICATION_USER, "reset", "on",
            acl.password_rule(password), *_REPLICA_COMMANDS)
        client.execute_command("ACL", "SAVE")
        return password

    def context(self):
        """Return what a replica needs to follow this server:
        ``{"master": {"host", "port", "username", "password"},
        "replication_strategy", "log_position"}``."""
        client = self.manager.client()
        password = self._ensure_replication_user(client)
        info = client.info("replication")
        return {
            "replication_strategy": self.name,
            "master": {"host": self.manager.host,
                       "port": self.manager.options.port,
                       "username": manager_mod.REPLICATION_USER,
                       "password": password},
            "log_position": {"replid": info["master_replid"],
                             "offset": info["master_repl_offset"]},
        }

    def snapshot(self, snapshot_info):
        """Trove's replication snapshot: no dataset (Redis syncs), the
        replica context as ``master``."""
        context = self.context()
        return {"dataset": {"snapshot_id": None, "dataset_size": 0},
                "snapshot_id": None, **context}

    @staticmethod
    def _master(replica_info):
        master = (replica_info or {}).get("master")
        if not isinstance(master, dict):
            raise exceptions.BadRequest(
                reason="replica_info needs a 'master' mapping with host, "
                "port, username and password")
        host, port = master.get("host"), master.get("port")
        if not isinstance(host, str) or not _HOST.fullmatch(host):
            raise exceptions.InvalidIdentifier(
                kind="host", value=host,
                reason="expected a host name or IP address")
        if isinstance(port, bool) or not isinstance(port, int) or not (
                0 < port < 65536):
            raise exceptions.BadRequest(
                reason="master port must be 1-65535, got %r" % (port,))
        username = master.get("username") or manager_mod.REPLICATION_USER
        from trove_ds_redis import users

        users.check_user_name(username)
        password = users.check_password(master.get("password"),
                                        "replication")
        return host, port, username, password

    def attach(self, replica_info, timeout=None):
        """Follow the primary in ``replica_info["master"]`` and wait until
        the link is up (the initial sync done).

        :raises BadRequest: malformed ``replica_info``.
        :raises DatastoreError: the link did not come up in time (wrong
            password, unreachable primary...).
        """
        host, port, username, password = self._master(replica_info)
        mgr = self.manager
        client = mgr.client()
        client.config_set("masteruser", username)
        client.config_set("masterauth", password)
        client.execute_command("REPLICAOF", host, str(port))
        mgr.set_replica_source({"host": host, "port": port,
                                "username": username}, password)
        LOG.info("following Redis primary %s:%d as %r", host, port,
                 username)

        def linked():
            info = client.info("replication")
            return (info.get("master_link_status") == "up"
                    and not info.get("master_sync_in_progress"))

        try:
            mgr.wait_for(linked, "replication link to %s:%d" % (host, port),
                      timeout or mgr.options.replication_timeout)
        except exceptions.TroveError as exc:
            raise exceptions.DatastoreError(
                operation="attach_replica", reason="%s; the replica keeps "
                "retrying; check the primary's address and the "
                "replication password" % exc) from None
        return self.last_txn()

    def detach(self):
        """Stop following; keep the data; return the former primary's
        address (without its password)."""
        mgr = self.manager
        former = mgr.replica_source
        client = mgr.client()
        client.execute_command("REPLICAOF", "NO", "ONE")
        client.config_set("masteruser", "")
        client.config_set("masterauth", "")
        mgr.set_replica_source(None)
        LOG.info("stopped following a Redis primary")
        return {"master": former}

    def promote(self):
        """Act as a primary: stop following, accept writes, be ready to
        serve replicas."""
        if self.manager.replica_source:
            self.detach()
        self.read_only(False)
        self._ensure_replication_user(self.manager.client())

    def demote(self):
        """Stop serving replicas: drop the replication user, which closes
        the replicas' links."""
        client = self.manager.client()
        client.execute_command("ACL", "DELUSER",
                               manager_mod.REPLICATION_USER)
        client.execute_command("ACL", "SAVE")
        self.manager.store_secret("replication_password", "")

    def read_only(self, read_only):
        """Pause client writes (they wait, reads go on) or resume them;
        a replica is read-only anyway (``replica-read-only``)."""
        client = self.manager.client()
        if read_only:
            client.execute_command("CLIENT", "PAUSE", 24 * 3600 * 1000,
                                   "WRITE")
        else:
            client.execute_command("CLIENT", "UNPAUSE")

    def last_txn(self):
        """Return ``(replication id, offset)`` this server has applied."""
        info = self.manager.client().info("replication")
        if info.get("role") == "slave":
            return (info.get("master_replid"),
                    int(info.get("slave_repl_offset",
                                 info["master_repl_offset"])))
        return info["master_replid"], int(info["master_repl_offset"])

    def wait_for_offset(self, txn, timeout=None):
        """Block until this server has applied offset ``txn`` (an int, or
        a ``(replid, offset)`` pair or a ``log_position`` dict).

        :raises BadRequest: ``txn`` is not an offset.
        :raises DatastoreError: it did not catch up in time.
        """
        if isinstance(txn, dict):
            txn = txn.get("offset")
        elif isinstance(txn, (list, tuple)):
            txn = txn[-1]
        if isinstance(txn, bool) or not isinstance(txn, int):
            raise exceptions.BadRequest(
                reason="a Redis transaction is a replication offset (an "
                "integer), got %r" % (txn,))
        mgr = self.manager
        try:
            mgr.wait_for(lambda: self.last_txn()[1] >= txn,
                      "replication offset %d" % txn,
                      timeout or mgr.options.replication_timeout)
        except exceptions.TroveError as exc:
            raise exceptions.DatastoreError(
                operation="wait_for_txn", reason=str(exc)) from None
        return self.last_txn()
