"""Descriptor of the MongoDB datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="mongodb",
    tier="technical-preview",
    summary="MongoDB document store",
    capabilities=frozenset({"lifecycle", "databases", "users", "access",
                            "root", "backup", "configuration",
                            "replication", "cluster", "cluster_mongodb"}),
    engine_versions=("6.0", "7.0"),
    strategies=(
        Strategy("mongodump", "backup", "experimental",
                 "mongodump archive, compressed, streamed"),
        Strategy("mongodb-replset", "replication", "experimental",
                 "replica set membership"),
        Strategy("sharded", "cluster", "experimental",
                 "sharded cluster: shard replica sets, config servers, "
                 "mongos query routers (Trove's mongodb strategy)"),
    ),
    image=ImageSpec(
        supported_os=(
            # MongoDB is not in Debian or Ubuntu; these come from the
            # vendor's repository, which the image element configures.
            OSSupport("ubuntu-22.04", ("mongodb-org-server",
                                       "mongodb-database-tools",
                                       "mongodb-mongosh")),
            OSSupport("debian-12", ("mongodb-org-server",
                                    "mongodb-database-tools",
                                    "mongodb-mongosh")),
        ),
        service_user="mongodb",
        data_dirs=("/var/lib/mongodb",),
    ),
    driver_modules=("pymongo",),
)
