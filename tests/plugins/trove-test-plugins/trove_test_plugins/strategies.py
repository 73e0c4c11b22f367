"""Strategy classes for the strategy loader's tests: good and broken."""

from trove_guest_base import backup


class GoodBackup(backup.BackupStrategy):
    """A backup strategy that stores a fixed payload."""

    name = "teststrat-good"

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Store the manager's ``payload`` file."""
        return backup.run_backup(backup.File(self.manager.payload), storage,
                                 location, key=key, progress=progress,
                                 metadata=self.metadata())

    def restore(self, storage, location, key=None, progress=None):
        """Write the payload back to the manager's ``restored`` path."""
        return backup.run_restore(storage, location,
                                  backup.File(self.manager.restored),
                                  key=key, progress=progress)


class BoomBackup(GoodBackup):
    """A backup strategy whose tool breaks with an untyped error."""

    name = "teststrat-boom"

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Fail the way a buggy strategy does."""
        raise RuntimeError("the tool broke")


class GoodReplication(backup.ReplicationStrategy):
    """A replication strategy with no operations."""

    name = "teststrat-repl"


class NotAStrategy:
    """Registered as a strategy, but subclasses nothing."""

    def __init__(self, manager):
        self.manager = manager
