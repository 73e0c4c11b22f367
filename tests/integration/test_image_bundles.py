"""Build and verify the guest bundle of every datastore (CI does this).

trove-core's wheel is built once for the module; each datastore then gets
its own bundle (its plugin's wheel, a wheelhouse, the lock file) which is
installed offline into a clean virtualenv and checked. pip's own cache is
shared between the builds.
"""

import json
import pathlib
import shutil

import pytest

from trove_core.tools.image import build
from trove_core.tools.image import errors
from trove_core.tools.image import verify
from trove_core.tools.image import wheels

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

REAL = ["cassandra", "mongodb", "mysql", "redis"]


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("building wheels of this source tree needs git")
    source = wheels.find_source("trove-core")
    if source is None:
        pytest.skip("trove-core is not installed from a source tree")
    out = tmp_path_factory.mktemp("core-wheel")
    return wheels.build_project_wheel(source, out, "trove-core")


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in REAL])
class TestBundle:
    """One datastore's bundle, built and verified offline."""

    def test_build_and_verify(self, name, core_wheel, tmp_path):
        """The bundle installs offline and is a working one-datastore guest."""
        out = tmp_path / "bundle"
        progress = build.Progress(6, quiet=True)
        manifest = build.build(name, out, os_id="debian-12",
                               prebuilt=[core_wheel], progress=progress)
        assert progress.step == 6

        assert manifest["datastore"] == name
        assert json.loads((out / "bundle.json").read_text()) == manifest
        projects = {wheels.project_of(p)[0]
                    for p in wheels.wheel_files(out / "wheelhouse")}
        plugins = sorted(p for p in projects if p.startswith("trove-ds-"))
        assert plugins == ["trove-ds-%s" % name]
        assert "trove-core" in projects

        lock = (out / "requirements.lock").read_text()
        assert "trove-ds-%s[guest]==" % name in lock
        assert "cryptography" not in lock, "[secure] is opt-in"
        assert lock.count("--hash=sha256:") == len(projects)

        element = out / "dib" / ("trove-guest-%s" % name)
        for path in ("package-installs.yaml", "element-deps",
                     "install.d/75-trove-guest-venv"):
            assert (element / path).is_file(), path
        for hook in manifest["hooks"]:
            assert (out / "hooks" / hook).is_file(), hook
        sample = (out / "trove-guestagent.conf.sample").read_text()
        assert "[%s]" % name in sample

        report = verify.verify(out, progress=build.Progress(4, quiet=True))
        assert report["ok"], report["problems"]
        assert report["plugins"] == [name]
        assert report["selfcheck"]["ok"]
        assert sorted(report["selfcheck"]["drivers"]) == sorted(
            manifest["driver_modules"])
        assert report["distributions"] == len(projects)
        assert report["footprint_mb"] > 0


class TestTamper:
    """The lock file's hashes are enforced offline."""

    def test_tampered_wheel_fails_verification(self, core_wheel, tmp_path):
        """A wheel whose hash no longer matches the lock is refused."""
        out = tmp_path / "bundle"
        manifest = build.build("redis", out, os_id="debian-12",
                               prebuilt=[core_wheel], core_extras=["secure"],
                               progress=build.Progress(6, quiet=True))
        assert manifest["core_extras"] == ["secure"]
        lock = (out / "requirements.lock").read_text()
        assert "trove-core[secure]==" in lock
        assert "\ncryptography==" in lock
        victim = next(pathlib.Path(out / "wheelhouse").glob("redis-*.whl"))
        with open(victim, "ab") as handle:
            handle.write(b"\0")
        with pytest.raises(errors.VerificationFailed,
                           match="offline install failed") as info:
            verify.verify(out, progress=build.Progress(4, quiet=True))
        assert info.value.bundle == str(out)
