"""Discovery through real entry points, broken plugins included.

The plugins under tests/plugins/ are installed distributions: one good
test plugin and one broken in each way discovery must survive.
"""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from trove_core import descriptordata
from trove_core import discovery
from trove_core import exceptions
from trove_core.discovery import Health

REAL = ["cassandra", "mongodb", "mysql", "redis"]


@pytest.fixture(scope="module")
def records():
    return discovery.discover()


def by_name(records, name):
    return [r for r in records if r.name == name]


class TestDiscover:
    def test_real_plugins_list_healthy(self, records):
        """The four datastore plugins list with their declared tiers."""
        tiers = {r.name: r.descriptor.tier.label for r in records
                 if r.name in REAL}
        assert tiers == {"mysql": "stable", "cassandra": "technical-preview",
                         "mongodb": "technical-preview",
                         "redis": "stable"}
        for name in REAL:
            (rec,) = by_name(records, name)
            assert rec.ok and rec.distribution == "trove-ds-" + name

    @pytest.mark.parametrize("name, health, reason", [
        pytest.param("broken", Health.BROKEN,
                     "No module named 'trove_test_dependency", id="broken"),
        pytest.param("missing", Health.BROKEN,
                     "No module named 'trove_test_plugins.does_not_exist'",
                     id="missing-module"),
        pytest.param("incompatible", Health.INCOMPATIBLE,
                     "targets plugin API 9.0", id="incompatible"),
        pytest.param("invalid", Health.INVALID,
                     "gives a dict, not a DatastoreDescriptor",
                     id="not-a-descriptor"),
        pytest.param("badcaps", Health.INVALID,
                     r"unknown capabilities \['teleport'\]", id="badcaps"),
        pytest.param("misnamed", Health.INVALID,
                     "named 'goodtest' but registered as 'misnamed'",
                     id="misnamed"),
    ])
    def test_unusable_plugins_carry_reason(self, records, name, health,
                                           reason):
        """Each broken plugin is reported with why, others still list."""
        (rec,) = by_name(records, name)
        assert rec.health is health
        assert rec.descriptor is None
        assert pytest.importorskip("re").search(reason, rec.reason)
        assert rec.distribution == "trove-test-plugins"
        assert by_name(records, "goodtest")[0].ok

    def test_duplicates_name_both_distributions(self, records):
        """A name registered twice is unusable under either owner."""
        dupes = by_name(records, "dupe")
        assert {r.distribution for r in dupes} == {
            "trove-test-plugins", "trove-test-plugins-dup"}
        for rec in dupes:
            assert rec.health is Health.DUPLICATE
            assert "uninstall all but one" in rec.reason
        with pytest.raises(exceptions.DuplicatePlugin):
            discovery.find("dupe", records)

    def test_listing_imports_no_manager_or_driver(self):
        """Listing loads descriptors only: no manager, no driver module."""
        code = (
            "import json, sys\n"
            "from trove_core import discovery\n"
            "recs = discovery.discover()\n"
            "print(json.dumps([len(recs), sorted(sys.modules)]))\n")
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout
        count, modules = json.loads(out)
        assert count >= 4
        heavy = [m for m in modules if m.endswith(".manager")
                 or m.split(".")[0] in ("pymysql", "redis", "pymongo",
                                        "cassandra", "oslo_messaging",
                                        "trove_guest_base")]
        assert heavy == []


class TestFind:
    def test_missing_lists_installed(self, records):
        """An unknown name says what is installed and how to install."""
        with pytest.raises(exceptions.PluginNotFound,
                           match="pip install 'trove-ds-nosuch") as info:
            discovery.find("nosuch", records)
        assert "mysql" in info.value.installed

    @pytest.mark.parametrize("name, error", [
        pytest.param("broken", exceptions.PluginLoadError, id="broken"),
        pytest.param("incompatible", exceptions.IncompatiblePlugin,
                     id="incompatible"),
        pytest.param("invalid", exceptions.InvalidDescriptor, id="invalid"),
    ])
    def test_unusable_raise_typed(self, records, name, error):
        """find() turns each health into its own error type."""
        with pytest.raises(error, match=repr(name)) as info:
            discovery.find(name, records)
        assert info.value.name == name


class TestFindByName:
    """find() without records evaluates only the named plugin."""

    def run(self, code):
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out)

    def test_imports_only_its_own_descriptor(self):
        """The guest's lookup imports no other plugin's descriptor."""
        name, modules = self.run(
            "import json, sys\n"
            "from trove_core import discovery\n"
            "rec = discovery.find('goodtest')\n"
            "print(json.dumps([rec.name, sorted(sys.modules)]))\n")
        assert name == "goodtest"
        assert "trove_test_plugins.good" in modules
        others = [m for m in modules if m.startswith((
            "trove_ds_", "trove_test_plugins.broken",
            "trove_test_plugins.incompatible", "trove_test_plugins_dup"))]
        assert others == []

    def test_duplicate_still_found(self):
        """Both owners of a duplicated name are still evaluated."""
        with pytest.raises(exceptions.DuplicatePlugin,
                           match="trove-test-plugins-dup"):
            discovery.find("dupe")

    def test_missing_lists_every_installed_name(self):
        """The not-found error lists all names, read without importing."""
        with pytest.raises(exceptions.PluginNotFound) as info:
            discovery.find("nosuch")
        assert {"mysql", "redis", "goodtest", "broken"} <= set(
            info.value.installed)

    def test_same_record_as_full_listing(self, records):
        """By name or from the full listing, the record is the same."""
        alone = discovery.find("redis")
        (full,) = by_name(records, "redis")
        assert (alone.distribution, alone.version, alone.target,
                alone.descriptor.to_dict()) == (
            full.distribution, full.version, full.target,
            full.descriptor.to_dict())


class TestLoadManager:
    def test_loads_and_verifies(self, records):
        """The good plugin's manager loads with its derived capabilities."""
        record, cls = discovery.load_manager_class("goodtest", records)
        assert record.name == "goodtest"
        assert cls.capabilities() == ["databases", "lifecycle"]

    def test_real_plugin_loads(self, records):
        """A real plugin's manager loads through stevedore."""
        record, cls = discovery.load_manager_class("redis", records)
        assert "lifecycle" in cls.capabilities()
        assert record.distribution == "trove-ds-redis"

    def test_missing_driver_names_install_command(self, records):
        """A missing [guest] driver names the exact pip command."""
        with pytest.raises(exceptions.DriverNotInstalled,
                           match=r"pip install 'trove-test-plugins\[guest\]'"
                           ) as info:
            discovery.load_manager_class("nodriver", records)
        assert info.value.module == "trove_no_such_driver"

    def test_interface_mismatch_names_everything(self, records):
        """Verification names plugin, interface and the broken method."""
        with pytest.raises(exceptions.PluginValidationError) as info:
            discovery.load_manager_class("mismatched", records)
        message = str(info.value)
        assert "'mismatched'" in message
        assert "IUsers" in message
        assert "list_users" in message or "create_user" in message

    def test_missing_method_named_not_a_repr(self):
        """A missing interface method is named with its signature, never
        shown as a zope ``<Method object at 0x...>`` repr."""
        import zope.interface

        from trove_core import capabilities as caps
        from trove_core import manager as base

        class Partial(base.BaseDatastoreManager):
            def list_databases(self, limit=None):
                """Too few arguments."""

        zope.interface.classImplements(Partial, caps.IDatabases)
        with pytest.raises(exceptions.PluginValidationError) as info:
            discovery.verify_manager("partial", Partial)
        message = str(info.value)
        assert "object at 0x" not in message and "<" not in message
        assert "method 'create_database(databases)' is missing" in message
        assert ("method 'list_databases' does not match the interface's "
                "list_databases(limit=None, marker=None, "
                "include_marker=False)") in message

    def test_capability_mismatch_shows_the_difference(self):
        """Only the capabilities on one side are named, by side."""
        from trove_core.descriptor import DatastoreDescriptor
        from trove_guest_base.testing import manager

        desc = DatastoreDescriptor(
            name="diff", tier="experimental",
            capabilities=set(manager.FakeManager.capabilities())
            - {"root"} | {"cluster"})
        with pytest.raises(exceptions.PluginValidationError) as info:
            discovery.verify_manager("diff", manager.FakeManager, desc)
        message = str(info.value)
        assert "the descriptor declares ['cluster'], which FakeManager " \
            "does not implement" in message
        assert "FakeManager implements ['root'], which the descriptor " \
            "does not declare" in message
        assert "'databases'" not in message

    def test_broken_plugin_fails_fast(self, records):
        """Loading a broken plugin fails with its import error."""
        with pytest.raises(exceptions.PluginLoadError,
                           match="trove_test_dependency"):
            discovery.load_manager_class("broken", records)


class TestPluginThatExits:
    """A descriptor module calling sys.exit() at import."""

    def test_cli_lists_the_others(self, tmp_path):
        """trove-datastores list still lists every plugin, names the one
        that exited and why, and exits 0."""
        (tmp_path / "trove_exits_at_import.py").write_text(
            "import sys\nsys.exit(1)\n")
        info = tmp_path / "trove_exits_at_import-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: trove-exits-at-import\n"
            "Version: 1.0\n")
        (info / "entry_points.txt").write_text(
            "[trove.datastores]\nexits = trove_exits_at_import:DESCRIPTOR\n")
        env = dict(os.environ, PYTHONPATH=str(tmp_path),
                   XDG_CACHE_HOME=str(tmp_path / "cache"))
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable),
                          "trove-datastores"), "list"],
            capture_output=True, text=True, env=env, timeout=120)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        assert "exits" in out and "SystemExit" in out
        assert "mysql" in out and "redis" in out


class TestPackedRecord:
    """Records from the listing index keep their descriptor packed until
    it is read."""

    @pytest.fixture
    def pair(self):
        (plain,) = [r for r in discovery.discover() if r.name == "mysql"]
        packed = json.loads(json.dumps(
            descriptordata.pack(plain.descriptor)))
        return plain, discovery._packed_record(
            plain.name, plain.distribution, plain.version, plain.target,
            packed)

    def test_listing_reads_the_packed_form(self, pair):
        plain, packed = pair
        tier, capabilities, strategies = packed.listing()
        assert (tier, capabilities, [tuple(s) for s in strategies]) == \
            plain.listing()
        assert "_descriptor" not in packed.__dict__  # not rebuilt

    def test_descriptor_rebuilt_once_when_read(self, pair):
        plain, packed = pair
        assert packed.ok and packed.reason == ""
        first = packed.descriptor
        assert first == plain.descriptor
        assert packed.descriptor is first

    def test_replace_keeps_working(self, pair):
        """dataclasses.replace() builds a record through __init__."""
        plain, packed = pair
        other = dataclasses.replace(packed, version="9.9")
        assert other.version == "9.9"
        assert other.descriptor == plain.descriptor
        assert other.listing() == plain.listing()
        empty = dataclasses.replace(packed, descriptor=None,
                                    health=Health.BROKEN)
        assert empty.descriptor is None and empty.listing() is None
