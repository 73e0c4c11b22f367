"""Streaming backups shared by every datastore.

A backup flows ``tool -> gzip -> optional encryption -> checksum ->
storage`` in fixed-size chunks, so memory stays bounded whatever the data
size. A backup is committed to storage only after the tool exited 0 and
every byte was written; anything else aborts it and leaves nothing that
looks complete. A restore verifies the stored checksum before it feeds a
single byte to the datastore.

A datastore's backup strategies subclass :class:`BackupStrategy`
(:mod:`.strategy`, loaded with :func:`load_strategy`); its manager mixes
in :class:`BackupOperations` (:mod:`.operations`), the one
``create_backup``/restore flow of every plugin.
"""

from trove_core import lazy

__all__ = ["BackupOperations", "BackupResult", "BackupStrategy", "Command",
           "File", "ReplicationStrategy", "StorageDriver", "Stream",
           "expect_head", "expect_tail", "get_storage", "load_strategy",
           "read_key", "run_backup", "run_restore", "time_limits",
           "verify"]

_HOMES = {
    "BackupOperations": "trove_guest_base.backup.operations",
    "BackupResult": "trove_guest_base.backup.pipeline",
    "BackupStrategy": "trove_guest_base.backup.strategy",
    "Command": "trove_guest_base.backup.pipeline",
    "File": "trove_guest_base.backup.pipeline",
    "expect_head": "trove_guest_base.backup.pipeline",
    "expect_tail": "trove_guest_base.backup.pipeline",
    "time_limits": "trove_guest_base.backup.pipeline",
    "ReplicationStrategy": "trove_guest_base.backup.strategy",
    "StorageDriver": "trove_guest_base.backup.storage",
    "Stream": "trove_guest_base.backup.pipeline",
    "get_storage": "trove_guest_base.backup.storage",
    "load_strategy": "trove_guest_base.backup.strategy",
    "read_key": "trove_guest_base.backup.operations",
    "run_backup": "trove_guest_base.backup.pipeline",
    "run_restore": "trove_guest_base.backup.pipeline",
    "verify": "trove_guest_base.backup.pipeline",
}


__getattr__, __dir__ = lazy.facade(__name__, _HOMES)
