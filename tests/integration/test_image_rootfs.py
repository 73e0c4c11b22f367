"""The debootstrap root filesystems of the CI's guests, built for real.

``trove-guest-image build --rootfs`` as a test, for redis, mysql and
fake: debootstrap of Debian 12 from the mirror this machine's APT uses,
the bundle's hooks in a chroot (the plugin's ``install.d/60-trove-ds-*``,
the OS packages, the guest's virtualenv, the unit, the self-check); for
redis then the smoke test (the guest agent started inside the tree
prepares Redis through the real client over the local RabbitMQ). Needs
root, debootstrap, chroot and mount; it skips with the reason otherwise.

Each build writes its image record (``<datastore>.image.json``) to
``$TROVE_EVIDENCE_DIR`` (``scripts/test.sh`` sets it), which
``trove-datastores check`` needs for technical preview and up
(requirement ``image``): this test is how CI keeps the README's tiers.

Bounded: the base system's packages are kept as a debootstrap tarball in
``TROVE_TEST_IMAGE_CACHE`` (default ``~/.cache/trove-core-test/image``,
which outlives the work tree), with the hooks' ``.deb`` files, shared by
the three builds, so only the first build of the first run downloads
them; trove-core's wheel is built once for the three; pytest's timeout
stops a hung build.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import urllib.parse

import pytest

from trove_core import discovery
from trove_core.tools import evidence
from trove_core.tools.image import build
from trove_core.tools.image import rootfs
from trove_core.tools.image import wheels


pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.rabbitmq]


def _skip(reason):
    print("SKIP:", reason)
    pytest.skip(reason)


def _mirror():
    mirror = rootfs.host_mirror("debian") or rootfs.MIRRORS["debian"]
    url = urllib.parse.urlparse(mirror)
    try:
        socket.create_connection((url.hostname, url.port or 80),
                                 timeout=10).close()
    except OSError as exc:
        _skip("the Debian mirror %s is not reachable (%s)" % (mirror, exc))
    return mirror


def _mounted_under(path):
    with open("/proc/mounts") as handle:
        return [line.split()[1] for line in handle
                if line.split()[1].startswith(str(path))]


def _preconditions():
    if os.geteuid() != 0:
        _skip("--rootfs needs root (debootstrap, chroot, mount)")
    for tool in ("debootstrap", "chroot", "mount"):
        if shutil.which(tool) is None:
            _skip("--rootfs needs %s (apt-get install %s; scripts/setup.sh"
                  " installs it)" % (tool, tool))
    if shutil.which("git") is None:
        _skip("building wheels of this source tree needs git")


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory):
    """trove-core's wheel, built once for every datastore's bundle."""
    _preconditions()
    source = wheels.find_source("trove-core")
    if source is None:
        _skip("trove-core is not installed from a source tree")
    return wheels.build_project_wheel(
        source, tmp_path_factory.mktemp("core"), "trove-core")


@pytest.fixture(scope="module")
def fake_wheel(tmp_path_factory):
    """The wheel of tests/plugins/trove-ds-fake: the fake datastore's
    descriptor and elements (its engine is in trove-core's wheel)."""
    source = pathlib.Path(__file__).resolve().parents[1] / "plugins" / \
        "trove-ds-fake"
    dest = tmp_path_factory.mktemp("fake")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(dest),
                    str(source)], check=True, capture_output=True,
                   timeout=300)
    (wheel,) = dest.glob("trove_ds_fake-*.whl")
    return wheel


@pytest.fixture(scope="module")
def mirror():
    """The Debian mirror, or a skip when it cannot be reached."""
    return _mirror()


def _evidence_dir(tmp_path):
    """$TROVE_EVIDENCE_DIR (CI's, read by trove-datastores check after the
    run), else a directory of this test."""
    return pathlib.Path(os.environ.get("TROVE_EVIDENCE_DIR")
                        or tmp_path / "evidence")


#: datastore -> a file its OS packages install into the tree
_INSTALLED = {"redis": "usr/bin/redis-server", "mysql": "usr/sbin/mariadbd",
              "fake": "var/lib/trove/fake"}


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("datastore", ["redis", "mysql", "fake"])
def test_rootfs_builds_and_records_its_hooks(datastore, core_wheel, mirror,
                                             tmp_path, request):
    """debootstrap + hooks: the tree holds the server and the agent, no
    service started inside, and the image record names every hook that
    ran with its sha256 and exit 0; for redis, the tree's guest prepares
    Redis (smoke test)."""
    cache = pathlib.Path(os.environ.get(
        "TROVE_TEST_IMAGE_CACHE",
        pathlib.Path.home() / ".cache" / "trove-core-test" / "image"))
    bundle = tmp_path / "bundle"
    prebuilt = [core_wheel]
    if datastore == "fake":
        prebuilt.append(request.getfixturevalue("fake_wheel"))
    manifest = build.build(datastore, bundle, os_id="debian-12",
                           prebuilt=prebuilt,
                           progress=build.Progress(6, quiet=True))
    tree = tmp_path / "rootfs"
    where = _evidence_dir(tmp_path)
    try:
        log = rootfs.build_rootfs(bundle, tree, mirror=mirror,
                                  cache_dir=cache, evidence=where,
                                  progress=build.Progress(2))
        assert list(cache.glob("debootstrap-bookworm-minbase-*.tgz"))
        text = log.read_text(errors="replace")
        for hook in manifest["hooks"]:
            assert "trove-guest-image: %s\n" % hook in text, hook
            assert "trove-guest-image: %s exit 0\n" % hook in text, hook
        assert (tree / _INSTALLED[datastore]).exists()
        unit = tree / "etc/systemd/system/trove-guestagent.service"
        assert "/opt/guest-agent-venv/bin/trove-guestagent" in \
            unit.read_text()
        assert (tree / "opt/guest-agent-venv/bin/python").exists()
        assert not (tree / "usr/sbin/policy-rc.d").exists()
        assert not _mounted_under(tree), "build left mounts behind"
        # policy-rc.d kept the packages' services from starting
        if datastore == "mysql":
            assert "policy-rc.d denied execution of start" in text
        assert not rootfs._processes_in(tree.resolve()), \
            "a service of the packages runs in the tree"

        record = evidence.read_image_record(where / (
            "%s.image.json" % datastore))
        assert record["result"] == "pass" and record["self_check"] == \
            "pass", record
        assert record["os"] == "debian-12"
        assert record["plugin_version"] == manifest["version"]
        ran = {h["hook"]: h for h in record["hooks"]}
        for hook in manifest["hooks"]:
            assert ran[hook]["exit"] == 0
            assert ran[hook]["sha256"] == evidence.sha256_hex(
                (bundle / "hooks" / hook).read_bytes())
        assert record["provenance"] == evidence.provenance(datastore)
        checked = evidence.evaluate(discovery.find(datastore), where,
                                    load_manager=False)
        image = next(r for r in checked.requirements if r.id == "image")
        assert image.passed, image.evidence

        if datastore == "redis":
            health = rootfs.smoke_test(
                tree, "redis", "rabbit://guest:guest@127.0.0.1:5672/",
                progress=build.Progress(3))
            assert health["status"] in ("running", "healthy"), health
            assert not _mounted_under(tree), "smoke test left mounts behind"
            assert not list((tree / "etc/trove/conf.d").glob("guest_info*"))
    finally:
        for point in reversed(_mounted_under(tree)):
            subprocess.run(["umount", "-l", point], check=False, timeout=60)
        shutil.rmtree(tree, ignore_errors=True)
