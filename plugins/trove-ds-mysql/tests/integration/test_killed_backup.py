"""A guest killed (kill -9) in the middle of a backup: the next start
reports the backup FAILED and removes its partial upload."""

import os
import signal
import time

import pytest

from trove_core import models
from trove_ds_mysql import testing as mysql_testing

pytestmark = pytest.mark.mariadb


def test_kill_9_during_backup(mysql):
    """The backup is stalled by a tenant's lock, the guest is killed,
    and recovery settles it."""
    db, user, password = "kill9_db", "kill9_user", "Kill9-pass-123"
    mysql.create_database([models.Database(db)])
    mysql.create_user([models.User(user, host="%", password=password,
                                   databases=(models.Database(db),))])
    probe = mysql_testing.MySQLProbe(mysql)
    storage = mysql.backup_storage()
    location = "kill9.sql.gz"
    partial = os.path.join(storage.root, location + ".partial")
    journal = os.path.join(mysql.state_dir, "backups-running",
                           "kill9.json")
    try:
        with probe.tenant_lock(user, password, db):
            pid = os.fork()
            if pid == 0:  # the guest, killed below
                try:
                    mysql.create_backup({"id": "kill9",
                                         "type": "mysqldump"})
                finally:
                    os._exit(0)
            deadline = time.monotonic() + 60
            while not (os.path.exists(partial) and os.path.exists(
                    journal)) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert os.path.exists(partial) and os.path.exists(journal)
        assert mysql.recover_after_restart() == {"kill9": "FAILED"}
        assert not os.path.exists(partial)
        assert not os.path.exists(journal)
        assert not storage.exists(location)
        last = [b for b in mysql.reporter.backups
                if b["backup_id"] == "kill9"][-1]
        assert last["state"] == "FAILED" and "stopped" in last["reason"]
    finally:
        mysql.delete_user(models.User(user, host="%"))
        mysql.delete_database(models.Database(db))
