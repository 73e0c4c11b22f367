"""scripts/gate.py: the suites a change needs, and the voting ones."""

import importlib.util
import pathlib
import shlex
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gate.py"


@pytest.fixture(scope="module")
def gate():
    """The script, imported as a module."""
    spec = importlib.util.spec_from_file_location("trove_gate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestSelect:
    """Changed paths decide the suites."""

    def test_plugin_change(self, gate):
        """A plugin change runs its suites and the contract tests."""
        suites, voting, reason = gate.select(
            ["plugins/trove-ds-redis/trove_ds_redis/backup.py"])
        assert suites[0] == "plugins/trove-ds-redis/tests"
        assert "plugins/trove-ds-mysql/tests" not in suites
        assert set(gate.CONTRACT) <= set(suites)
        assert voting == ["redis", "fake"]
        assert "plugin change (redis)" in reason
        # its image is built again (its hooks may have changed), and the
        # fake's, whose contract suites run: both records stay current
        node = gate.IMAGE_TEST + "::test_rootfs_builds_and_records_its_hooks"
        assert [s for s in suites if s.startswith(gate.IMAGE_TEST)] == [
            node + "[redis]", node + "[fake]"]

    def test_two_plugins(self, gate):
        """Each changed plugin's suites run, no other's."""
        suites, voting, _reason = gate.select([
            "plugins/trove-ds-mysql/setup.cfg",
            "plugins/trove-ds-redis/README.rst"])
        plugin_suites = [s for s in suites if s.startswith("plugins/")]
        assert plugin_suites == ["plugins/trove-ds-mysql/tests",
                                 "plugins/trove-ds-redis/tests"]
        assert voting == ["mysql", "redis", "fake"]

    @pytest.mark.parametrize("path", [
        pytest.param("trove_core/tools/evidence.py", id="core"),
        pytest.param("trove_guest_base/process.py", id="runtime"),
        pytest.param("tests/plugins/trove-ds-fake/pyproject.toml",
                     id="test-plugins"),
        pytest.param("setup.cfg", id="packaging"),
        pytest.param("scripts/gate.py", id="gate-itself"),
    ])
    def test_core_change_runs_everything(self, gate, path):
        """A core or runtime change runs every suite; all vote."""
        suites, voting, reason = gate.select(
            ["plugins/trove-ds-redis/x.py", path])
        assert suites == []
        assert set(voting) == {"mysql", "redis", "mongodb", "cassandra",
                               "fake"}
        assert path in reason

    def test_docs_change(self, gate):
        """Documentation runs the contract and documentation tests."""
        suites, voting, _reason = gate.select(["docs/author.rst"])
        assert not [s for s in suites if s.startswith("plugins/")]
        assert "tests/unit/test_cli_docs.py" in suites
        assert voting == ["fake"]

    def test_nothing_known(self, gate):
        """No changed paths known: everything."""
        assert gate.select([])[0] == []


class TestCommandLine:
    """test.sh evals the sh format."""

    def test_sh_format(self):
        """Three shell assignments, quoted."""
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "--paths",
             "plugins/trove-ds-mysql/trove_ds_mysql/service.py",
             "--format", "sh"], capture_output=True, text=True,
            timeout=60, check=True)
        values = dict(line.split("=", 1)
                      for line in proc.stdout.splitlines())
        assert shlex.split(values["TROVE_VOTING_SUITES"]) == [
            "mysql fake"]
        assert shlex.split(values["TROVE_SELECTED_SUITES"])[0].startswith(
            "plugins/trove-ds-mysql/tests")

    def test_bad_revision(self):
        """A revision git does not know is named with what to do."""
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "--since", "no-such-rev-i19"],
            capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode != 0
        assert "TROVE_TEST_CHANGED_FROM" in proc.stderr
