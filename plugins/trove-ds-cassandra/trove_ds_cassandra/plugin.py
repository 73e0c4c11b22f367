"""Descriptor of the Cassandra datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="cassandra",
    tier="technical-preview",
    summary="Apache Cassandra wide-column store",
    capabilities=frozenset({"lifecycle", "databases", "users", "access",
                            "root", "backup", "configuration", "cluster",
                            "cluster_cassandra"}),
    engine_versions=("4.1", "5.0"),
    strategies=(
        Strategy("nodetool-snapshot", "backup", "experimental",
                 "nodetool snapshot files, streamed"),
        Strategy("ring", "cluster", "experimental",
                 "a Cassandra ring (Trove's cassandra cluster strategy)"),
    ),
    image=ImageSpec(
        supported_os=(
            # Cassandra comes from the Apache repository, which the image
            # element configures; Java from the OS.
            OSSupport("ubuntu-22.04",
                      ("cassandra", "openjdk-11-jre-headless")),
            OSSupport("debian-12", ("cassandra", "openjdk-17-jre-headless")),
        ),
        service_user="cassandra",
        data_dirs=("/var/lib/cassandra",),
    ),
    driver_modules=("cassandra",),
)
