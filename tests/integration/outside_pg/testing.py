"""The PostgreSQL plugin's conformance probe: psql, as an operator."""

from trove_core import exceptions
from trove_guest_base.conformance import Probe


class PostgresProbe(Probe):
    """Looks at the server through psql, never through the manager's
    operations."""

    live = True
    root_user = "postgres"

    def __init__(self, manager):
        self.manager = manager

    def _sql(self, sql, **variables):
        return self.manager.psql(sql, variables)

    def engine(self):
        """The server's own name and version."""
        return {"name": "postgresql",
                "version": self._sql("SHOW server_version")[0]}

    def is_running(self):
        """Whether it answers a query."""
        try:
            return self._sql("SELECT 1") == ["1"]
        except exceptions.TroveError:
            return False

    def database_exists(self, name):
        """Whether database ``name`` exists, compared exactly."""
        return self._sql("SELECT count(*) FROM pg_database WHERE "
                         "datname = :'name'", name=name) == ["1"]
