"""The manager's parts that need no server."""

import pytest

from trove_core import exceptions


@pytest.fixture
def manager(tmp_path, make_conf):
    """An unprepared manager over temporary paths."""
    from trove_ds_mysql.manager import Manager

    return Manager("mysql", make_conf(str(tmp_path)),
                   str(tmp_path / "state"))


def _key_file(manager, tmp_path, text):
    """Write ``text`` to a 0600 key file named by the manager's option."""
    path = tmp_path / "backup.key"
    path.write_text(text)
    path.chmod(0o600)
    manager.conf.set_override("backup_encryption_key_file", str(path),
                              group="mysql")


class TestBackupKey:
    """The backup_encryption_key_file option."""

    def test_unset(self, manager):
        """No key means unencrypted backups."""
        assert manager.backup_key() is None

    def test_hex_key(self, manager, tmp_path):
        """64 hex digits give a 32-byte key."""
        _key_file(manager, tmp_path, "0f" * 32)
        assert manager.backup_key() == bytes([15]) * 32

    @pytest.mark.parametrize("value", [
        pytest.param("abc", id="short"),
        pytest.param("zz" * 32, id="not-hex"),
    ])
    def test_bad_key(self, manager, tmp_path, value):
        """A malformed key is refused, naming the option."""
        _key_file(manager, tmp_path, value)
        with pytest.raises(exceptions.BadRequest,
                           match="backup_encryption_key") as info:
            manager.backup_key()
        assert "64 hex digits" in info.value.reason


class TestRequests:
    """Requests refused before anything runs."""

    def test_backup_needs_id(self, manager):
        """create_backup without an id is a bad request."""
        with pytest.raises(exceptions.BadRequest, match="'id'") as info:
            manager.create_backup({})
        assert info.value.kwargs["reason"]

    def test_bad_override_fails_prepare(self, manager):
        """A bad override at prepare fails it before any file is made."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="max_connections"):
            manager.prepare(memory_mb=None, packages=[], databases=[],
                            users=[], overrides={"max_connections": -1})
        assert manager.status.value == "failed to spawn"
        assert manager.server.is_empty()

    def test_unknown_log(self, manager):
        """An unexposed log name is NotFound."""
        with pytest.raises(exceptions.NotFound, match="audit"):
            manager.guest_log_action("audit", True, False, False, False)
