"""The runner drops a datastore's server to its service user.

Live: a real PostgreSQL 15 (which refuses to run as root) is initialised
and started through :func:`trove_guest_base.process.make_runner` by a
guest running as root, as the ``postgres`` account, in directories the
runner hands over. Skips, saying why, without root or without the
PostgreSQL 15 server binaries.
"""

import os
import pathlib
import pwd
import shutil
import tempfile
import types

import pytest

from trove_core import exceptions
from trove_guest_base import net
from trove_guest_base import process

PG_BIN = pathlib.Path(os.environ.get("TROVE_TEST_PG_BIN",
                                     "/usr/lib/postgresql/15/bin"))
USER = "postgres"


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root: only root can drop to a service user"
    if not (PG_BIN / "postgres").exists():
        return "no PostgreSQL 15 server binaries at %s" % PG_BIN
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "no %r account on this host" % USER
    return ""


pytestmark = pytest.mark.skipif(bool(_skip_reason()),
                                reason=_skip_reason() or "-")


@pytest.fixture
def base():
    """A directory a service user can enter (not pytest's root-only
    temporary directory), removed afterwards."""
    where = tempfile.mkdtemp(prefix="trove-service-user-")
    os.chmod(where, 0o711)  # noqa: S103 (enter, not list)
    yield pathlib.Path(where)
    shutil.rmtree(where, ignore_errors=True)


def _owner(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line for pid %d" % pid)


@pytest.mark.slow
class TestPostgresAsServiceUser:
    """PostgreSQL refuses root; the runner makes it run anyway."""

    def test_runs_as_service_user(self, base):
        """initdb and postgres run as the service user, in directories
        handed to it; the server answers and stops cleanly."""
        options = types.SimpleNamespace(runner="child", systemd_unit=None,
                                        service_user=USER)
        user = process.service_user(options)
        assert user == USER
        data, run_dir = base / "data", base / "run"
        process.hand_over(user, [data, run_dir])
        process.run([PG_BIN / "initdb", "--auth=trust", "--username=admin",
                     "-D", data], user=user, timeout=120)
        port = net.free_port()
        runner = process.make_runner(
            options, [PG_BIN / "postgres", "-D", data, "-p", str(port),
                      "-k", run_dir, "-c", "listen_addresses=127.0.0.1"],
            pid_file=base / "pg.pid", log_file=base / "state" / "pg.log",
            dirs=[data, run_dir])
        assert runner.user == USER
        runner.start()
        try:
            process.wait_ready(runner, lambda: net.port_open("127.0.0.1",
                                                             port),
                               "postgres on port %d" % port, 60)
            assert _owner(runner.pid) == pwd.getpwnam(USER).pw_uid
            ready = process.run([PG_BIN / "pg_isready", "-h", "127.0.0.1",
                                 "-p", str(port)], user=user, timeout=30)
            assert b"accepting connections" in ready.stdout
        finally:
            runner.stop(timeout=60)
        assert not runner.is_running()
        assert (data / "PG_VERSION").stat().st_uid == \
            pwd.getpwnam(USER).pw_uid

    def test_closed_parent_named(self, tmp_path):
        """A directory under a parent the user cannot enter (pytest's
        root-only temporary directory) is refused, naming the parent."""
        closed = tmp_path / "closed"
        closed.mkdir(mode=0o700)
        with pytest.raises(exceptions.DatastoreError,
                           match="cannot enter %s" % closed) as info:
            process.hand_over(USER, [closed / "data"])
        assert "chmod o+x" in str(info.value)

    def test_unknown_user(self, base):
        """A service user that does not exist is named."""
        options = types.SimpleNamespace(runner="child", systemd_unit=None,
                                        service_user="trove-no-such-user")
        with pytest.raises(exceptions.DatastoreError,
                           match="'trove-no-such-user' does not exist"):
            process.make_runner(options, ["x"], base / "p", base / "l")


class TestWithoutRoot:
    """What does not drop."""

    @pytest.mark.parametrize("options", [
        pytest.param({}, id="not-registered"),
        pytest.param({"service_user": "root"}, id="root"),
        pytest.param({"service_user": ""}, id="empty"),
    ])
    def test_no_drop(self, tmp_path, options):
        """No service_user option, or root, runs as the guest."""
        conf = types.SimpleNamespace(runner="child", systemd_unit=None,
                                     **options)
        runner = process.make_runner(conf, ["x"], tmp_path / "p",
                                     tmp_path / "l", dirs=[tmp_path])
        assert runner.user is None
