"""The operator CLI in fresh interpreters: what it imports, zero plugins."""

import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys
import sysconfig

import pytest

from trove_core import discovery

REPO = pathlib.Path(__file__).resolve().parents[2]

PROBE = """
import io, json, sys
from trove_core.tools import cli
out = io.StringIO()
code = cli.main(sys.argv[1:], stream=out)
json.dump({"code": code, "out": out.getvalue(),
           "modules": sorted(sys.modules)}, sys.stdout)
"""

# names in site-packages that make a plugin importable or discoverable
PLUGIN_PREFIXES = ("trove_ds_", "trove_test_plugins", "__editable__.trove_ds",
                   "__editable___trove_ds", "__editable__.trove_test",
                   "__editable___trove_test")


def probe(argv, python_flags=(), env=None):
    """Run the CLI in a new interpreter; return its code, output, modules."""
    proc = subprocess.run(
        [sys.executable, *python_flags, "-c", PROBE, *argv],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def forbidden_modules():
    """Manager modules (unless they also hold a descriptor) and drivers."""
    descriptor_modules = {
        ep.value.split(":")[0] for ep in importlib.metadata.entry_points(
            group=discovery.DATASTORES_GROUP)}
    managers = {
        ep.value.split(":")[0] for ep in importlib.metadata.entry_points(
            group=discovery.MANAGERS_GROUP)}
    drivers = {"pymysql", "redis", "pymongo", "cassandra"}
    for rec in discovery.discover():
        if rec.ok:
            drivers.update(rec.descriptor.driver_modules)
    return (managers - descriptor_modules) | drivers


class TestImportsNothingHeavy:
    """Listing reads descriptors only."""

    @pytest.mark.parametrize("argv", [
        pytest.param(["list", "-f", "json"], id="list"),
        pytest.param(["matrix", "-f", "json"], id="matrix"),
        pytest.param(["show", "mysql", "-f", "json"], id="show"),
    ])
    def test_no_manager_no_driver(self, argv, tmp_path):
        """No manager module and no datastore driver is imported."""
        env = dict(os.environ, TROVE_EVIDENCE_DIR=str(tmp_path))
        result = probe(argv, env=env)
        assert result["code"] == 0
        forbidden = forbidden_modules()
        assert "trove_ds_mysql.manager" in forbidden
        assert "pymysql" in forbidden
        imported = set(result["modules"])
        leaked = sorted(m for m in imported if m in forbidden or any(
            m.startswith(f + ".") for f in forbidden))
        assert leaked == []
        assert "trove_ds_mysql.plugin" in imported


@pytest.fixture(scope="module")
def bare_site(tmp_path_factory):
    """A copy (by symlinks) of site-packages without any datastore plugin."""
    site = pathlib.Path(sysconfig.get_paths()["purelib"])
    bare = tmp_path_factory.mktemp("bare-site")
    for entry in site.iterdir():
        if entry.name.startswith(PLUGIN_PREFIXES) or entry.suffix == ".pth":
            continue
        (bare / entry.name).symlink_to(entry)
    return bare


class TestZeroPlugins:
    """With no plugin installed the CLI still works."""

    def test_list_empty(self, bare_site, tmp_path):
        """list prints an empty result and exits 0."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(bare_site), str(REPO)]), TROVE_EVIDENCE_DIR=str(tmp_path))
        # -S: no site-packages, so only the bare copy is on sys.path
        result = probe(["list", "-f", "json"], ("-S",), env)
        assert result["code"] == 0
        assert json.loads(result["out"]) == []
        assert not [m for m in result["modules"]
                    if m.startswith("trove_ds_")]

    def test_matrix_and_check_all_empty(self, bare_site, tmp_path):
        """matrix is empty and check --all passes vacuously."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(bare_site), str(REPO)]), TROVE_EVIDENCE_DIR=str(tmp_path))
        assert json.loads(probe(["matrix", "-f", "json"], ("-S",),
                                env)["out"]) == {}
        result = probe(["check", "--all", "-f", "json"], ("-S",), env)
        assert result["code"] == 0 and json.loads(result["out"]) == []


class TestConsoleScript:
    """The installed ``trove-datastores`` entry point runs."""

    def test_help(self):
        """--help works through the console script and shows exit codes."""
        script = pathlib.Path(sys.executable).parent / "trove-datastores"
        if not script.exists():
            pytest.skip("console script %s is not installed" % script)
        proc = subprocess.run([str(script), "--help"], capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "exit codes:" in proc.stdout

    def test_exit_code_propagates(self):
        """An unknown plugin exits 3 from the process."""
        proc = subprocess.run(
            [sys.executable, "-m", "trove_core.tools.cli", "show", "nosuch"],
            capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 3
        assert "no datastore plugin named 'nosuch'" in proc.stderr
