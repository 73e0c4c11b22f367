"""The disk image, built by diskimage-builder with the bundle's element.

Opt-in (``TROVE_TEST_DIB=1``; about eight minutes, not in CI): needs
root, ``disk-image-create`` on PATH (``pip install diskimage-builder``)
and Debian's ``qemu-utils``, ``debootstrap``, ``kpartx`` and ``sudo``.
The Debian mirrors are the ones this machine's APT uses. A bootable
``vm`` image needs the kernel's device-mapper for ``kpartx``; where
``dmsetup version`` does not reach its driver (a container) the element
is built into an unpartitioned qcow2 and a tar of the same tree
instead, and the test says so.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

from trove_core.tools.image import build
from trove_core.tools.image import rootfs
from trove_core.tools.image import wheels


def _device_mapper():
    """Whether kpartx can work: dmsetup reaches the kernel's driver."""
    if shutil.which("dmsetup") is None:
        return False
    proc = subprocess.run(["dmsetup", "version"], capture_output=True,
                          text=True, timeout=30, check=False)
    return proc.returncode == 0 and "Driver version" in proc.stdout


def _skip(reason):
    print("SKIP:", reason)
    pytest.skip(reason)


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(2400)
def test_dib_builds_the_redis_guest_disk_image(tmp_path):
    """disk-image-create runs the element (its hooks and the self-check)
    and writes the image."""
    if os.environ.get("TROVE_TEST_DIB") != "1":
        _skip("set TROVE_TEST_DIB=1 to build a disk image with "
              "diskimage-builder (about eight minutes; not in CI)")
    dib = shutil.which("disk-image-create") or str(
        pathlib.Path(sys.executable).parent / "disk-image-create")
    if not os.access(dib, os.X_OK) or os.geteuid() != 0:
        _skip("needs root and disk-image-create (pip install "
              "diskimage-builder)")
    for tool in ("qemu-img", "debootstrap", "sudo"):
        if shutil.which(tool) is None:
            _skip("diskimage-builder needs %s (apt-get install "
                  "qemu-utils debootstrap sudo kpartx)" % tool)
    source = wheels.find_source("trove-core")
    if source is None:
        _skip("trove-core is not installed from a source tree")
    core = wheels.build_project_wheel(source, tmp_path / "core",
                                      "trove-core")
    bundle = tmp_path / "bundle"
    manifest = build.build("redis", bundle, os_id="debian-12",
                           prebuilt=[core],
                           progress=build.Progress(6, quiet=True))
    mirror = rootfs.host_mirror("debian") or rootfs.MIRRORS["debian"]
    env = dict(os.environ, ELEMENTS_PATH=str(bundle / "dib"),
               TROVE_BUNDLE_SOURCE=str(bundle), DIB_RELEASE="bookworm",
               DIB_DISTRIBUTION_MIRROR=mirror,
               DIB_DEBIAN_SECURITY_MIRROR=mirror + "-security",
               PATH=os.pathsep.join([str(pathlib.Path(dib).parent),
                                     os.environ.get("PATH", "")]))
    bootable = _device_mapper()
    if bootable:
        elements, types = ["vm", "debian-minimal"], "qcow2"
    else:
        print("NOTE: the kernel's device-mapper is not usable here: "
              "building an unpartitioned image and a tar, not a "
              "bootable vm image")
        elements, types = ["debian-minimal"], "qcow2,tar"
    out = tmp_path / "guest-redis"
    log = tmp_path / "dib.log"
    with open(log, "w") as handle:
        proc = subprocess.run(
            [dib, "-o", str(out), "-t", types, *elements,
             "trove-guest-redis"], env=env, stdout=handle,
            stderr=subprocess.STDOUT, timeout=2300, check=False)
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text[-4000:]
    for hook in manifest["hooks"]:
        if hook.startswith("install.d/"):
            name = hook.split("/", 1)[1]
            assert "dib-run-parts %s completed" % name in text, name
    assert '"ok": true' in text, "the self-check ran in the image"
    info = json.loads(subprocess.run(
        ["qemu-img", "info", "--output=json", str(out) + ".qcow2"],
        capture_output=True, text=True, timeout=120, check=True).stdout)
    assert info["format"] == "qcow2" and info["virtual-size"] > 1 << 30
    if not bootable:
        with tarfile.open(str(out) + ".tar") as archive:
            names = set(archive.getnames())
        for path in ("./opt/guest-agent-venv/bin/trove-guestagent",
                     "./etc/systemd/system/trove-guestagent.service",
                     "./usr/bin/redis-server"):
            assert path in names, path
