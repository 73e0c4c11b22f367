"""The image builder in a virtualenv made the way users make one.

``python3 -m venv`` gives pip and setuptools as the interpreter ships them
(setuptools 65 on Debian 12, no ``wheel``): setuptools has no
``bdist_wheel`` there, so a build without isolation fails. Nothing is
upgraded in these virtualenvs. trove-core and the Redis plugin are
installed

* from wheels (no source tree anywhere): the builder repacks the
  installed distributions;
* trove-core from its source directory (non-editable): the builder
  builds its wheel with pip's build isolation.

and ``trove-guest-image build --datastore redis`` must produce a bundle
that verifies. Without an index to fetch pbr and setuptools from, the
source build says what it needs.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
REDIS = ROOT / "plugins" / "trove-ds-redis"

pytestmark = [pytest.mark.packaging, pytest.mark.slow]


def _run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, timeout=600, check=False, **kwargs)


def _plain_venv(where):
    python = shutil.which("python3")
    if python is None:
        pytest.skip("no python3 on PATH to make a plain virtualenv with")
    proc = _run([python, "-m", "venv", where])
    if proc.returncode != 0:
        pytest.skip("python3 -m venv does not work here (apt-get install "
                    "python3-venv): %s" % proc.stderr.strip()[-200:])
    return where / "bin"


def _shipped(bindir):
    """pip, setuptools and wheel versions of a fresh venv."""
    out = _run([bindir / "python", "-c", "import importlib.metadata as m\n"
                "for d in ('pip', 'setuptools', 'wheel'):\n"
                "    try: print(d, m.version(d))\n"
                "    except m.PackageNotFoundError: print(d, '-')"])
    return dict(line.split() for line in out.stdout.splitlines())


def _pip(bindir, *args):
    proc = _run([bindir / "python", "-m", "pip", "--disable-pip-version-"
                 "check", *args])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def project_wheels(tmp_path_factory):
    """Wheels of trove-core and trove-ds-redis, as a release would ship."""
    if shutil.which("git") is None:
        pytest.skip("building wheels of this source tree needs git")
    out = tmp_path_factory.mktemp("dist")
    _pip(pathlib.Path(sys.executable).parent, "wheel", "--no-deps", "-q",
         "-w", out, ROOT, REDIS)
    found = {w.name.split("-")[0]: w for w in out.glob("*.whl")}
    assert set(found) == {"trove_core", "trove_ds_redis"}, found
    return found


def _build(bindir, out, cwd, env=None):
    return _run([bindir / "trove-guest-image", "build", "--datastore",
                 "redis", "--output", out], cwd=cwd, env=env)


def _check_bundle(out):
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["datastore"] == "redis"
    plugin = next((out / "wheelhouse").glob("trove_ds_redis-*.whl"))
    with zipfile.ZipFile(plugin) as archive:
        hook = archive.getinfo(
            "trove_ds_redis/elements/install.d/60-trove-ds-redis")
        assert (hook.external_attr >> 16) & 0o111, "hook lost its x bit"
    assert next((out / "wheelhouse").glob("trove_core-*.whl"))
    return manifest


def test_plain_venv_from_wheels_builds_and_verifies(project_wheels,
                                                    tmp_path):
    """No source tree, setuptools as shipped: the bundle still builds."""
    bindir = _plain_venv(tmp_path / "venv")
    shipped = _shipped(bindir)
    print("fresh venv ships", shipped)
    _pip(bindir, "install", "-q", project_wheels["trove_core"],
         "%s[guest]" % project_wheels["trove_ds_redis"])
    out = tmp_path / "bundle"
    proc = _build(bindir, out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bdist_wheel" not in proc.stderr
    assert "repacking the installed trove-core" in proc.stdout
    assert "repacking the installed trove-ds-redis" in proc.stdout
    _check_bundle(out)
    verify = _run([bindir / "trove-guest-image", "verify", out, "--json"],
                  cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["ok"] and report["plugins"] == ["redis"]

    # an installed file changed after installation is not packed
    site = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    with open(site / "trove_ds_redis" / "plugin.py", "a") as handle:
        handle.write("# changed\n")
    proc = _build(bindir, tmp_path / "again", cwd=tmp_path)
    assert proc.returncode == 1
    assert "differ from its RECORD" in proc.stderr, proc.stderr
    assert "trove_ds_redis/plugin.py" in proc.stderr
    assert "--force-reinstall" in proc.stderr


def test_plain_venv_from_source_dir_builds(project_wheels, tmp_path):
    """trove-core installed from its directory builds with isolation;
    without an index the error says what is needed."""
    bindir = _plain_venv(tmp_path / "venv")
    shipped = _shipped(bindir)
    _pip(bindir, "install", "-q", ROOT,
         "%s[guest]" % project_wheels["trove_ds_redis"])
    out = tmp_path / "bundle"
    proc = _build(bindir, out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "building trove-core from %s" % ROOT in proc.stdout
    _check_bundle(out)

    if shipped.get("wheel", "-") != "-" or not shipped[
            "setuptools"].startswith(("5", "6")):
        pytest.skip("this python3 ships setuptools %s / wheel %s, which "
                    "build wheels without an index" % (
                        shipped["setuptools"], shipped.get("wheel")))
    offline = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1",
                   PIP_FIND_LINKS="")
    proc = _build(bindir, tmp_path / "offline", cwd=tmp_path, env=offline)
    assert proc.returncode == 1
    assert "setuptools>=70.1" in proc.stderr, proc.stderr
    assert "%s install wheel" % (bindir / "pip") in proc.stderr
    assert "--wheel PATH" in proc.stderr
    assert not any((tmp_path / "offline").glob("*")), "half a bundle left"
