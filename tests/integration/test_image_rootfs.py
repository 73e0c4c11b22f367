"""The debootstrap root filesystem of a Redis guest, built for real.

``trove-guest-image build --rootfs`` as a test: debootstrap of Debian 12
from the mirror this machine's APT uses, the bundle's hooks in a chroot
(the plugin's ``install.d/60-trove-ds-redis``, the OS packages, the
guest's virtualenv, the unit, the self-check), then the smoke test (the
guest agent started inside the tree prepares Redis through the real
client over the local RabbitMQ). Needs root, debootstrap, chroot and
mount; it skips with the reason otherwise.

Bounded: the base system's packages are kept as a debootstrap tarball in
``TROVE_TEST_IMAGE_CACHE`` (default ``~/.cache/trove-core-test/image``,
which outlives the work tree), with the hooks' ``.deb`` files, so only
the first run downloads them; pytest's timeout stops a hung build.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import urllib.parse

import pytest

from trove_core.image import build
from trove_core.image import rootfs
from trove_core.image import wheels


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


@pytest.mark.timeout(1800)
def test_rootfs_of_redis_builds_and_its_guest_prepares(tmp_path):
    """debootstrap + hooks + smoke test: the tree's guest runs Redis."""
    if os.geteuid() != 0:
        _skip("--rootfs needs root (debootstrap, chroot, mount)")
    for tool in ("debootstrap", "chroot", "mount"):
        if shutil.which(tool) is None:
            _skip("--rootfs needs %s (apt-get install %s; scripts/setup.sh"
                  " installs it)" % (tool, tool))
    if shutil.which("git") is None:
        _skip("building wheels of this source tree needs git")
    source = wheels.find_source("trove-core")
    if source is None:
        _skip("trove-core is not installed from a source tree")
    mirror = _mirror()
    cache = pathlib.Path(os.environ.get(
        "TROVE_TEST_IMAGE_CACHE",
        pathlib.Path.home() / ".cache" / "trove-core-test" / "image"))

    core = wheels.build_project_wheel(source, tmp_path / "core",
                                      "trove-core")
    bundle = tmp_path / "bundle"
    manifest = build.build("redis", bundle, os_id="debian-12",
                           prebuilt=[core],
                           progress=build.Progress(6, quiet=True))
    tree = tmp_path / "rootfs"
    try:
        log = rootfs.build_rootfs(bundle, tree, mirror=mirror,
                                  cache_dir=cache,
                                  progress=build.Progress(2))
        assert list(cache.glob("debootstrap-bookworm-minbase-*.tgz"))
        text = log.read_text(errors="replace")
        for hook in manifest["hooks"]:
            assert "trove-guest-image: %s\n" % hook in text, hook
        assert (tree / "usr/bin/redis-server").exists()
        unit = tree / "etc/systemd/system/trove-guestagent.service"
        assert "/opt/guest-agent-venv/bin/trove-guestagent" in \
            unit.read_text()
        assert (tree / "opt/guest-agent-venv/bin/python").exists()
        assert not (tree / "usr/sbin/policy-rc.d").exists()
        assert not _mounted_under(tree), "build left mounts behind"

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
