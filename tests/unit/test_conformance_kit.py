"""The conformance kit catches broken plugins and reports them.

Each test writes a plugin conformance file around a deliberately broken
subclass of the fake manager, runs pytest on it in a subprocess and reads
the report the kit wrote.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from trove_core import exceptions
from trove_guest_base.testing import FakeProbe
from trove_guest_base.testing import helpers
from trove_guest_base import conformance

HEADER = '''
import pytest
import zope.interface

from trove_core import capabilities as caps
from trove_core import models
from trove_guest_base.testing import FakeProbe, helpers, manager
from trove_guest_base import conformance
from trove_guest_base.conformance import probe


def spawner(directory, manager_cls):
    made = []

    def spawn():
        where = directory / str(len(made))
        mgr = helpers.make_fake_manager(where, directory / "backups",
                                        manager_cls=manager_cls)
        made.append(mgr)
        return probe.Instance(mgr, FakeProbe(mgr))
    return spawn, made
'''

SUITE = '''

class TestBroken(conformance.DatastoreSuite):
    """A broken plugin."""

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls, tmp_path_factory):
        spawn, made = spawner(tmp_path_factory.mktemp("kit"), Broken)
        yield spawn
        for mgr in made:
            mgr.server.stop()

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        return {"max_connections": 42}
'''


def run_kit(tmp_path, body):
    """Run the kit on ``body`` (defining class Broken); return the exit
    code, the output and the report."""
    test_file = tmp_path / "test_kit_run.py"
    test_file.write_text(HEADER + textwrap.dedent(body) + SUITE)
    report = tmp_path / "report.json"
    env = dict(os.environ)
    env.pop("TROVE_EVIDENCE_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "--trove-report", str(report),
         str(test_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600)
    data = json.loads(report.read_text()) if report.exists() else None
    return proc.returncode, proc.stdout + proc.stderr, data


@pytest.mark.slow
class TestKitCatchesBrokenPlugins:
    """Broken managers fail the capabilities they break, and only
    those."""

    def test_injection_and_silent_noop_fail(self, tmp_path):
        """A manager that executes names and ignores password changes
        fails databases and users."""
        code, out, data = run_kit(tmp_path, '''
            class Broken(manager.FakeManager):
                def delete_database(self, database):
                    # a statement built by concatenation: the tail runs
                    for part in database.name.split(";")[1:]:
                        words = part.split()
                        if words[:2] == ["DROP", "DATABASE"]:
                            self._admin().drop_database(words[2])
                    try:
                        super().delete_database(database)
                    except Exception:
                        pass

                def change_passwords(self, users):
                    pass
        ''')
        assert code == 1, out
        caps = data["capabilities"]
        assert caps["databases"]["status"] == "fail"
        failed = caps["databases"]["tests"][
            "test_databases_hostile_delete[sql-single-quote]"]
        assert failed["status"] == "fail"
        assert "sentinel database" in failed["reason"]
        assert caps["users"]["status"] == "fail"
        assert caps["users"]["tests"]["test_users_change_password"][
            "status"] == "fail"
        assert caps["lifecycle"]["status"] == "pass"
        assert caps["backup"]["status"] == "pass"
        assert "trove conformance report:" in out

    def test_undeclared_capabilities_skip(self, tmp_path):
        """A manager declaring less is skipped as 'not declared' and
        refuses the rest with OperationNotSupported."""
        code, out, data = run_kit(tmp_path, '''
            @zope.interface.implementer_only(caps.ILifecycle,
                                             caps.IDatabases)
            class Broken(manager.FakeManager):
                pass
        ''')
        assert code == 0, out
        caps = data["capabilities"]
        assert data["declared_capabilities"] == ["databases", "lifecycle"]
        assert caps["databases"]["status"] == "pass"
        for name in ("users", "access", "root", "backup", "replication",
                     "configuration", "guest_logs"):
            assert caps[name]["status"] == "skip", name
            assert caps[name]["reason"] == "not declared"
            assert caps[name]["tests"][
                "test_%s_not_declared_refused" % name]["status"] == "pass"

    def test_declared_but_not_refused_fails(self, tmp_path):
        """A manager whose operation() lets an undeclared operation
        through fails that capability."""
        code, out, data = run_kit(tmp_path, '''
            @zope.interface.implementer_only(caps.ILifecycle)
            class Broken(manager.FakeManager):
                def operation(self, name):
                    if name == "enable_root":
                        return self.enable_root
                    return super().operation(name)
        ''')
        assert code == 1, out
        assert data["capabilities"]["root"]["status"] == "fail"
        assert data["capabilities"]["users"]["status"] == "skip"


class TestKitFixtures:
    """The abstract fixtures say what a plugin must provide."""

    def test_spawn_skip_is_reported_as_skip(self, tmp_path):
        """When the spawn fixture skips (no server), declared
        capabilities are skips with that reason, not 'not declared'."""
        test_file = tmp_path / "test_noserver.py"
        test_file.write_text(textwrap.dedent('''
            import pytest

            from trove_guest_base import conformance

            class TestNoServer(conformance.DatastoreSuite):
                datastore = "fake"

                @pytest.fixture(scope="class")
                @classmethod
                def trove_spawn(cls):
                    pytest.skip("no fake server on this machine")
        '''))
        report = tmp_path / "report.json"
        env = dict(os.environ)
        env.pop("TROVE_EVIDENCE_DIR", None)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--rootdir", str(tmp_path), "--trove-report", str(report),
             str(test_file)],
            cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:]
        data = json.loads(report.read_text())
        assert data["live"] is False
        assert "backup" in data["declared_capabilities"]
        for name in data["declared_capabilities"]:
            entry = data["capabilities"][name]
            assert entry["status"] == "skip", name
            assert entry["reason"] == "no fake server on this machine"
        assert data["capabilities"]["cluster"]["reason"] == "not declared"
        assert data["strategies"]["fake-copy"] == {
            "kind": "backup", "status": "skip", "live": False,
            "reason": "no fake server on this machine"}

    def test_missing_spawn_is_explained(self, tmp_path):
        """Without trove_spawn every test errors with what to do."""
        test_file = tmp_path / "test_nospawn.py"
        test_file.write_text(textwrap.dedent('''
            from trove_guest_base.conformance import suite

            class TestNoSpawn(suite.LifecycleTests):
                datastore = "nospawn"
        '''))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--rootdir", str(tmp_path), "-x", str(test_file)],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1
        assert "must override the 'trove_spawn' fixture" in proc.stdout


    def test_override_not_demanded_when_undeclared(self, tmp_path):
        """A plugin without 'configuration' needs no trove_override."""
        test_file = tmp_path / "test_noconfig.py"
        test_file.write_text(textwrap.dedent('''
            import pytest

            from trove_guest_base import testing
            from trove_guest_base.testing import manager
            from trove_guest_base.conformance import probe
            from trove_guest_base.conformance import suite

            class NoConfig(manager.FakeManager):
                @classmethod
                def capabilities(cls):
                    return [c for c in super().capabilities()
                            if c != "configuration"]

            class TestNoConfig(suite.ConfigurationTests):
                datastore = "fake"

                @pytest.fixture(scope="class")
                @classmethod
                def trove_spawn(cls, tmp_path_factory):
                    base = tmp_path_factory.mktemp("noconfig")
                    def spawn():
                        made = testing.make_fake_manager(
                            base, manager_cls=NoConfig)
                        return probe.Instance(made, testing.FakeProbe(made))
                    return spawn
        '''))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-rs", "--rootdir", str(tmp_path), str(test_file)],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "error" not in proc.stdout.lower()
        assert "not declared" in proc.stdout

    def test_missing_override_is_explained(self):
        """Declaring 'configuration' without overrides says what to do."""
        with pytest.raises(NotImplementedError,
                           match="must override the 'trove_override'"):
            conformance.DatastoreSuite.overrides(None)


class TestSpawner:
    """testing.Spawner: own directories and ports per instance."""

    def test_default_directory_enterable_and_removed(self):
        """Without a directory the spawner makes one a service user can
        enter (pytest's are root-only) and removes it on exit."""
        with helpers.Spawner("fake", probe_factory=FakeProbe) as spawn:
            first, second = spawn(), spawn()
            base = spawn.directory
            assert os.stat(base).st_mode & 0o777 == 0o711
            dirs = {first.manager.state_dir, second.manager.state_dir}
            assert len(dirs) == 2
            assert all(d.startswith(base) for d in dirs)
        assert not os.path.exists(base)

    def test_own_port_per_instance(self):
        """A datastore with a 'port' option gets one port per instance."""
        with helpers.Spawner("redis", probe_factory=lambda m: None) as spawn:
            ports = {spawn().manager.options.port for _ in range(3)}
        assert len(ports) == 3 and 6379 not in ports

    def test_needs_probe_factory(self):
        """Forgetting the probe factory is named."""
        with pytest.raises(TypeError, match="needs probe_factory"):
            helpers.Spawner("fake")


class TestPluginImportLight:
    """The pytest11 plugin, loaded by every pytest run, imports little."""

    def test_no_heavy_imports(self):
        """Importing the plugin loads neither discovery nor oslo."""
        code = ("import sys, trove_guest_base.conformance.plugin; "
                "heavy = [m for m in ('trove_core.discovery', 'oslo_config',"
                " 'stevedore', 'trove_guest_base.conformance.suite') "
                "if m in sys.modules]; print(heavy)")
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout
        assert out.strip() == "[]"


class TestProbeContract:
    """A probe lacking a method names it and the capability."""

    def test_missing_method_named(self):
        """The default database_exists explains what to implement."""
        from trove_guest_base.conformance import Probe

        class Minimal(Probe):
            def engine(self):
                return {"name": "x", "version": "1"}

            def is_running(self):
                return True

        with pytest.raises(NotImplementedError,
                           match="database_exists.*'databases'"):
            Minimal().database_exists("db")
        assert issubclass(exceptions.InvalidIdentifier,
                          exceptions.BadRequest)
