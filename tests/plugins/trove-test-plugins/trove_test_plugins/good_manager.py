"""The good test plugin's in-memory manager."""

from zope.interface import implementer

from trove_core import capabilities
from trove_core import manager
from trove_core import models
from trove_core.status import ServiceStatus


@implementer(capabilities.IDatabases)
class Manager(manager.BaseDatastoreManager):
    """Keeps databases in a dict; 'runs' while a flag is set."""

    fail_prepare = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.running = False
        self.dbs = {}
        self.prepare_calls = 0

    def do_prepare(self, request):
        self.prepare_calls += 1
        if self.fail_prepare:
            raise RuntimeError("disk on fire")
        self.running = True

    def do_start(self):
        self.running = True

    def do_stop(self):
        self.running = False

    def probe_status(self):
        return (ServiceStatus.HEALTHY if self.running
                else ServiceStatus.SHUTDOWN)

    def write_config(self, config_contents):
        self.config = config_contents

    def create_database(self, databases):
        for db in databases:
            self.dbs[db.name] = db

    def list_databases(self, limit=None, marker=None, include_marker=False):
        return models.paginate(self.dbs.values(), limit, marker,
                               include_marker)

    def delete_database(self, database):
        self.dbs.pop(database.name, None)
