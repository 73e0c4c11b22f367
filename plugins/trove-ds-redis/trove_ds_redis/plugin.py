"""Descriptor of the Redis datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="redis",
    tier="stable",
    summary="Redis key-value server",
    capabilities=frozenset({
        "lifecycle", "users", "access", "root", "backup", "replication",
        "configuration", "ssl", "cluster", "cluster_redis"}),
    engine_versions=("7.0", "7.2"),
    strategies=(
        Strategy("redis-rdb", "backup", "stable",
                 "RDB snapshot after a completed BGSAVE, streamed"),
        Strategy("redis-sync", "replication", "stable",
                 "REPLICAOF replication with authentication"),
        Strategy("redis-cluster", "cluster", "technical-preview",
                 "Redis Cluster masters driven by Trove's redis cluster "
                 "strategy (meet, slots, grow, shrink)"),
    ),
    image=ImageSpec(
        supported_os=(
            OSSupport("debian-12", ("redis-server", "redis-tools")),
            OSSupport("ubuntu-22.04", ("redis-server", "redis-tools")),
        ),
        service_user="redis",
        data_dirs=("/var/lib/redis",),
    ),
    driver_modules=("redis",),
)
