"""The guest helpers: commands, supervision, files, config files."""

import logging
import os
import signal
import stat
import sys
import types

import pytest

from trove_core import exceptions as core_exc
from trove_guest_base import configfile
from trove_guest_base import exceptions
from trove_guest_base import files
from trove_guest_base import net
from trove_guest_base import process


class TestRun:
    def test_refuses_shell_strings(self):
        """A command must be an argv list."""
        with pytest.raises(TypeError, match="argv list"):
            process.run("echo hi")

    def test_failure_redacts_secrets(self, caplog):
        """stderr and the command line are redacted in errors and logs."""
        caplog.set_level(logging.DEBUG)
        with pytest.raises(exceptions.ProcessError,
                           match="exit code 3") as info:
            process.run([sys.executable, "-c",
                         "import sys; sys.stderr.write('pw=hunter2');"
                         "sys.exit(3)", "hunter2"], secrets=["hunter2"])
        assert "hunter2" not in str(info.value)
        assert "hunter2" not in caplog.text
        assert isinstance(info.value, core_exc.DatastoreError)

    def test_timeout(self):
        """A hung command is killed and reported."""
        with pytest.raises(exceptions.ProcessError, match="timed out"):
            process.run(["sleep", "5"], timeout=0.2)

    def test_missing_tool(self):
        """A missing binary is named."""
        with pytest.raises(exceptions.ProcessError,
                           match="'no-such-tool' is not installed"):
            process.run(["no-such-tool"])


class TestChildRunner:
    def make(self, tmp_path, code="import time; time.sleep(60)"):
        return process.ChildRunner([sys.executable, "-c", code],
                                   tmp_path / "x.pid", tmp_path / "x.log")

    def test_start_stop(self, tmp_path):
        """A child starts, is seen running, and stops on request."""
        runner = self.make(tmp_path)
        runner.start()
        assert runner.is_running() and not runner.crashed()
        runner.start()  # idempotent
        runner.stop(timeout=5)
        assert not runner.is_running() and not runner.crashed()
        assert not (tmp_path / "x.pid").exists()

    def test_crash_is_detected(self, tmp_path):
        """A child that dies on its own is reported crashed."""
        runner = self.make(tmp_path, "import sys; sys.exit(1)")
        runner.start()
        assert runner.wait_exit(10) == 1
        assert runner.crashed() and not runner.is_running()

    def test_new_supervisor_finds_running_child(self, tmp_path):
        """A restarted guest finds the process by its pid file."""
        first = self.make(tmp_path)
        first.start()
        second = self.make(tmp_path)
        assert second.is_running() and second.pid == first.pid
        second.stop(timeout=5)
        assert not first.is_running()

    def test_stubborn_child_is_killed(self, tmp_path):
        """A child ignoring SIGTERM is killed after the timeout."""
        code = ("import signal, time; "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)")
        runner = self.make(tmp_path, code)
        runner.start()
        net.wait_until(lambda: b"ready" in (tmp_path / "x.log").read_bytes(),
                       10, "child to start")
        runner.stop(timeout=0.5)
        assert not runner.is_running()
        assert runner.stop_signal is signal.SIGTERM


class TestWaitReady:
    """process.wait_ready: a started datastore comes up, dies or hangs."""

    def make(self, tmp_path, code):
        runner = process.ChildRunner([sys.executable, "-c", code],
                                     tmp_path / "x.pid", tmp_path / "x.log")
        runner.start()
        return runner

    def test_ready_returns_the_probe_value(self, tmp_path):
        """The probe's first true value is returned; false values and
        retried exceptions mean "not yet"."""
        runner = self.make(tmp_path, "import time; time.sleep(60)")
        answers = iter([ConnectionRefusedError("no"), 0, "conn"])

        def probe():
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            return answer
        try:
            assert process.wait_ready(runner, probe, "x", 10) == "conn"
        finally:
            runner.stop(timeout=5)

    def test_exit_fails_fast_quoting_the_log(self, tmp_path):
        """A process that exits while starting fails at once, not after
        the timeout, with the last lines it wrote."""
        runner = self.make(
            tmp_path, "import sys; print('starting'); "
            "print('bind: Address already in use', flush=True); "
            "sys.exit(1)")
        runner.wait_exit(10)
        with pytest.raises(core_exc.DatastoreError) as info:
            process.wait_ready(runner, lambda: False, "db on port 1", 600)
        message = str(info.value)
        assert "db on port 1 exited before it was ready" in message
        assert "starting | bind: Address already in use" in message
        assert info.value.operation == "start"
        assert not isinstance(info.value, exceptions.ReadinessTimeout)

    def test_timeout_names_last_error_and_log(self, tmp_path):
        """A process that never gets ready times out with the probe's
        last error and the log named by the caller."""
        log = tmp_path / "server.err"
        log.write_text("one\ntwo\nInnoDB: waiting\n")
        runner = self.make(tmp_path, "import time; time.sleep(60)")

        def probe():
            raise ConnectionRefusedError("refused")
        try:
            with pytest.raises(exceptions.ReadinessTimeout) as info:
                process.wait_ready(runner, probe, "db", 0.3, log_file=log,
                                   operation="restart")
        finally:
            runner.stop(timeout=5)
        message = str(info.value)
        assert "db was not ready after 0.3 s" in message
        assert "ConnectionRefusedError: refused" in message
        assert "%s ends: one | two | InnoDB: waiting" % log in message
        assert info.value.operation == "restart"

    def test_missing_log_falls_back_to_output(self, tmp_path):
        """Named logs that do not exist (or are empty) give way to the
        runner's own output."""
        (tmp_path / "empty.log").write_bytes(b"")
        runner = self.make(tmp_path, "import sys; print('bad config', "
                           "flush=True); sys.exit(2)")
        runner.wait_exit(10)
        with pytest.raises(core_exc.DatastoreError) as info:
            process.wait_ready(runner, lambda: False, "db", 600,
                               log_file=[tmp_path / "none.log",
                                         tmp_path / "empty.log", None])
        assert "%s ends: bad config" % runner.log_file in str(info.value)

    def test_other_errors_propagate(self, tmp_path):
        """An exception outside retry_on is not waited out."""
        runner = self.make(tmp_path, "import time; time.sleep(60)")

        def probe():
            raise PermissionError("wrong password")
        try:
            with pytest.raises(PermissionError, match="wrong password"):
                process.wait_ready(runner, probe, "db", 600,
                                   retry_on=(ConnectionError,))
        finally:
            runner.stop(timeout=5)

    def test_log_tail_of_missing_and_empty_files(self, tmp_path):
        """log_tail says when there is nothing to quote."""
        assert "cannot read" in process.log_tail(tmp_path / "none")
        (tmp_path / "empty").write_bytes(b"")
        assert "is empty" in process.log_tail(tmp_path / "empty")

    def test_systemd_hint(self):
        """A systemd-run datastore's output is in the journal."""
        assert process.SystemdRunner("redis.service").output_hint() == (
            "see journalctl -u redis.service")


class TestMakeRunner:
    def make(self, tmp_path, **options):
        conf = types.SimpleNamespace(**options)
        return process.make_runner(conf, ["server", "--fg"],
                                   tmp_path / "s.pid", tmp_path / "s.log",
                                   env={"A": "1"})

    def test_child(self, tmp_path):
        """runner 'child' supervises argv with the pid and log files."""
        runner = self.make(tmp_path, runner="child", systemd_unit=None)
        assert isinstance(runner, process.ChildRunner)
        assert runner.argv == ["server", "--fg"]
        assert runner.pid_file == str(tmp_path / "s.pid")
        assert runner.log_file == str(tmp_path / "s.log")
        assert runner.env == {"A": "1"}

    def test_systemd(self, tmp_path):
        """runner 'systemd' drives systemd_unit."""
        runner = self.make(tmp_path, runner="systemd", systemd_unit="x.unit")
        assert isinstance(runner, process.SystemdRunner)
        assert runner.unit == "x.unit"

    @pytest.mark.parametrize("options, reason", [
        pytest.param({"runner": "systemd", "systemd_unit": None},
                     "systemd_unit is not set", id="no-unit"),
        pytest.param({"runner": "docker", "systemd_unit": "x.unit"},
                     "runner must be 'systemd' or 'child'", id="unknown"),
    ])
    def test_misconfigured(self, tmp_path, options, reason):
        """A runner that cannot be built says which option to fix."""
        with pytest.raises(core_exc.DatastoreError, match=reason) as info:
            self.make(tmp_path, **options)
        assert info.value.operation == "supervise"


class TestWaitUntil:
    def test_timeout_names_what_and_why(self):
        """A readiness timeout names the thing and the last error."""
        def probe():
            raise ConnectionRefusedError("nobody home")

        with pytest.raises(exceptions.ReadinessTimeout,
                           match="db was not ready after 0.2 s: "
                           "ConnectionRefusedError: nobody home"):
            net.wait_until(probe, 0.2, "db")

    def test_free_port_is_closed(self):
        """free_port returns a port nobody listens on."""
        assert not net.port_open("127.0.0.1", net.free_port())


class TestFiles:
    def test_atomic_write_mode_from_the_start(self, tmp_path):
        """The file has its mode before any byte lands, and no temp
        file is left."""
        path = tmp_path / "sub" / "f"
        files.atomic_write(path, "data", mode=0o640)
        assert path.read_text() == "data"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        assert os.listdir(path.parent) == ["f"]

    def test_failed_write_keeps_old_content(self, tmp_path):
        """A write that fails leaves the old file and no temp file."""
        path = tmp_path / "f"
        files.atomic_write(path, "old")
        with pytest.raises(TypeError):
            files.atomic_write(path, 12345)
        assert path.read_text() == "old"
        assert os.listdir(tmp_path) == ["f"]

    def test_secret_is_0600(self, tmp_path):
        """Secrets are written 0600."""
        files.write_secret(tmp_path / "s" / "pw", "x")
        assert stat.S_IMODE(os.stat(tmp_path / "s" / "pw").st_mode) == 0o600
        assert files.read_secret(tmp_path / "s" / "pw") == "x"


class TestConfigFiles:
    def test_ini_merge(self):
        """Overrides replace keys and keep bare flags."""
        conf = configfile.IniConfig.parse(
            "[mysqld]\nport = 1\nskip-name-resolve\n")
        conf.merge({"mysqld": {"port": 2, "read_only": True}})
        text = conf.render()
        assert "port = 2" in text and "skip-name-resolve\n" in text
        assert "read_only = ON" in text

    def test_key_value_merge_repeats(self):
        """A list value repeats the key (redis 'save')."""
        conf = configfile.KeyValueConfig.parse("# c\nsave 900 1\nport 1\n")
        conf.merge({"save": ["60 1", "10 2"], "port": 7})
        assert conf.render() == "save 60 1\nsave 10 2\nport 7\n"
        assert conf.get("port") == "7"

    @pytest.mark.parametrize("override", [
        pytest.param({"save": "1\nrequirepass x"}, id="value-newline"),
        pytest.param({"a\nb": "1"}, id="key-newline"),
        pytest.param({"save": "1\x00"}, id="nul"),
    ])
    def test_injection_refused(self, override):
        """A line break cannot smuggle a directive in."""
        with pytest.raises(exceptions.ConfigFileError,
                           match="line break or NUL"):
            configfile.KeyValueConfig().merge(override).render()
        with pytest.raises(exceptions.ConfigFileError):
            configfile.IniConfig({"s": override}).render()

    @pytest.mark.parametrize("text, match", [
        pytest.param("- a\n- b\n", "must be a YAML mapping, got list",
                     id="list"),
        pytest.param("net: [", "not valid YAML", id="broken"),
    ])
    def test_yaml_mapping_refusals(self, text, match):
        """A base YAML config must be a mapping; the error names it."""
        with pytest.raises(core_exc.InvalidConfiguration,
                           match=match) as info:
            configfile.parse_yaml_mapping(text, name="config_contents")
        assert info.value.name == "config_contents"

    @pytest.mark.parametrize("text", ["", None, "# only a comment\n"])
    def test_yaml_empty_is_empty_mapping(self, text):
        """Empty YAML is an empty mapping."""
        assert configfile.parse_yaml_mapping(text) == {}
