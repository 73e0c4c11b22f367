"""Options of the MySQL datastore, split into server and guest sides."""

from oslo_config import cfg

from trove_core import options

GROUP = cfg.OptGroup("mysql", title="MySQL datastore",
                     help="Options of the MySQL/MariaDB datastore.")

_SYSTEM_USERS = ["os_admin", "root", "mariadb.sys", "mysql.sys",
                 "mysql.session", "mysql.infoschema",
                 "mariadb_dump_import_role"]
_SYSTEM_DBS = ["mysql", "information_schema", "performance_schema", "sys"]

SERVER_OPTS = options.server_opts(
    mount_point="/var/lib/mysql",
    tcp_ports=["3306"], usage_timeout=400, ignore_users=_SYSTEM_USERS,
    ignore_dbs=_SYSTEM_DBS)

# data_dir: <mount_point>/data when unset;
# client_binary: used by logical restores
GUEST_OPTS = options.guest_opts(
    "bind_address", "runner", "data_dir", "start_timeout",
    mount_point="/var/lib/mysql", backup_strategy="mysqldump",
    replication_strategy="mysql-gtid",
    guest_log_exposed_logs=["general", "slow_query", "error"],
    ignore_users=_SYSTEM_USERS, ignore_dbs=_SYSTEM_DBS,
    port=3306, systemd_unit="mariadb.service",
    server_binary="mariadbd", client_binary="mariadb",
    config_file="/etc/mysql/my.cnf", service_user="mysql") + [
    cfg.StrOpt("run_dir", default="/var/run/mysqld",
               help="Directory of the server's socket and pid file."),
    cfg.StrOpt("log_dir", default="/var/log/mysql",
               help="Directory of the error, slow query and general "
                    "logs."),
    cfg.StrOpt("admin_user", default="os_admin",
               help="The account the guest manages the server with."),
    cfg.IntOpt("server_id", default=0, min=0, max=4294967295,
               help="Replication server id; 0 derives a stable one from "
                    "the guest's state directory."),
    cfg.StrOpt("install_db_binary", default="mariadb-install-db",
               help="The program that initializes a data directory."),
    cfg.StrOpt("dump_binary", default="mariadb-dump",
               help="The logical backup program."),
    cfg.StrOpt("backup_binary", default="mariabackup",
               help="The physical backup program."),
    cfg.StrOpt("xbstream_binary", default="mbstream",
               help="The program that unpacks xbstream archives."),
    cfg.StrOpt("galera_provider", default="",
               help="The Galera provider library; empty: the path the "
                    "cluster fragment names if it exists here, else the "
                    "first of galera-4's usual paths."),
    cfg.StrOpt("galera_address", default="",
               help="This member's address in a Galera cluster; empty: "
                    "bind_address unless it is a wildcard, else the "
                    "fragment's wsrep_node_address."),
    cfg.PortOpt("galera_port", default=4567,
                help="Galera group communication port of this member; "
                     "also the port of a peer listed without one."),
    cfg.PortOpt("galera_ist_port", default=4568,
                help="Galera incremental state transfer (IST) port."),
    cfg.PortOpt("galera_sst_port", default=4444,
                help="Galera state snapshot transfer (SST, rsync) port."),
    cfg.StrOpt("backup_tmp_dir", default=None,
               help="Scratch space for physical restores; "
                    "'<mount_point>/restore' when unset (must be on a "
                    "filesystem with room for the backup)."),
]


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.mysql.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.mysql.guest``."""
    return [(GROUP, GUEST_OPTS)]
