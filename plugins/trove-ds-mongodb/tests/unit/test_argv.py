"""mongodump/mongorestore command lines: no user value can become an
option."""

import pytest

from trove_core import exceptions
from trove_core import models
from trove_ds_mongodb import manager as manager_mod

HOSTILE = ["--help", "--out=x", "--db=admin", "-h", "--archive=x"]


def _all_attached(argv):
    """Every argument is a bare flag we chose or ``--name=value``."""
    flags = {"--archive", "--gzip", "--oplog", "--oplogReplay"}
    return all(a in flags or (a.startswith("--") and "=" in a)
               for a in argv[1:])


class TestToolArgv:
    """Both tools, with hostile databases and users present."""

    @pytest.mark.parametrize("name", HOSTILE)
    def test_hostile_database_not_in_argv(self, mock_manager, name):
        """Databases named like options never reach the tools' argv."""
        mock_manager.create_database([models.Database(name)])
        strategy = mock_manager.backup_strategy()
        path = strategy.write_tool_config()
        for argv in (strategy.backup_argv(path, oplog=True),
                     strategy.restore_argv(path, oplog=True),
                     strategy.restore_argv(None)):
            assert name not in argv
            assert _all_attached(argv), argv

    @pytest.mark.parametrize("name", HOSTILE)
    def test_hostile_admin_name_refused(self, mock_manager, monkeypatch,
                                        name):
        """An admin name beginning with '-' is refused, not passed."""
        monkeypatch.setattr(manager_mod, "_ADMIN_NAME", name)
        strategy = mock_manager.backup_strategy()
        with pytest.raises(exceptions.BadRequest, match="begin"):
            strategy.backup_argv(strategy.write_tool_config())
