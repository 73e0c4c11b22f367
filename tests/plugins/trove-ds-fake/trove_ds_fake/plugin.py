"""Descriptor of the fake datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="fake",
    tier="experimental",
    summary="In-memory fake datastore for tests and the author guide",
    capabilities=frozenset({
        "lifecycle", "databases", "users", "access", "root", "backup",
        "replication", "configuration", "guest_logs"}),
    engine_versions=("1.0",),
    strategies=(
        Strategy("fake-copy", "backup", "experimental",
                 "copy of the data file, streamed"),
    ),
    image=ImageSpec(
        supported_os=(OSSupport("debian-12", ()),),
        service_user="trove",
        data_dirs=("/var/lib/trove/fake",),
    ),
)
