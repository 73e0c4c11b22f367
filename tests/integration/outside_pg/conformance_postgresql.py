"""The PostgreSQL plugin passes the trove-core conformance kit, live."""

import os

import pytest

from trove_guest_base import testing
from trove_ds_postgresql.testing import PostgresProbe
from trove_guest_base import conformance

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


class TestPostgreSQLConformance(conformance.DatastoreSuite):
    """Every capability the manager declares, against a real server."""

    datastore = "postgresql"

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls):
        """New instances, each with its own port and directories."""
        if not os.path.exists(os.path.join(PG_BIN, "postgres")):
            pytest.skip("no PostgreSQL server binaries in %s" % PG_BIN)

        def options(where):
            return {"server_binary": os.path.join(PG_BIN, "postgres"),
                    "client_binary": os.path.join(PG_BIN, "psql")}

        with testing.Spawner("postgresql", probe_factory=PostgresProbe,
                             options=options) as spawn:
            yield spawn
