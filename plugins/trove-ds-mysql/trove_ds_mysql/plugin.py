"""Descriptor of the MySQL/MariaDB datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="mysql",
    tier="stable",
    summary="MySQL and MariaDB servers",
    capabilities=frozenset({
        "lifecycle", "databases", "users", "access", "root", "backup",
        "replication", "configuration", "guest_logs", "cluster",
        "cluster_galera"}),
    engine_versions=("10.11", "10.6", "8.0"),
    strategies=(
        Strategy("mysqldump", "backup", "stable",
                 "logical, consistent, streamed with mysqldump"),
        Strategy("mariabackup", "backup", "stable",
                 "physical, full and incremental, with mariabackup"),
        Strategy("mysql-gtid", "replication", "stable",
                 "GTID replication between a primary and replicas"),
        Strategy("galera", "cluster", "experimental",
                 "multi-primary Galera cluster (MariaDB + galera-4), "
                 "Trove's galera_common"),
    ),
    image=ImageSpec(
        supported_os=(
            OSSupport("debian-12", ("mariadb-server", "mariadb-client",
                                    "mariadb-backup", "galera-4",
                                    "rsync")),
            OSSupport("ubuntu-22.04", ("mariadb-server", "mariadb-client",
                                       "mariadb-backup", "galera-4",
                                       "rsync")),
        ),
        service_user="mysql",
        data_dirs=("/var/lib/mysql", "/var/run/mysqld"),
    ),
    driver_modules=("pymysql",),
)
