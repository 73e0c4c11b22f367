"""Packaging: each distribution builds alone and installs alone."""

import json
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = ["mysql", "redis", "mongodb", "cassandra"]
DRIVERS = {"mysql": "pymysql", "redis": "redis", "mongodb": "pymongo",
           "cassandra": "cassandra-driver"}

pytestmark = [pytest.mark.packaging, pytest.mark.slow]


def pip(*args, python=sys.executable, **kwargs):
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-"
                           "check", *args], check=True, capture_output=True,
                          text=True, **kwargs)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    sources = [ROOT] + [ROOT / "plugins" / ("trove-ds-" + p)
                        for p in PLUGINS]
    pip("wheel", "--no-deps", "-q", "-w", str(out), *map(str, sources))
    return {w.name.split("-")[0].replace("_", "-"): w
            for w in out.glob("*.whl")}


def requirements(wheel):
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist()
                    if n.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines
            if line.startswith("Requires-Dist:")]


class TestWheels:
    def test_each_distribution_builds(self, wheels):
        """The core and each plugin build their own wheel."""
        assert set(wheels) == {"trove-core"} | {"trove-ds-" + p
                                                for p in PLUGINS}

    def test_core_depends_on_no_driver(self, wheels):
        """trove-core never pulls a datastore driver."""
        reqs = " ".join(requirements(wheels["trove-core"])).lower()
        for driver in DRIVERS.values():
            assert driver not in reqs

    @pytest.mark.parametrize("plugin", PLUGINS)
    def test_plugin_is_light_and_alone(self, wheels, plugin):
        """A plugin needs only trove-core; its driver is the guest
        extra; it never depends on another plugin."""
        reqs = requirements(wheels["trove-ds-" + plugin])
        plain = [r for r in reqs if "extra ==" not in r]
        extra = [r for r in reqs if "extra ==" in r]
        assert [r.split(">")[0].split("=")[0].strip() for r in plain] == [
            "trove-core"]
        assert any(DRIVERS[plugin] in r.lower() and "guest" in r
                   for r in extra)
        assert not any("trove-ds-" in r for r in reqs)

    @pytest.mark.parametrize("dist", ["trove-core"] + ["trove-ds-" + p
                                                       for p in PLUGINS])
    def test_package_data_ships(self, wheels, dist):
        """Every tracked non-Python file of a package is in its wheel
        (image elements, configuration schemas)."""
        top = ROOT if dist == "trove-core" else ROOT / "plugins" / dist
        packages = ([dist.replace("-", "_")] if dist != "trove-core"
                    else ["trove_core", "trove_guest_base"])
        tracked = subprocess.run(
            ["git", "ls-files", *packages], cwd=top, check=True,
            capture_output=True, text=True).stdout.split()
        data = {f for f in tracked if not f.endswith(".py")}
        with zipfile.ZipFile(wheels[dist]) as archive:
            shipped = set(archive.namelist())
        assert data - shipped == set()

    def test_fake_is_a_plugin_of_its_own(self, wheels, tmp_path):
        """trove-ds-fake ships the fake's descriptor and elements;
        trove-core's wheel holds no plugin and no image elements."""
        pip("wheel", "--no-deps", "-q", "-w", str(tmp_path),
            str(ROOT / "tests" / "plugins" / "trove-ds-fake"))
        (fake,) = tmp_path.glob("trove_ds_fake-*.whl")
        with zipfile.ZipFile(fake) as archive:
            names = set(archive.namelist())
        assert {"trove_ds_fake/plugin.py",
                "trove_ds_fake/elements/install.d/60-trove-fake"} <= names
        with zipfile.ZipFile(wheels["trove-core"]) as archive:
            core = archive.namelist()
        assert not [n for n in core if n.startswith("trove_ds_")
                    or "/elements/" in n]
        assert "trove_guest_base/testing/data/validation-rules.json" in core

    def test_builds_outside_git_with_pbr_version(self, tmp_path):
        """Outside a git checkout, PBR_VERSION gives the version."""
        copy = tmp_path / "trove-ds-redis"
        shutil.copytree(ROOT / "plugins" / "trove-ds-redis", copy,
                        ignore=shutil.ignore_patterns("*.egg-info",
                                                      "__pycache__"))
        env = {"PBR_VERSION": "7.7.7", "PATH": "/usr/bin:/bin",
               "HOME": str(tmp_path)}
        pip("wheel", "--no-deps", "-q", "-w", str(tmp_path / "w"),
            str(copy), env=env)
        (wheel,) = (tmp_path / "w").glob("*.whl")
        assert "-7.7.7-" in wheel.name


class TestSingleDatastoreInstall:
    def test_core_plus_redis_lists_exactly_redis(self, wheels, tmp_path):
        """A clean venv with trove-core and trove-ds-redis lists only
        redis, and no other datastore's driver is installed."""
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)],
                       check=True)
        python = venv / "bin" / "python"
        pip("install", "-q", str(wheels["trove-core"]),
            str(wheels["trove-ds-redis"]) + "[guest]", python=python)
        code = ("import importlib.util, json\n"
                "from trove_core import discovery\n"
                "recs = discovery.discover()\n"
                "mods = ['pymysql', 'pymongo', 'cassandra', 'redis']\n"
                "print(json.dumps([[r.name for r in recs], [r.health.value "
                "for r in recs], {m: importlib.util.find_spec(m) is not "
                "None for m in mods}]))\n")
        out = subprocess.run([str(python), "-c", code], check=True,
                             capture_output=True, text=True).stdout
        names, health, drivers = json.loads(out)
        assert names == ["redis"] and health == ["ok"]
        assert drivers == {"pymysql": False, "pymongo": False,
                           "cassandra": False, "redis": True}
