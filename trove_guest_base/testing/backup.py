"""The fake datastore's backup strategy, ``fake-copy``.

The fake server's data is one JSON file; a backup streams it through the
shared pipeline (gzip, optional encryption, SHA-256, storage) and a
restore writes it back atomically. Registered in
``trove.guestagent.backup_strategies`` by the ``trove-ds-fake`` test
distribution.
"""

import logging
import os

from trove_guest_base import backup

__all__ = ["FakeCopy"]

LOG = logging.getLogger(__name__)


class FakeCopy(backup.BackupStrategy):
    """Copy the fake server's data file.

    :param manager: the :class:`~trove_guest_base.testing.manager.FakeManager`.
    """

    name = "fake-copy"
    suffix = ".json.gz"

    def location(self, backup_id):
        """Backups of the fake live under ``fake/`` in storage."""
        return "fake/%s%s" % (backup_id, self.suffix)

    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Stream the data file of the running server to ``storage``.

        :raises DatastoreError: the server does not answer.
        """
        manager = self.manager
        manager._admin().status()  # the server must be up and answering
        return backup.run_backup(
            backup.File(manager.server.data_path), storage, location,
            key=key, progress=progress, metadata=self.metadata())

    def restore(self, storage, location, key=None, progress=None):
        """Write the backed-up data file in place (the server is not
        running yet).

        :returns: the bytes restored.
        """
        server = self.manager.server
        os.makedirs(server.data_dir, mode=0o700, exist_ok=True)
        size = backup.run_restore(storage, location,
                                  backup.File(server.data_path), key=key,
                                  progress=progress)
        LOG.info("restored %d bytes from %s", size, location)
        return size
