"""Options of the MongoDB datastore, split into server and guest sides."""

from oslo_config import cfg

from trove_core import options

GROUP = cfg.OptGroup("mongodb", title="MongoDB datastore",
                     help="Options of the MongoDB datastore.")

#: The account the guest administers the server with (``<db>.<user>``).
ADMIN_USER = "admin.os_admin"
#: The superuser ``enable_root`` creates, as Trove named it.
ROOT_USER = "admin.root"

_SYSTEM_USERS = [ADMIN_USER, ROOT_USER]
_SYSTEM_DBS = ["admin", "local", "config"]

SERVER_OPTS = options.server_opts(
    mount_point="/var/lib/mongodb",
    tcp_ports=["2500", "27017", "27019"], usage_timeout=450,
    ignore_users=_SYSTEM_USERS, ignore_dbs=_SYSTEM_DBS)

# bind_address: mongod also listens on 127.0.0.1, which the guest uses;
# data_dir: storage.dbPath, <mount_point> when unset;
# log_file: systemLog.path
GUEST_OPTS = options.guest_opts(
    "bind_address", "runner", "data_dir", "start_timeout",
    mount_point="/var/lib/mongodb", backup_strategy="mongodump",
    replication_strategy="mongodb-replset",
    ignore_users=_SYSTEM_USERS, ignore_dbs=_SYSTEM_DBS,
    port=27017, systemd_unit="mongod.service",
    server_binary=options.Renamed("mongod", "mongod_binary"),
    config_file="/etc/mongod.conf",
    log_file="/var/log/mongodb/mongod.log", service_user="mongodb") + [
    cfg.StrOpt("mongodump_binary", default="mongodump",
               help="The mongodump executable used by backups."),
    cfg.StrOpt("mongorestore_binary", default="mongorestore",
               help="The mongorestore executable used by restores."),
    cfg.StrOpt("mongos_binary", default="mongos",
               help="The query router executable (a cluster's "
                    "query_router members run it)."),
    cfg.StrOpt("replica_set_name", default=None,
               help="The replica set this server belongs to; set by the "
                    "replication strategy, or here for a fixed one."),
]


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.mongodb.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.mongodb.guest``."""
    return [(GROUP, GUEST_OPTS)]
