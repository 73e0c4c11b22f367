"""Options of the Redis datastore, split into server and guest sides."""

from oslo_config import cfg

from trove_core import options

GROUP = cfg.OptGroup("redis", title="Redis datastore",
                     help="Options of the Redis datastore.")

SERVER_OPTS = options.server_opts(
    mount_point="/var/lib/redis",
    tcp_ports=["6379", "16379"], usage_timeout=450,
    ignore_users=["default", "os_admin", "os_repl"])

# config_file: mode 0600, it holds the replication password;
# log_file: with runner 'child' the log goes to the guest's state directory;
# service_user: the server's account (Debian's redis-server package makes
# 'redis'); a guest running as root starts a child server as it
GUEST_OPTS = options.guest_opts(
    "bind_address", "start_timeout",
    mount_point="/var/lib/redis", backup_strategy="redis-rdb",
    replication_strategy="redis-sync",
    ignore_users=["default", "os_admin", "os_repl"],
    port=6379, runner="child", systemd_unit="redis-server.service",
    server_binary=options.Renamed("redis-server", "redis_server"),
    client_binary=options.Renamed("redis-cli", "redis_cli"),
    config_file="/etc/redis/redis.conf",
    log_file="/var/log/redis/redis-server.log", service_user="redis") + [
    cfg.ListOpt("save", default=["3600 1", "300 100", "60 10000"],
                help="RDB save points ('<seconds> <changes>'); empty "
                     "disables RDB snapshots between backups."),
    cfg.BoolOpt("appendonly", default=False,
                help="Enable the append-only file (AOF) persistence."),
    cfg.StrOpt("appendfsync", default="everysec",
               choices=["always", "everysec", "no"],
               help="When the AOF is flushed to disk."),
    cfg.FloatOpt("maxmemory_ratio", default=0.75, min=0.05, max=1.0,
                 help="Share of the instance memory (prepare's "
                      "memory_mb) given to Redis as maxmemory."),
    cfg.StrOpt("maxmemory_policy", default="noeviction",
               help="Eviction policy when maxmemory is reached."),
    cfg.IntOpt("replication_timeout", default=300, min=1,
               help="Seconds to wait for a replica to sync or catch up."),
    cfg.PortOpt("cluster_bus_port",
                help="Cluster bus port of a Redis Cluster member (default: "
                     "port + 10000). Members of one cluster must use the "
                     "same offset from their port: cluster_meet reaches "
                     "a peer's bus at its port plus this offset."),
    cfg.IntOpt("cluster_node_timeout", default=15000, min=100,
               help="Milliseconds a Redis Cluster member may be "
                    "unreachable before the others mark it failed "
                    "(cluster-node-timeout)."),
    cfg.IntOpt("cluster_meet_timeout", default=60, min=1,
               help="Seconds cluster_meet waits for the handshake with "
                    "the member it is given, and cluster_complete for "
                    "the cluster to serve every slot."),
    cfg.StrOpt("cluster_announce_ip",
               help="IP address a Redis Cluster member announces to the "
                    "others and returns from get_node_ip (default: what "
                    "the other members see)."),
]


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.redis.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.redis.guest``."""
    return [(GROUP, GUEST_OPTS)]
