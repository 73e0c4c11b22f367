"""The conformance probe of the fake datastore.

It checks effects through :class:`~trove_guest_base.testing.backend.FakeClient`
(the fake server's own client), logging in as the accounts under test.
For markers and configuration it uses the admin credential the manager
stored, as an operator would; it never calls the manager's operations.
"""

from trove_core import exceptions
from trove_guest_base.testing import backend
from trove_guest_base.conformance.probe import Probe

__all__ = ["FakeProbe"]


class FakeProbe(Probe):
    """A :class:`~trove_guest_base.conformance.Probe` of a fake server.

    :param manager: the manager whose server to look at (only its data
        directory and stored admin password are used).
    """

    live = False

    def __init__(self, manager):
        self.data_dir = manager.options.mount_point
        self._admin_password = lambda: manager.load_secret("admin_password")

    @property
    def server(self):
        """The fake server in the manager's data directory."""
        return backend.FakeServer(self.data_dir)

    def _admin(self, database=None):
        return self.server.client(backend.ADMIN_USER,
                                  self._admin_password(),
                                  database=database)

    def engine(self):
        """The fake engine and its version."""
        return {"name": backend.ENGINE, "version": backend.VERSION}

    def is_running(self):
        """Whether the admin account can connect."""
        try:
            self._admin().status()
        except exceptions.DatastoreError:
            return False
        return True

    def database_exists(self, name):
        """Whether the server has database ``name``."""
        return name in self._admin().databases()

    def can_login(self, user, password, database=None, host=None):
        """Whether ``user`` logs in (from ``host``) and uses
        ``database``."""
        try:
            self.server.client(user, password, host=host or "localhost",
                               database=database)
        except exceptions.DatastoreError:
            return False
        return True

    def write_marker(self, key, value):
        """Store a marker in the system database."""
        self._admin(backend.SYSTEM_DATABASE).put(key, value)

    def read_marker(self, key):
        """Read a marker from the system database."""
        return self._admin(backend.SYSTEM_DATABASE).get(key)

    def datastore_dirs(self):
        """The fake server's data directory."""
        return [self.data_dir]

    def config_value(self, name):
        """The running value of variable ``name``."""
        return self._admin().variables()[name]
