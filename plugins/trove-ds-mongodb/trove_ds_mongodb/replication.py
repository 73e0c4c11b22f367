"""The ``mongodb-replset`` replication strategy: replica sets.

A replica set shares one user database: a member that joins takes the
primary's users, so the guest of a new member is handed the primary's
admin credentials and the set's internal key (``security.keyFile``) in
the replication snapshot. Those travel in the RPC payload, as Trove's
MySQL replication credentials did: turn secure RPC on.

The membership changes are computed on the replica set configuration
document by pure functions (:func:`add_members`, :func:`remove_members`)
and applied with ``replSetReconfig``.
"""

import contextlib
import copy
import logging
import os
import secrets

from trove_core import exceptions
from trove_ds_mongodb import admin
from trove_ds_mongodb.options import ADMIN_USER
from trove_guest_base import backup

__all__ = ["ReplicaSet", "ReplicaSetStrategy", "ReplicationOperations",
           "add_members",
           "generate_key", "initiate_command", "remove_members"]

LOG = logging.getLogger(__name__)

#: The name of the guest's secret file holding the set's key.
KEY_SECRET = "replica_set_key"  # noqa: S105 (a file name)

#: The keyfile alphabet MongoDB accepts (base64 characters).
_KEY_ALPHABET = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 "0123456789+/")


def generate_key(length=756):
    """Return a new replica set key (6 to 1024 base64 characters)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))


def initiate_command(name, host):
    """The ``replSetInitiate`` document of a one-member set."""
    return {"replSetInitiate": {"_id": name,
                                "members": [{"_id": 0, "host": host}]}}


def add_members(config, hosts):
    """Return ``config`` with ``hosts`` added (present ones are kept).

    :param config: the document ``replSetGetConfig`` returned.
    :param hosts: ``host:port`` strings.
    :returns: the new configuration, its ``version`` raised by one.
    """
    new = copy.deepcopy(config)
    members = new.setdefault("members", [])
    known = {m["host"] for m in members}
    next_id = max((m["_id"] for m in members), default=-1) + 1
    for host in hosts:
        if host in known:
            continue
        members.append({"_id": next_id, "host": host})
        known.add(host)
        next_id += 1
    new["version"] = new.get("version", 0) + 1
    return new


def remove_members(config, hosts):
    """Return ``config`` without ``hosts``.

    :raises BadRequest: removing them would leave no member.
    """
    new = copy.deepcopy(config)
    drop = set(hosts)
    kept = [m for m in new.get("members", []) if m["host"] not in drop]
    if not kept:
        raise exceptions.BadRequest(
            reason="removing %s would leave replica set %r without members"
            % (sorted(drop), new.get("_id")))
    new["members"] = kept
    new["version"] = new.get("version", 0) + 1
    return new


class ReplicaSetStrategy(backup.ReplicationStrategy):
    """The ``mongodb-replset`` replication strategy: members of one
    replica set. Its operations run through :class:`ReplicaSet` on a
    client of the manager; the manager's ``IReplication`` methods
    (:class:`ReplicationOperations`) drive them.

    :param manager: the :class:`~trove_ds_mongodb.manager.Manager`.
    """

    name = "mongodb-replset"

    @contextlib.contextmanager
    def replica_set(self, host=None, credentials=None):
        """A :class:`ReplicaSet` on this server, or on ``host``
        (``address:port``) with ``credentials``; closed on exit."""
        if host:
            address, _, port = host.rpartition(":")
            client = self.manager._client(host=address, port=int(port),
                                          credentials=credentials)
        else:
            client = self.manager._client()
        try:
            yield ReplicaSet(client)
        finally:
            client.close()


class ReplicaSet:
    """Replica set operations through a connected admin client.

    :param client: a ``pymongo.MongoClient`` connected to a member (the
        primary for membership changes).
    """

    def __init__(self, client):
        self.client = client

    def _command(self, document, **kwargs):
        return self.client.admin.command(document, **kwargs)

    def initiate(self, set_name, host):
        """Start replica set ``set_name`` with this server as its only
        member (already initiated: nothing happens)."""
        if self.config() is not None:
            LOG.info("replica set %s is already initiated", set_name)
            return
        self._command(initiate_command(set_name, host))

    def config(self):
        """The replica set configuration, or ``None`` when not
        initiated."""
        from pymongo import errors

        try:
            return self._command({"replSetGetConfig": 1})["config"]
        except errors.OperationFailure as exc:
            # NotYetInitialized (94) or started without --replSet (76)
            if exc.code in (76, 94):
                return None
            raise

    def reconfigure(self, new_config):
        """Apply a configuration computed from :meth:`config`."""
        self._command({"replSetReconfig": new_config})

    def add(self, hosts):
        """Add ``hosts`` to the set (run on the primary)."""
        self.reconfigure(add_members(self._require_config(), hosts))

    def remove(self, hosts):
        """Remove ``hosts`` from the set (run on the primary)."""
        self.reconfigure(remove_members(self._require_config(), hosts))

    def _require_config(self):
        config = self.config()
        if config is None:
            raise exceptions.BadRequest(
                reason="this server is not in an initiated replica set; "
                "initiate it first")
        return config

    def step_down(self, seconds=60):
        """Make the primary step down for ``seconds``."""
        from pymongo import errors

        try:
            self._command({"replSetStepDown": int(seconds)})
        except errors.AutoReconnect:
            # the primary closes client connections as it steps down
            LOG.info("primary stepped down")

    def step_up(self):
        """Ask this secondary to become primary."""
        self._command({"replSetStepUp": 1})

    def is_primary(self):
        """Whether this server is the writable primary."""
        reply = self._command({"hello": 1})
        return bool(reply.get("isWritablePrimary", reply.get("ismaster")))

    def applied_optime(self):
        """The timestamp of the last operation applied here, as
        ``(seconds, increment)``."""
        status = self._command({"replSetGetStatus": 1})
        for member in status.get("members", ()):
            if member.get("self"):
                ts = member["optime"]["ts"]
                return ts.time, ts.inc
        raise exceptions.DatastoreError(
            operation="replSetGetStatus",
            reason="this server is not listed as a member of its set")


class ReplicationOperations:
    """The replication operations of the manager (``IReplication``);
    mixed into :class:`~trove_ds_mongodb.manager.Manager`, whose options,
    clients, secrets and restart they use."""

    def _replica_set(self, host=None, credentials=None):
        strategy = self.__dict__.get("_replication_strategy")
        if strategy is None:
            strategy = backup.load_strategy(self, "replication")
            self._replication_strategy = strategy
        return strategy.replica_set(host, credentials)

    def _join_set(self, set_name, key):
        """Configure this server as a member of ``set_name`` and restart
        it with the set's key."""
        from trove_guest_base import files

        files.atomic_write(self.key_file, key, mode=0o400)
        if self.options.runner == "systemd" and os.geteuid() == 0:
            import shutil

            shutil.chown(self.key_file, self.options.service_user,
                         self.options.service_user)
        self.store_secret(KEY_SECRET, key)
        self._save_state(replica_set=set_name)
        self._restart_with_config()

    def backup_required_for_replication(self):
        """No: a new member copies the data by initial sync."""
        return False

    def get_replica_context(self):
        """What a new member needs: the primary's address, the set's name
        and key, and the admin account every member shares."""
        user, password = self.admin_credentials()
        return {"host": self.host, "replica_set": self.replica_set_name,
                "key": self.load_secret(KEY_SECRET),
                "admin_user": user, "admin_password": password}

    def get_replication_snapshot(self, snapshot_info,
                                 replica_source_config=None):
        """Make this server the primary of a replica set (initiating it
        when needed) and return the snapshot a member joins with."""
        self.enable_as_master(replica_source_config)
        return {"dataset": {"snapshot_id": None},
                "replication_strategy": "mongodb-replset",
                "master": self.get_replica_context()}

    def enable_as_master(self, replica_source_config):
        """Initiate the replica set with this server, or make this
        member primary."""
        if not self.replica_set_name or not self.load_secret(KEY_SECRET):
            name = self.replica_set_name or "rs-%s" % self.generate_password(
                12).lower()
            self._join_set(name, generate_key())
        from trove_guest_base import net

        with self._replica_set() as rs:
            if rs.config() is None:
                rs.initiate(self.replica_set_name, self.host)
            elif not rs.is_primary():
                rs.step_up()
            net.wait_until(rs.is_primary, self.options.start_timeout,
                           "this server to become primary of %s"
                           % self.replica_set_name, interval=0.5)

    def attach_replica(self, replica_info, slave_config, restart=False):
        """Join the replica set of the primary in ``replica_info`` (a
        snapshot or its ``master`` part)."""
        master = replica_info.get("master", replica_info)
        for key in ("host", "replica_set", "key", "admin_password"):
            if not master.get(key):
                raise exceptions.BadRequest(
                    reason="replica_info lacks %r; pass the snapshot "
                    "get_replication_snapshot returned" % key)
        default_user = admin.split_user(ADMIN_USER)[1]
        credentials = (master.get("admin_user", default_user),
                       master["admin_password"])
        self._save_state(primary=master["host"])
        self._join_set(master["replica_set"], master["key"])
        with self._replica_set(master["host"], credentials) as rs:
            rs.add([self.host])
        # the set's users replace this server's own after initial sync
        self.store_secret(admin.ADMIN_SECRET, master["admin_password"])

    def detach_replica(self, for_failover=False):
        """Leave the replica set (removed by the primary) and run
        standalone again."""
        primary = self._state.get("primary")
        context = {"primary": primary, "replica_set": self.replica_set_name}
        if primary and not for_failover:
            with self._replica_set(primary) as rs:
                rs.remove([self.host])
        self._save_state(replica_set=None, primary=None)
        self._restart_with_config()
        # a standalone server keeps the set's configuration and oplog in
        # 'local'; dropping it lets this server start a set of its own
        with self._admin() as adm:
            adm.client.drop_database("local")
        return context

    def make_read_only(self, read_only):
        """Refuse writes (``fsyncLock``) or accept them again."""
        if read_only:
            self.pre_create_backup()
        else:
            self.post_create_backup()

    def get_last_txn(self):
        """``(replica set, "seconds.increment")`` of the last applied
        operation."""
        return self.replica_set_name, self.get_latest_txn_id()

    def get_latest_txn_id(self):
        """The optime of the last operation applied here."""
        with self._replica_set() as rs:
            seconds, inc = rs.applied_optime()
        return "%d.%d" % (seconds, inc)

    def wait_for_txn(self, txn):
        """Wait until optime ``txn`` ("seconds.increment") is applied."""
        from trove_guest_base import net

        want = tuple(int(p) for p in str(txn).split("."))

        def applied():
            with self._replica_set() as rs:
                return rs.applied_optime() >= want
        net.wait_until(applied, self.options.start_timeout,
                       "optime %s to be applied" % txn)

    def demote_replication_master(self):
        """Make this primary step down."""
        with self._replica_set() as rs:
            rs.step_down()
