"""Options of the Cassandra datastore, split into server and guest
sides."""

from oslo_config import cfg

from trove_core import options

GROUP = cfg.OptGroup("cassandra", title="Cassandra datastore",
                     help="Options of the Cassandra datastore.")

#: The superuser the guest administers the server with.
ADMIN_USER = "os_admin"
#: The superuser every new server starts with (password ``cassandra``).
DEFAULT_SUPERUSER = "cassandra"
#: The superuser ``enable_root`` creates: Trove called it ``cassandra``.
ROOT_USER = "cassandra"

_SYSTEM_USERS = [ADMIN_USER]
_SYSTEM_DBS = ["system", "system_auth", "system_traces", "system_schema",
               "system_distributed", "system_views", "system_virtual_schema"]

SERVER_OPTS = options.server_opts(
    mount_point="/var/lib/cassandra",
    tcp_ports=["7000", "7001", "7199", "9042", "9160"], usage_timeout=600,
    ignore_users=_SYSTEM_USERS, ignore_dbs=_SYSTEM_DBS)

# port: the native (CQL) protocol, on rpc_address (bind_address);
# server_binary: the launcher, run in the foreground (-f) by runner 'child';
# config_file: cassandra-rackdc.properties goes beside it;
# data_dir: the data_file_directories entry, <mount_point>/data when unset
GUEST_OPTS = options.guest_opts(
    "bind_address", "runner", "data_dir",
    mount_point="/var/lib/cassandra", backup_strategy="nodetool-snapshot",
    ignore_users=_SYSTEM_USERS, ignore_dbs=_SYSTEM_DBS,
    port=9042, systemd_unit="cassandra.service",
    server_binary=options.Renamed("cassandra", "cassandra_binary"),
    config_file="/etc/cassandra/cassandra.yaml",
    service_user="cassandra", start_timeout=300) + [
    cfg.StrOpt("listen_address", default=None,
               help="Address the other nodes reach this one at; defaults "
                    "to the address of the host name (127.0.0.1 when "
                    "bind_address is 127.0.0.1)."),
    cfg.PortOpt("storage_port", default=7000,
                help="Port of the inter-node protocol."),
    cfg.PortOpt("jmx_port", default=7199,
                help="Local JMX port nodetool talks to."),
    cfg.StrOpt("cluster_name", default="trove-cluster",
               help="Cassandra cluster_name of a single-node guest; a "
                    "cluster_config given to prepare wins."),
    cfg.ListOpt("seeds", default=[],
                help="Seed addresses; empty: this node is its own seed. A "
                     "cluster_config given to prepare wins."),
    cfg.IntOpt("num_tokens", default=16, min=1, max=256,
               help="Token ranges of this node (fixed once it bootstrapped)."),
    cfg.DictOpt("keyspace_replication",
                default={"class": "SimpleStrategy",
                         "replication_factor": "1"},
                help="Replication of the keyspaces create_database makes: "
                     "SimpleStrategy with replication_factor, or "
                     "NetworkTopologyStrategy with a factor per data "
                     "center."),
    cfg.StrOpt("nodetool_binary", default="nodetool",
               help="The nodetool executable."),
    cfg.StrOpt("max_heap_size", default=None,
               help="MAX_HEAP_SIZE of a child-run Cassandra (e.g. 512M); "
                    "unset: Cassandra's own sizing."),
]


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.cassandra.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.cassandra.guest``."""
    return [(GROUP, GUEST_OPTS)]
