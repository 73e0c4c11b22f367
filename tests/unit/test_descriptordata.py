"""Descriptor data: the JSON a plugin ships, its writer and its check."""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

from trove_core import descriptor as d
from trove_core import descriptordata
from trove_core import discovery
from trove_core import exceptions

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: every descriptor whose data the repository ships (the fake
#: datastore's is written once it moves into a package of its own)
SHIPPED = [
    "trove_ds_mysql.plugin:DESCRIPTOR",
    "trove_ds_redis.plugin:DESCRIPTOR",
    "trove_ds_mongodb.plugin:DESCRIPTOR",
    "trove_ds_cassandra.plugin:DESCRIPTOR",
    "trove_test_plugins.good:DESCRIPTOR",
    "trove_test_plugins.incompatible:DESCRIPTOR",
    "trove_test_plugins.mismatched:DESCRIPTOR",
    "trove_test_plugins.nodriver:DESCRIPTOR",
    "trove_test_plugins.dupe:DESCRIPTOR",
    "trove_test_plugins_dup:DESCRIPTOR",
    "trove_ds_fake.plugin:DESCRIPTOR",
]

MODULE = '''from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="datatest", tier=%r, capabilities={"lifecycle", "users"},
    strategies=(Strategy("datadump", "backup", "experimental"),))
OTHER = DatastoreDescriptor(name="other", tier="stable",
                            capabilities={"lifecycle"})
'''


def _descriptor(target):
    module, _sep, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _shipped_file(target):
    module = importlib.import_module(target.partition(":")[0])
    return pathlib.Path(module.__file__).parent / descriptordata.file_name(
        module.__name__, hasattr(module, "__path__"))


class TestShippedData:
    @pytest.mark.parametrize("target", SHIPPED)
    def test_shipped_data_is_current(self, target):
        """Each shipped data file holds exactly what the code builds
        (the check each plugin's tests and the kit run)."""
        path, current = descriptordata.write(target, check=True)
        assert current, "run: %s" % descriptordata.regenerate_command(
            target)
        assert pathlib.Path(path) == _shipped_file(target)

    @pytest.mark.parametrize("target", SHIPPED)
    def test_round_trip(self, target):
        """The data rebuilds an equal descriptor, as does the index's
        packed form of it."""
        desc = _descriptor(target)
        module, _sep, attr = target.partition(":")
        held = descriptordata.read(_shipped_file(target), module)
        data = json.loads(json.dumps(held[attr]))
        assert descriptordata.decode(desc.name, data, target, "f") == desc
        packed = json.loads(json.dumps(descriptordata.pack(desc)))
        again = descriptordata.unpack(packed)
        assert again == desc
        assert descriptordata.compare(desc, again) == []
        tier, capabilities, strategies = descriptordata.packed_listing(
            packed)
        record = discovery.PluginRecord(desc.name, "d", "1", target, desc)
        assert (tier, capabilities, [tuple(s) for s in strategies]) == \
            record.listing()

    def test_every_data_file_is_listed_here(self):
        """The repository's data files are exactly those of SHIPPED, so
        none goes unchecked (their wheels ship them: test_packaging)."""
        tracked = subprocess.run(
            ["git", "ls-files", "*.descriptor.json"], cwd=ROOT, check=True,
            capture_output=True, text=True, timeout=60).stdout.split()
        assert {ROOT / t for t in tracked} == {
            _shipped_file(t) for t in SHIPPED}

    def test_canonical_text_is_stable(self):
        """The writer's text is sorted and ends with a newline, so an
        unchanged plugin rebuilds to the same bytes."""
        desc = _descriptor(SHIPPED[0])
        text = descriptordata.dumps("m", {"DESCRIPTOR": desc})
        assert text.endswith("}\n")
        assert text == descriptordata.dumps("m", {"DESCRIPTOR": desc})
        assert list(json.loads(text)) == ["descriptors", "module", "schema"]


class TestRead:
    @pytest.mark.parametrize("content, match", [
        pytest.param("[1]", "not descriptor data of schema 1",
                     id="not-a-dict"),
        pytest.param('{"schema": 9, "module": "m", "descriptors": {}}',
                     "not descriptor data of schema 1", id="other-schema"),
        pytest.param('{"schema": 1, "module": "x", "descriptors": {}}',
                     "describes module 'x', not 'm'", id="other-module"),
        pytest.param('{"schema": 1, "module": "m"}', "no 'descriptors'",
                     id="no-descriptors"),
        pytest.param('{"schema": 1,', "Expecting", id="truncated"),
    ])
    def test_malformed_files_refused(self, tmp_path, content, match):
        """A file that is not this module's data of this schema is
        refused with a ValueError saying why."""
        path = tmp_path / "plugin.descriptor.json"
        path.write_text(content)
        with pytest.raises(ValueError, match=match):
            descriptordata.read(path, "m")

    def test_missing_attribute_says_how_to_fix(self):
        """Data without the entry point's attribute names the command
        that regenerates it."""
        with pytest.raises(exceptions.InvalidDescriptor,
                           match="python -m trove_core.descriptordata "
                                 "a.plugin:DESCRIPTOR") as info:
            descriptordata.decode("a", None, "a.plugin:DESCRIPTOR", "f")
        assert info.value.name == "a"

    def test_invalid_data_says_how_to_fix(self):
        """Data that does not validate is invalid, with the reason and
        the command."""
        with pytest.raises(exceptions.InvalidDescriptor,
                           match=r"unknown maturity tier.*regenerate"):
            descriptordata.decode("a", {"name": "a", "tier": "gold",
                                        "capabilities": ["lifecycle"]},
                                  "a.plugin:DESCRIPTOR", "f")

    def test_compare_names_fields(self):
        """compare() lists the fields that differ."""
        one = d.DatastoreDescriptor(name="a", tier="stable",
                                    capabilities={"lifecycle"})
        two = d.DatastoreDescriptor(name="a", tier="experimental",
                                    capabilities={"lifecycle"}, summary="x")
        assert descriptordata.compare(one, two) == ["summary", "tier"]
        reason = descriptordata.mismatch_reason("a.p:D", "f.json", ["tier"])
        assert "python -m trove_core.descriptordata a.p:D" in reason


class TestWriter:
    @pytest.fixture
    def package(self, tmp_path):
        """A package ``datapkg`` with a descriptor module, importable by
        a subprocess run in ``tmp_path``."""
        pkg = tmp_path / "datapkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "plugin.py").write_text(MODULE % "experimental")
        return tmp_path

    def run(self, cwd, *args):
        env = dict(os.environ, PYTHONPATH=str(cwd))
        return subprocess.run(
            [sys.executable, "-m", "trove_core.descriptordata", *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=120)

    def test_write_then_check(self, package):
        """The writer writes the file beside the module; --check passes
        on it and fails, naming the command, once the code changes."""
        target = "datapkg.plugin:DESCRIPTOR"
        assert self.run(package, "--check", target).returncode == 1
        done = self.run(package, target)
        assert done.returncode == 0, done.stderr
        path = package / "datapkg" / "plugin.descriptor.json"
        data = json.loads(path.read_text())
        assert data["module"] == "datapkg.plugin"
        assert data["descriptors"]["DESCRIPTOR"]["tier"] == "experimental"
        assert self.run(package, "--check", target).returncode == 0
        assert "unchanged" in self.run(package, target).stdout
        (package / "datapkg" / "plugin.py").write_text(MODULE % "stable")
        stale = self.run(package, "--check", target)
        assert stale.returncode == 1
        assert "python -m trove_core.descriptordata %s" % target in (
            stale.stderr)

    def test_several_attributes_share_a_file(self, package):
        """Two descriptors of one module live in its one file."""
        for attr in ("DESCRIPTOR", "OTHER"):
            assert self.run(package, "datapkg.plugin:" + attr
                            ).returncode == 0
        held = json.loads((package / "datapkg" / "plugin.descriptor.json"
                           ).read_text())["descriptors"]
        assert sorted(held) == ["DESCRIPTOR", "OTHER"]
        assert self.run(package, "--check", "datapkg.plugin:DESCRIPTOR",
                        "datapkg.plugin:OTHER").returncode == 0

    @pytest.mark.parametrize("target, match", [
        pytest.param("datapkg.plugin", "not MODULE:ATTR", id="no-attr"),
        pytest.param("datapkg.nosuch:D", "No module named", id="no-module"),
        pytest.param("datapkg.plugin:MODULE_MISSING", "MODULE_MISSING",
                     id="no-such-attr"),
        pytest.param("datapkg:__name__", "not a DatastoreDescriptor",
                     id="not-a-descriptor"),
    ])
    def test_bad_target(self, package, target, match):
        """A target that is no descriptor exits 2 and says why."""
        result = self.run(package, target)
        assert result.returncode == 2
        assert match in result.stderr
