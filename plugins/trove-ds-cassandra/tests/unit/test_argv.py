"""nodetool and tar command lines: no user value can become an option."""

import pytest

from trove_core import exceptions
from trove_ds_cassandra import backup

HOSTILE = ["--help", "-h", "--tag=x", "-p", "--print-port", "-"]


class TestNodetool:
    """nodetool has no ``--``: values are checked instead."""

    @pytest.mark.parametrize("value", HOSTILE)
    def test_hostile_value_refused(self, cass_manager, value):
        """A value that nodetool would read as an option is refused."""
        strategy = cass_manager.backup_strategy()
        with pytest.raises(exceptions.BadRequest, match="begin"):
            strategy.nodetool_argv("snapshot", "-t", value)

    @pytest.mark.parametrize("backup_id", HOSTILE + ["--", "a b"])
    def test_tag_from_any_id_is_safe(self, cass_manager, backup_id):
        """Any backup id gives a tag nodetool reads as a value."""
        tag = backup.snapshot_tag(backup_id)
        argv = cass_manager.backup_strategy().nodetool_argv(
            "snapshot", "-t", tag)
        assert argv[-2:] == ["-t", tag] and tag.startswith("trove-")

    def test_override_values(self, cass_manager):
        """A live override's nodetool arguments pass the same check."""
        strategy = cass_manager.backup_strategy()
        assert strategy.nodetool_argv("setcompactionthroughput", "64")[
            -2:] == ["setcompactionthroughput", "64"]
        with pytest.raises(exceptions.BadRequest):
            strategy.nodetool_argv("setcompactionthroughput", "-1")


class TestTar:
    """tar reads member names after ``--``."""

    @pytest.mark.parametrize("name", HOSTILE)
    def test_hostile_dir_is_operand(self, cass_manager, name):
        """A keyspace directory named like an option stays an operand."""
        argv = cass_manager.backup_strategy().tar_argv(
            ["%s/t/snapshots/x" % name, name])
        assert argv[argv.index("--") + 1:] == [
            "%s/t/snapshots/x" % name, name]
