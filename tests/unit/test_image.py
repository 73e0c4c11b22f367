"""Units of trove-guest-image: targets, plugin elements, lock, rendering."""

import hashlib
import os
import pathlib
import shutil
import subprocess
import zipfile

import pytest

from trove_core import discovery
from trove_core import exceptions
from trove_core.tools.image import cli
from trove_core.tools.image import errors
from trove_core.tools.image import render
from trove_core.tools.image import target as target_mod
from trove_core.tools.image import wheels

REAL = ["cassandra", "mongodb", "mysql", "redis"]


@pytest.fixture(scope="module")
def records():
    return discovery.discover()


def _target(records, name="redis", os_id="debian-12"):
    return target_mod.resolve(name, os_id, python="3.11", records=records)


class TestResolve:
    """Reading what to build from the installed plugin."""

    def test_unsupported_os_is_refused_with_the_supported_list(self,
                                                              records):
        """An OS the plugin does not declare is refused, naming the others."""
        with pytest.raises(errors.UnsupportedOS,
                           match=r"'centos-9'.*supported: \['debian-12', "
                                 r"'ubuntu-22.04'\].*--os") as info:
            _target(records, os_id="centos-9")
        assert info.value.supported == ["debian-12", "ubuntu-22.04"]
        assert info.value.os_id == "centos-9"
        assert info.value.datastore == "redis"

    def test_unknown_datastore_is_refused(self, records):
        """A datastore no plugin provides raises PluginNotFound."""
        with pytest.raises(exceptions.PluginNotFound,
                           match="no datastore plugin named 'oracle'") as info:
            _target(records, name="oracle")
        assert "redis" in info.value.installed

    def test_plugin_without_image_data_is_refused(self, records):
        """A descriptor declaring no supported OS cannot be built."""
        with pytest.raises(errors.ImageBuildError,
                           match="declares no supported OS") as info:
            _target(records, name="goodtest", os_id=None)
        assert info.value.datastore == "goodtest"

    @pytest.mark.parametrize("python, expected", [
        pytest.param("3.11", "debian-12", id="local-python-wins"),
        pytest.param("3.9", "ubuntu-22.04", id="first-declared"),
    ])
    def test_default_os(self, records, python, expected):
        """Without --os the first OS whose python3 matches is chosen."""
        target = target_mod.resolve("mongodb", None, python=python,
                                    records=records)
        assert target.os.id == expected

    def test_packages_put_the_base_first(self, records):
        """The OS packages are python3, python3-venv, then the plugin's."""
        target = _target(records)
        assert target.packages == ("python3", "python3-venv",
                                   "redis-server", "redis-tools")


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in REAL])
class TestPluginElements:
    """Each real plugin's elements, as installed, against its descriptor."""

    def test_every_supported_os_is_known(self, records, name):
        """trove-guest-image knows every OS the plugin declares."""
        record = discovery.find(name, records)
        for entry in record.descriptor.image.supported_os:
            assert entry.id in target_mod.known_os()
            assert entry.packages, entry.id

    def test_hooks_are_valid_shell_and_cover_every_os(self, records, name):
        """Hooks parse with sh -n and name each supported OS they switch on."""
        record = discovery.find(name, records)
        target = _target(records, name)
        ids = [e.id for e in record.descriptor.image.supported_os]
        assert target.elements.names(), "no hooks"
        for _phase, entries in target.elements.hooks.items():
            for hook, data in entries:
                proc = subprocess.run(["sh", "-n"], input=data,
                                      capture_output=True, check=False)
                assert proc.returncode == 0, (hook, proc.stderr)
                assert data.startswith(b"#!/bin/sh\n"), hook
                if b'case "$TROVE_OS_ID"' in data:
                    for os_id in ids:
                        assert os_id.encode() in data, (hook, os_id)

    def test_source_hooks_are_executable_and_tracked(self, records, name):
        """The hooks in the source tree are executable and committed to git."""
        record = discovery.find(name, records)
        source = wheels.find_source(record.distribution)
        if source is None:
            pytest.skip("%s is not installed from a source tree"
                        % record.distribution)
        inside = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True, check=False)
        if inside.returncode != 0:
            pytest.skip("%s is not a git checkout" % source)
        package = record.target.split(".", 1)[0]
        root = source / package / "elements"
        tracked = subprocess.run(
            ["git", "-C", str(source), "ls-files", package + "/elements"],
            capture_output=True, text=True, check=True).stdout.split()
        for hook in _target(records, name).elements.names():
            assert os.access(root / hook, os.X_OK), hook
            assert "%s/elements/%s" % (package, hook) in tracked, hook

    def test_no_hook_takes_a_core_hook_name(self, records, name):
        """Plugin hooks and core hooks merge without a clash."""
        merged = render.merged_hooks(_target(records, name))
        assert "75-trove-guest-venv" in dict(merged["install.d"])


class TestLock:
    """The hash-pinned lock file."""

    def test_lines_pin_versions_and_hashes(self, tmp_path):
        """Each project is pinned with the sha256 of its wheel, extras kept."""
        one = tmp_path / "trove_ds_x-1.0-py3-none-any.whl"
        two = tmp_path / "PyYAML-6.0.3-cp311-cp311-linux_x86_64.whl"
        one.write_bytes(b"one")
        two.write_bytes(b"two")
        lines = wheels.lock_lines([one, two], extras={"trove-ds-x": "guest"})
        assert lines == [
            "pyyaml==6.0.3 \\",
            "    --hash=sha256:%s" % hashlib.sha256(b"two").hexdigest(),
            "trove-ds-x[guest]==1.0 \\",
            "    --hash=sha256:%s" % hashlib.sha256(b"one").hexdigest(),
        ]

    def test_not_a_wheel_name(self):
        """A file name that is not a wheel's is refused."""
        with pytest.raises(ValueError, match="not a wheel file name"):
            wheels.project_of("setup.py")


class TestRender:
    """Hooks, unit, Containerfile and diskimage-builder element."""

    def test_bundle_files(self, records, tmp_path):
        """The bundle has every file, hooks executable, OS packages listed."""
        target = _target(records)
        files = render.write_bundle_files(target, tmp_path)
        for path in ("Containerfile", "run-hooks.sh", "packages",
                     "trove-guestagent.service",
                     "hooks/install.d/60-trove-ds-redis",
                     "dib/trove-guest-redis/package-installs.yaml",
                     "dib/trove-guest-redis/install.d/75-trove-guest-venv",
                     "dib/trove-guest-redis/extra-data.d/"
                     "10-trove-guest-bundle"):
            assert path in files
        assert (tmp_path / "Containerfile").read_text().count(
            "FROM docker.io/library/debian:12") == 1
        installs = (tmp_path / "dib/trove-guest-redis/"
                    "package-installs.yaml").read_text()
        assert installs.splitlines() == ["python3:", "python3-venv:",
                                         "redis-server:", "redis-tools:"]
        unit = (tmp_path / "trove-guestagent.service").read_text()
        assert "ExecStart=/opt/guest-agent-venv/bin/trove-guestagent" in unit
        assert os.access(tmp_path / "hooks/install.d/50-trove-service-user",
                         os.X_OK)
        env = (tmp_path / "environment").read_text()
        assert "export TROVE_DATA_DIRS=/var/lib/redis\n" in env

    def test_environment_is_shell_quoted(self, records, tmp_path):
        """Values with spaces survive being sourced by sh."""
        render.write_bundle_files(_target(records, "mysql"), tmp_path)
        proc = subprocess.run(
            ["sh", "-c", '. "$1"; printf %s "$TROVE_DATA_DIRS"', "sh",
             str(tmp_path / "environment")],
            capture_output=True, text=True, check=True)
        assert proc.stdout == "/var/lib/mysql /var/run/mysqld"

    def test_hook_named_like_a_core_hook_is_refused(self, records):
        """A plugin hook cannot silently replace the core's."""
        target = _target(records)
        clash = target_mod.Elements("test", {"install.d": (
            ("75-trove-guest-venv", b"#!/bin/sh\n"),)})
        bad = target_mod.Target(target.record, target.os, target.packages,
                                clash)
        with pytest.raises(errors.ImageBuildError,
                           match="name of a core hook") as info:
            render.merged_hooks(bad)
        assert info.value.datastore == "redis"

    def test_sample_config(self, records, tmp_path):
        """The sample config holds the core and the plugin's guest options."""
        path = tmp_path / "trove-guestagent.conf.sample"
        used = render.generate_sample_config(_target(records), path)
        text = path.read_text()
        assert used[0] == "trove.core"
        assert used[-1] == "trove.datastore.redis.guest"
        assert "[redis]" in text
        assert "allowed_tiers" in text


class TestCli:
    """trove-guest-image's exit codes and messages."""

    def test_unsupported_os_exits_1(self, tmp_path, capsys):
        """An unsupported OS is an error naming the supported ones."""
        code = cli.main(["build", "--datastore", "redis", "--os",
                         "centos-9", "--output", str(tmp_path / "b")])
        assert code == 1
        err = capsys.readouterr().err
        assert "supported: ['debian-12', 'ubuntu-22.04']" in err

    def test_non_empty_output_is_refused(self, tmp_path, capsys):
        """An existing non-bundle directory is never overwritten."""
        (tmp_path / "keep.txt").write_text("mine")
        code = cli.main(["build", "--datastore", "redis", "--output",
                         str(tmp_path), "--force"])
        assert code == 1
        assert "not a guest bundle" in capsys.readouterr().err
        assert (tmp_path / "keep.txt").read_text() == "mine"

    def test_verify_needs_a_bundle(self, tmp_path, capsys):
        """Verifying a directory without bundle.json says how to build one."""
        assert cli.main(["verify", str(tmp_path)]) == 1
        assert "trove-guest-image build" in capsys.readouterr().err

    def test_bad_source_option(self, capsys):
        """--source must be DIST=DIR."""
        with pytest.raises(SystemExit):
            cli.main(["build", "--datastore", "redis", "--output", "x",
                      "--source", "nodir"])
        assert "DISTRIBUTION=DIR" in capsys.readouterr().err


class TestProjectWheel:
    """Building a pbr project's wheel outside git."""

    def test_outside_git_needs_pbr_version(self, tmp_path, monkeypatch):
        """A plain directory without PBR_VERSION is refused with the fix."""
        monkeypatch.delenv("PBR_VERSION", raising=False)
        (tmp_path / "setup.cfg").write_text("[metadata]\nname = x\n")
        with pytest.raises(errors.ImageBuildError,
                           match="set PBR_VERSION") as info:
            wheels.build_project_wheel(tmp_path, tmp_path / "out", "redis")
        assert info.value.datastore == "redis"

    @pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
    def test_find_source_of_editable_install(self):
        """An editable install's source tree is found from direct_url.json."""
        source = wheels.find_source("trove-ds-redis")
        if source is None:
            pytest.skip("trove-ds-redis is not installed from a source tree")
        assert (source / "setup.cfg").is_file()
        assert wheels.find_source("no-such-distribution") is None


REDIS_SOURCE = pathlib.Path(__file__).resolve().parents[2] / "plugins" / \
    "trove-ds-redis"
DATA = pathlib.PurePath("trove_ds_redis", "plugin.descriptor.json")


def _stale_copy(tmp_path):
    """A copy of the Redis plugin's source whose committed descriptor data
    says the wrong tier."""
    copy = tmp_path / "trove-ds-redis"
    shutil.copytree(REDIS_SOURCE, copy, ignore=shutil.ignore_patterns(
        "*.egg-info", "__pycache__", "build", "dist"))
    text = (copy / DATA).read_text(encoding="utf-8")
    assert '"stable"' in text
    (copy / DATA).write_text(text.replace('"stable"', '"experimental"', 1),
                             encoding="utf-8")
    return copy


class TestDescriptorDataInBuild:
    """The image builder's wheel build writes each plugin's descriptor
    data from its plugin.py, into the copy it builds."""

    def test_stale_data_rewritten_and_named(self, tmp_path, caplog):
        """Stale committed data is rewritten in the copy, with a warning
        that names the source and the command that fixes it."""
        copy = _stale_copy(tmp_path)
        with caplog.at_level("WARNING"):
            done = wheels.write_descriptor_data(copy, "redis",
                                                source=REDIS_SOURCE)
        assert done == {"trove_ds_redis.plugin:DESCRIPTOR": "wrote"}
        assert (copy / DATA).read_bytes() == (REDIS_SOURCE / DATA) \
            .read_bytes()
        assert str(REDIS_SOURCE) in caplog.text
        assert "python -m trove_core.descriptordata " \
            "trove_ds_redis.plugin:DESCRIPTOR" in caplog.text
        caplog.clear()
        again = wheels.write_descriptor_data(copy, "redis")
        assert again == {"trove_ds_redis.plugin:DESCRIPTOR": "unchanged"}
        assert "stale" not in caplog.text

    def test_project_without_datastore(self, tmp_path):
        """trove-core itself registers no datastore: nothing to write."""
        (tmp_path / "setup.cfg").write_text("[metadata]\nname = x\n")
        assert wheels.write_descriptor_data(tmp_path) == {}

    def test_unimportable_descriptor_refused(self, tmp_path):
        """A descriptor the builder cannot import stops the build with
        the command that failed and its error."""
        (tmp_path / "setup.cfg").write_text(
            "[entry_points]\ntrove.datastores =\n"
            "    nosuch = trove_ds_nosuch.plugin:DESCRIPTOR\n")
        with pytest.raises(errors.ImageBuildError,
                           match="descriptor data") as info:
            wheels.write_descriptor_data(tmp_path, "nosuch")
        assert "trove_ds_nosuch" in str(info.value)

    @pytest.mark.packaging
    @pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
    def test_wheel_carries_written_data(self, tmp_path, monkeypatch):
        """The wheel built from a stale source holds the current data."""
        monkeypatch.setenv("PBR_VERSION", "1.0.0")
        copy = _stale_copy(tmp_path)
        wheel = wheels.build_project_wheel(copy, tmp_path / "out", "redis")
        with zipfile.ZipFile(wheel) as archive:
            shipped = archive.read(DATA.as_posix())
        assert shipped == (REDIS_SOURCE / DATA).read_bytes()
        # the source tree itself is left as it was
        assert b'"experimental"' in (copy / DATA).read_bytes()



class TestRootfs:
    """--rootfs refusals that need no debootstrap run."""

    def test_non_empty_root_is_refused(self, tmp_path):
        """A root filesystem is never built over existing files."""
        from trove_core.tools.image import rootfs

        bundle = tmp_path / "bundle"
        bundle.mkdir()
        (bundle / "bundle.json").write_text(
            '{"datastore": "redis", "os": "debian-12"}')
        root = tmp_path / "root"
        root.mkdir()
        (root / "keep").write_text("mine")
        if os.geteuid() != 0 or shutil.which("debootstrap") is None:
            match = "--rootfs needs"
        else:
            match = "is not empty"
        with pytest.raises(errors.ImageBuildError, match=match) as info:
            rootfs.build_rootfs(bundle, root)
        assert info.value.datastore == "redis"
        assert (root / "keep").read_text() == "mine"


class TestGlibc:
    """Binary wheels against the target OS's C library."""

    @pytest.mark.parametrize("name, needed", [
        pytest.param("a-1-py3-none-any.whl", None, id="pure"),
        pytest.param("b-1-cp39-abi3-manylinux_2_34_x86_64.whl", (2, 34),
                     id="manylinux-2-34"),
        pytest.param("c-1-cp311-cp311-manylinux2014_x86_64."
                     "manylinux_2_17_x86_64.whl", (2, 17), id="dual-tag"),
        pytest.param("d-1-cp311-cp311-manylinux1_x86_64.whl", (2, 5),
                     id="manylinux1"),
        pytest.param("e-1-cp311-cp311-linux_x86_64.whl", "local",
                     id="built-here"),
    ])
    def test_glibc_needed(self, name, needed):
        """The oldest glibc a wheel's platform tags accept is found."""
        assert wheels.glibc_needed(name) == needed

    def test_too_new_for_the_os(self):
        """A wheel for glibc 2.36 is flagged for Ubuntu 22.04 (2.35)."""
        names = ["x-1-cp39-abi3-manylinux_2_36_x86_64.whl",
                 "y-1-cp39-abi3-manylinux_2_34_x86_64.whl"]
        assert wheels.incompatible(names, (2, 35)) == [names[0]]


class TestBuildArguments:
    """Arguments refused before anything is built."""

    def test_unknown_core_extra(self, tmp_path):
        """Only trove-core's known extras can be added to a guest."""
        from trove_core.tools.image import build

        with pytest.raises(errors.ImageBuildError,
                           match=r"unknown trove-core extras \['gui'\]; "
                                 r"known: \['secure'\]") as info:
            build.build("redis", tmp_path / "b", core_extras=["gui"],
                        progress=build.Progress(6, quiet=True))
        assert info.value.datastore == "redis"
        assert not (tmp_path / "b").exists()

    def test_failed_build_leaves_no_half_bundle(self, tmp_path, monkeypatch):
        """A build that fails midway empties its output directory."""
        from trove_core.tools.image import build

        monkeypatch.delenv("PBR_VERSION", raising=False)
        plain = tmp_path / "not-git"
        plain.mkdir()
        out = tmp_path / "b"
        with pytest.raises(errors.ImageBuildError,
                           match="set PBR_VERSION") as info:
            build.build("redis", out, sources={"trove-core": plain},
                        progress=build.Progress(6, quiet=True))
        assert info.value.datastore == "redis"
        assert list(out.iterdir()) == []
