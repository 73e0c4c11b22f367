"""The users object of a ``redis-rdb`` backup is checked on restore."""

import os
import types

import pytest

from trove_core import exceptions
from trove_ds_redis import backup
from trove_guest_base.backup import pipeline
from trove_guest_base.backup import storage as storage_mod


def _stored(tmp_path, text):
    """A file storage holding ``text`` as the users of backup ``b1``."""
    store = storage_mod.FileStorage(root=str(tmp_path / "store"))
    source = tmp_path / "users.src"
    source.write_text(text)
    pipeline.run_backup(pipeline.File(str(source)), store,
                        "b1" + backup.USERS_SUFFIX)
    return store


def _strategy(tmp_path):
    acl = tmp_path / "users.acl"
    acl.write_text("user os_admin on #abc ~* &* +@all\n")
    os.chmod(acl, 0o600)
    manager = types.SimpleNamespace(state_dir=str(tmp_path / "state"),
                                    acl_file=str(acl))
    return backup.RedisRDBBackup(manager), acl


class TestRestoreUsers:
    """Trove users come back; anything else in the object is refused."""

    def test_appended(self, tmp_path):
        """Valid user rules are appended to the new server's ACL file."""
        store = _stored(tmp_path, "user app on #f00 ~app:* &app:* -@all\n")
        strategy, acl = _strategy(tmp_path)
        assert strategy._restore_users(store, "b1", None) == 1
        assert acl.read_text().splitlines()[-1].startswith("user app on")
        assert os.stat(acl).st_mode & 0o777 == 0o600

    def test_absent(self, tmp_path):
        """A backup without users (none existed) restores none."""
        store = storage_mod.FileStorage(root=str(tmp_path / "store"))
        strategy, acl = _strategy(tmp_path)
        before = acl.read_text()
        assert strategy._restore_users(store, "b1", None) == 0
        assert acl.read_text() == before

    @pytest.mark.parametrize("text, match", [
        pytest.param("include /etc/shadow\n", "not an ACL user rule",
                     id="not-a-rule"),
        pytest.param("user os_admin on nopass ~* +@all\n", "reserved",
                     id="reserved-user"),
        pytest.param("user >x on nopass ~* +@all\n", "users of backup",
                     id="rule-as-name"),
    ])
    def test_refused(self, tmp_path, text, match):
        """A rule that is not a Trove user's is refused; the ACL file is
        unchanged."""
        store = _stored(tmp_path, text)
        strategy, acl = _strategy(tmp_path)
        before = acl.read_text()
        with pytest.raises(exceptions.BackupError, match=match):
            strategy._restore_users(store, "b1", None)
        assert acl.read_text() == before
