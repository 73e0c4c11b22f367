"""Descriptor of the PostgreSQL datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport

DESCRIPTOR = DatastoreDescriptor(
    name="postgresql",
    tier="experimental",
    summary="PostgreSQL datastore",
    capabilities=frozenset({"lifecycle", "databases"}),
    engine_versions=("15",),
    image=ImageSpec(
        supported_os=(OSSupport("debian-12", ("postgresql-15",)),),
        service_user="postgres",
        data_dirs=("/var/lib/trove/postgresql",),
    ),
)
