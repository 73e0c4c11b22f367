"""The sharded-cluster operations of Trove's mongodb cluster strategy
(:class:`trove_core.capabilities.IMongoDBCluster`).

Trove 26 prepares three kinds of members with a ``cluster_config``:

``member``
    a shard's replica set member (``replica_set_name``, e.g. ``rs1``);
    mongod runs with ``replication.replSetName`` and
    ``sharding.clusterRole: shardsvr``.
``config_server``
    mongod with ``sharding.clusterRole: configsvr`` in the replica set
    ``cfg-<cluster id>``.
``query_router``
    ``mongos``: nothing runs until ``add_config_servers`` names the
    config servers; it reports ``instance ready`` meanwhile.

Every member uses the cluster ``key`` (Trove's ``cluster_secure``) for
internal authentication: the key file holds a base64 digest of it (Trove
generates keys with characters a key file refuses), the same on every
member. Trove's taskmanager then calls, in order: ``add_config_servers``
and ``create_admin_user`` (or ``store_admin_password``) on the query
routers; ``restart`` on a shard's other members, ``prep_primary`` and
``add_members`` on its first; ``add_shard`` on a query router; and
``cluster_complete`` everywhere.

Addresses Trove sends without a port get the guest's ``port`` option
(members of one cluster listen on the same port unless they share a
host). Trove 26 never joins config servers into one replica set (it was
written for mirrored config servers): ``add_config_servers`` initiates
the set on the first config server, as the cluster's internal
``__system`` user with the shared key, when it is not initiated yet.
"""

import base64
import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import time

from trove_core import exceptions

__all__ = ["MongoClusterMember", "check_hosts", "key_file_text"]

LOG = logging.getLogger(__name__)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
_SET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CLUSTER_KEY_SECRET = "cluster_key"  # noqa: S105 - a file name
CLUSTER_ADMIN_SECRET = "cluster_admin_password"  # noqa: S105 - a file name
#: the roles the cluster's admin account gets through mongos.
_CLUSTER_ADMIN_ROLES = [{"role": "root", "db": "admin"}]
_SYNC_STATES = ("PRIMARY", "SECONDARY")


def key_file_text(key):
    """The key file contents for cluster ``key``: a base64 SHA-512 digest
    (88 characters of the key-file alphabet), the same on every member.

    :raises BadRequest: no key.
    """
    if not isinstance(key, str) or not key:
        raise exceptions.BadRequest(
            reason="cluster_config needs the cluster 'key' for internal "
            "authentication (set [mongodb] cluster_secure = True in "
            "Trove)")
    return base64.b64encode(hashlib.sha512(key.encode()).digest()).decode()


def check_hosts(hosts, default_port, what="members"):
    """``hosts`` (``host`` or ``host:port``) as ``host:port`` strings.

    :raises BadRequest: not a non-empty list of addresses.
    """
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)) or \
            not hosts:
        raise exceptions.BadRequest(
            reason="%s must be a non-empty list of addresses, got %r"
            % (what, hosts))
    result = []
    for item in hosts:
        result.append(check_host(item, default_port, what))
    return list(dict.fromkeys(result))


def check_host(item, default_port, what="address"):
    """One ``host[:port]`` as ``host:port``; refuses anything else."""
    if not isinstance(item, str):
        raise exceptions.BadRequest(
            reason="%s entry %r is not a string" % (what, item))
    host, port = item, default_port
    if item.count(":") == 1:
        host, port = item.split(":")
    ok = True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        ok = bool(_HOSTNAME.match(host))
    try:
        port = int(port)
    except ValueError:
        ok = False
    if not ok or not 0 < port < 65536:
        raise exceptions.BadRequest(
            reason="%s entry %r is not 'host' or 'host:port'"
            % (what, item))
    return "%s:%d" % (host, port)


def _check_set_name(name):
    if not isinstance(name, str) or not _SET_NAME.match(name):
        raise exceptions.BadRequest(
            reason="replica set name %r must match %s"
            % (name, _SET_NAME.pattern))
    return name


class MongoClusterMember:
    """Mixed into :class:`trove_ds_mongodb.manager.Manager`."""

    # -- role and settings --------------------------------------------------

    @property
    def cluster_role(self):
        """``member``, ``config_server``, ``query_router`` or ``None``."""
        member = self._state.get("cluster_member") or {}
        return member.get("instance_type")

    def config_set_name(self):
        """The config servers' replica set name of this cluster."""
        member = self._state.get("cluster_member") or {}
        return ("cfg-%s" % member.get("id", ""))[:64]

    def cluster_settings(self):
        """Settings the cluster role adds to mongod's or mongos's."""
        role = self.cluster_role
        if role == "member":
            return {"sharding.clusterRole": "shardsvr"}
        if role == "config_server":
            return {"sharding.clusterRole": "configsvr"}
        return {}

    def prepare_cluster(self, cluster_config):
        """Called by ``do_prepare``: keep the key, the replica set name.

        :raises BadRequest: a malformed key or replica set name.
        """
        role = cluster_config.get("instance_type") or "member"
        text = key_file_text(cluster_config.get("key"))
        if role == "member":
            set_name = _check_set_name(cluster_config.get(
                "replica_set_name"))
        elif role == "config_server":
            set_name = self.config_set_name()
        else:
            set_name = None
        self.store_secret(CLUSTER_KEY_SECRET, text)
        from trove_ds_mongodb import replication

        self.store_secret(replication.KEY_SECRET, text)
        self._write_key_file(text)
        self._save_state(replica_set=set_name)

    def _write_key_file(self, text):
        from trove_guest_base import files

        files.atomic_write(self.key_file, text, mode=0o400)
        if self.options.runner == "systemd" and os.geteuid() == 0:
            import shutil

            shutil.chown(self.key_file, self.options.service_user,
                         self.options.service_user)

    def mongos_settings(self):
        """The dotted settings of ``mongos`` on a query router."""
        config_db = self._state.get("config_db")
        return {
            "net.port": self.options.port,
            "net.bindIp": self.system_settings()["net.bindIp"],
            "systemLog.destination": "file",
            "systemLog.path": self.options.log_file,
            "systemLog.logAppend": True,
            "processManagement.fork": False,
            "sharding.configDB": config_db,
            "security.keyFile": self.key_file,
        }

    def mongos_argv(self):
        """The command line of ``mongos``."""
        return [self.options.mongos_binary, "--config",
                self.options.config_file]

    # -- helpers --------------------------------------------------------------

    def _require_role(self, operation, *roles):
        if self.cluster_role not in roles:
            raise exceptions.BadRequest(
                reason="%s runs on a %s; this guest is a %s"
                % (operation, " or ".join(roles), self.cluster_role))

    @contextlib.contextmanager
    def _internal(self, host):
        """A client of ``host`` as the cluster's internal ``__system``
        user (the key file's contents are its password)."""
        address, _, port = host.rpartition(":")
        client = self._client(
            host=address, port=int(port),
            credentials=("__system", self.load_secret(CLUSTER_KEY_SECRET)))
        try:
            yield client
        finally:
            client.close()

    def _wait_members(self, rs, hosts, timeout):
        deadline = time.monotonic() + timeout
        states = {}
        while True:
            status = rs._command({"replSetGetStatus": 1})
            states = {m["name"]: m.get("stateStr")
                      for m in status.get("members", ())}
            if all(states.get(h) in _SYNC_STATES for h in hosts):
                return states
            if time.monotonic() > deadline:
                raise exceptions.ClusterError(
                    operation="add_members", reason="members %s did not "
                    "reach PRIMARY/SECONDARY within %d s (states %s)"
                    % (hosts, timeout, states))
            time.sleep(1)

    # -- IMongoDBCluster ------------------------------------------------------

    def get_key(self):
        """See :class:`trove_core.capabilities.IMongoDBCluster`."""
        return self.load_secret(CLUSTER_KEY_SECRET)

    def get_replica_set_name(self):
        """See :class:`trove_core.capabilities.IMongoDBCluster`."""
        return self.replica_set_name

    def prep_primary(self):
        """Initiate this member's replica set with itself alone."""
        self._require_role("prep_primary", "member", "config_server")
        with self._replica_set() as rs:
            rs.initiate(self.replica_set_name, self.host)
        self.update_cluster_member(role="primary")

    def add_members(self, members):
        """On the primary: add ``members`` and wait until they sync."""
        self._require_role("add_members", "member", "config_server")
        hosts = check_hosts(members, self.options.port)
        with self._replica_set() as rs:
            rs.add(hosts)
            self._wait_members(rs, hosts, self.options.start_timeout * 5)

    def add_config_servers(self, config_servers):
        """On a query router: form the config servers' replica set if
        needed, point mongos at it and start mongos."""
        self._require_role("add_config_servers", "query_router")
        hosts = check_hosts(config_servers, self.options.port,
                            "config_servers")
        from trove_ds_mongodb import replication

        set_name = self.config_set_name()
        with self._internal(hosts[0]) as client:
            rs = replication.ReplicaSet(client)
            if rs.config() is None:
                rs._command({"replSetInitiate": {
                    "_id": set_name, "configsvr": True,
                    "members": [{"_id": i, "host": h}
                                for i, h in enumerate(hosts)]}})
        self._save_state(config_db="%s/%s" % (set_name, ",".join(hosts)))
        self._restart_with_config()

    def create_admin_user(self, password):
        """On a query router: create the cluster's admin account (the
        localhost exception allows the first one)."""
        self._require_role("create_admin_user", "query_router")
        _check_password(password)
        from trove_ds_mongodb import options as opts_mod

        with self._admin(authenticated=False) as adm:
            if adm.find_user(opts_mod.ADMIN_USER):
                adm.update_user(opts_mod.ADMIN_USER, password,
                                _CLUSTER_ADMIN_ROLES)
            else:
                adm.create_user(opts_mod.ADMIN_USER, password,
                                _CLUSTER_ADMIN_ROLES)
        self.store_admin_password(password)

    def store_admin_password(self, password):
        """Keep the cluster admin password (also the guest's admin
        account through mongos)."""
        _check_password(password)
        self.store_secret(CLUSTER_ADMIN_SECRET, password)
        if self.cluster_role == "query_router":
            self.store_secret("admin_password", password)

    def get_admin_password(self):
        """See :class:`trove_core.capabilities.IMongoDBCluster`."""
        return self.load_secret(CLUSTER_ADMIN_SECRET)

    def add_shard(self, replica_set_name, replica_set_member):
        """On a query router: add shard ``replica_set_name``."""
        self._require_role("add_shard", "query_router")
        _check_set_name(replica_set_name)
        host = check_host(replica_set_member, self.options.port,
                          "replica_set_member")
        with self._admin() as adm:
            adm.client.admin.command(
                {"addShard": "%s/%s" % (replica_set_name, host)})

    def is_shard_active(self, replica_set_name):
        """Whether shard ``replica_set_name`` is listed and active."""
        self._require_role("is_shard_active", "query_router")
        _check_set_name(replica_set_name)
        with self._admin() as adm:
            shards = adm.client.admin.command({"listShards": 1})
        return any(s.get("_id") == replica_set_name and s.get("state") == 1
                   for s in shards.get("shards", ()))


def _check_password(password):
    if not isinstance(password, str) or not password or any(
            c in password for c in "\x00\r\n"):
        raise exceptions.BadRequest(
            reason="the admin password must be a non-empty one-line "
            "string")
