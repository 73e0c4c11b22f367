"""The MySQL tools' command lines keep hostile names out of options."""

import pytest

from trove_core import exceptions

HOSTILE = ["--where=0", "--help", "--result-file=dump.sql", "-e",
           "--defaults-file=/etc/shadow"]


@pytest.fixture
def manager(tmp_path, make_conf):
    """An unprepared manager over temporary paths, with an admin secret."""
    from trove_ds_mysql import manager as manager_mod

    mgr = manager_mod.Manager("mysql", make_conf(str(tmp_path)),
                              str(tmp_path / "state"))
    mgr.store_secret(manager_mod.ADMIN_SECRET, "adm1n-secret")
    return mgr


def _after_options(argv):
    assert "--" in argv, argv
    return argv[argv.index("--") + 1:]


class TestDumpArgv:
    """mariadb-dump."""

    @pytest.mark.parametrize("name", HOSTILE)
    def test_database_is_operand(self, manager, name):
        """A database named like an option is dumped, never obeyed."""
        strategy = manager.backup_strategy("mysqldump")
        argv = strategy._argv([name, "shop"])
        assert _after_options(argv) == [name, "shop"]
        assert argv[argv.index("--") - 1] == "--databases"
        assert not any(name == a for a in argv[:argv.index("--")])

    def test_no_secret_in_argv(self, manager):
        """The password is in the 0600 defaults file only."""
        argv = manager.backup_strategy("mysqldump")._argv(["shop"])
        assert not any("adm1n-secret" in a for a in argv)
        assert argv[1].startswith("--defaults-file=")


class TestOtherTools:
    """mariabackup, mbstream, the client and chown."""

    def test_client_has_no_operand(self, manager, monkeypatch):
        """The restore client reads the dump on stdin, no user value in
        its argv."""
        from trove_guest_base.backup import pipeline

        seen = {}
        monkeypatch.setattr(pipeline, "run_restore",
                            lambda storage, location, sink, **kw:
                            seen.setdefault("argv", sink.argv))
        monkeypatch.setattr(manager, "reset_admin", lambda: None)
        manager.backup_strategy("mysqldump").restore(None, "--help")
        assert seen["argv"][0] == manager.options.client_binary
        assert all(a.startswith("--defaults-file=") for a in seen["argv"][1:])

    def test_incremental_lsn_must_be_a_number(self, manager, monkeypatch):
        """A tampered checkpoints file cannot put an option in argv."""
        strategy = manager.backup_strategy("mariabackup")
        monkeypatch.setattr(strategy, "_parent_lsn",
                            lambda *a: "--help")
        with pytest.raises(exceptions.BackupError, match="LSN"):
            strategy.backup(None, "b1", parent={"location": "p"})

    def test_chown_operands(self, manager, monkeypatch):
        """chown gets the user and path after ``--``."""
        from trove_guest_base import process

        seen = []
        monkeypatch.setattr(process, "run",
                            lambda argv, **kw: seen.append(argv))
        monkeypatch.setattr("os.geteuid", lambda: 0)
        manager.conf.set_override("service_user", "mysql", group="mysql")
        manager.server.chown_tree("/x")
        assert seen == [["chown", "-R", "--", "mysql:", "/x"]]
