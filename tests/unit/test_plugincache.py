"""The descriptor cache: hits skip imports, and never hide a change.

The cache tests install a real wheel (built here, installed by pip into
a fresh virtualenv that also sees this one's packages) and list plugins
in fresh interpreters, so a hit is observed as a descriptor module that
was not imported.
"""

import json
import os
import stat
import subprocess
import sys

import pytest

from trove_core import descriptor as d
from trove_core import discovery
from trove_core import exceptions
from trove_core import plugincache
from trove_guest_base.testing import sites

PLUGIN = '''from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="cachetest", tier=%(tier)r, summary="cache test plugin",
    capabilities=frozenset({"lifecycle", "users"}),
    engine_versions=("1.0", "2.0"),
    strategies=(Strategy("cachedump", "backup", "experimental", "dump"),),
    image=ImageSpec(supported_os=(OSSupport("debian-12", ("pkg",)),),
                    service_user="ct", data_dirs=("/var/lib/ct",)),
    driver_modules=("cachetest_driver",),
)
'''

BROKEN = 'raise RuntimeError("cachetest is broken now")\n'

# refers to another distribution's module: never cached
DEPS = '''from zope.interface import Interface

from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name="cachedeps", tier="experimental",
                                 capabilities={"lifecycle"})
'''

# a clean descriptor module in a package whose __init__ uses another
# distribution (already imported by then): never cached either
PKG_INIT = "from zope.interface import Interface  # noqa: F401\n"

PKG_PLUGIN = DEPS.replace("cachedeps", "cachepkg").replace(
    "from zope.interface import Interface\n\n", "")

ENTRY_POINTS = """[trove.datastores]
cachetest = trove_cachetest.plugin:DESCRIPTOR
cachedeps = trove_cachetest.deps:DESCRIPTOR
cachepkg = trove_cachepkg.plugin:DESCRIPTOR
"""

PROBE = """
import json, sys
from trove_core import discovery
found = discovery.discover()
records = {r.name: [r.health.value, r.reason, r.distribution, r.version,
                    r.descriptor.to_dict() if r.descriptor else None]
           for r in found}
everyone = [[r.name, r.distribution, r.health.value] for r in found]
modules = sorted(m for m in sys.modules
                 if m.startswith(("trove_cachetest.", "trove_cachepkg.",
                                  "trove_cachedup.", "trove_ds_")))
print(json.dumps({"records": records, "modules": modules,
                  "all": everyone}))
"""


def build_wheel(directory, version, plugin, package="trove_cachetest"):
    """Write the wheel of ``version`` into ``directory``: trove-cachetest,
    or with another ``package`` a distribution of that name registering
    its ``plugin`` as ``cachetest`` too."""
    info = "%s-%s.dist-info" % (package, version)
    files = {package + "/__init__.py": "", package + "/plugin.py": plugin}
    if package == "trove_cachetest":
        files.update({
            "trove_cachetest/deps.py": DEPS,
            "trove_cachepkg/__init__.py": PKG_INIT,
            "trove_cachepkg/plugin.py": PKG_PLUGIN,
            info + "/entry_points.txt": ENTRY_POINTS})
    else:
        files[info + "/entry_points.txt"] = (
            "[trove.datastores]\ncachetest = %s.plugin:DESCRIPTOR\n"
            % package)
    files.update({
        info + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: "
                            "%s\n" % (package.replace("_", "-"), version),
        info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
                         "Root-Is-Purelib: true\nTag: py3-none-any\n",
    })
    return sites.write_wheel(
        directory / ("%s-%s-py3-none-any.whl" % (package, version)), files,
        info)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """Wheels of trove-cachetest: 1.0, 2.0 (stable) and 3.0 (broken);
    and trove-cachedup, which registers the same name."""
    directory = tmp_path_factory.mktemp("wheels")
    return {"dup": build_wheel(directory, "1.0",
                               PLUGIN % {"tier": "stable"},
                               package="trove_cachedup"),
            "1.0": build_wheel(directory, "1.0",
                               PLUGIN % {"tier": "experimental"}),
            "2.0": build_wheel(directory, "2.0",
                               PLUGIN % {"tier": "stable"}),
            "3.0": build_wheel(directory, "3.0", BROKEN)}


class Site(sites.VenvSite):
    """A virtualenv seeing this one's packages, a private cache, and
    listings run with its interpreter."""

    @property
    def dist_info(self):
        (info,) = self.target.glob("trove_cachetest-*.dist-info")
        return info

    def files(self):
        """The cache files written so far."""
        return sorted((self.cache / "trove-core").glob("descriptors-*"))

    def cached(self):
        """The entry points the cache file holds, as ``name=value``."""
        (path,) = self.files()
        entries = json.loads(path.read_text())["entries"]
        return sorted("%s=%s" % tuple(slot.split("\0")[1:3])
                      for slot in entries)

    def list(self, **env):
        """Run discovery in a fresh interpreter: records and modules."""
        out = subprocess.run(
            [self.python, "-c", PROBE], env=dict(self.env, **env),
            cwd=self.root, check=True, capture_output=True, text=True,
            timeout=120).stdout
        return json.loads(out)


@pytest.fixture
def site(tmp_path, wheels):
    """trove-cachetest 1.0 installed from its wheel into a fresh
    virtualenv, cache empty."""
    site = Site(tmp_path)
    site.install(wheels["1.0"])
    return site


def imported(listing):
    return "trove_cachetest.plugin" in listing["modules"]


class TestDescriptorRoundTrip:
    def test_real_descriptors_round_trip(self):
        """Every healthy installed descriptor survives JSON unchanged."""
        records = [r for r in discovery.discover() if r.ok]
        assert len(records) >= 4
        for rec in records:
            data = json.loads(json.dumps(rec.descriptor.to_dict()))
            assert d.DatastoreDescriptor.from_dict(data) == rec.descriptor

    @pytest.mark.parametrize("data, match", [
        pytest.param([], "must be given as a dict", id="not-a-dict"),
        pytest.param({"name": "x", "tier": "stable",
                      "capabilities": ["lifecycle"], "colour": "red"},
                     r"unknown DatastoreDescriptor fields \['colour'\]",
                     id="unknown-field"),
        pytest.param({"name": "x", "tier": "stable"},
                     r"fields \['capabilities'\] are missing",
                     id="missing-field"),
        pytest.param({"name": "x", "tier": "stable",
                      "capabilities": "lifecycle"},
                     "capabilities must be a list of strings",
                     id="capabilities-string"),
        pytest.param({"name": "x", "tier": "gold",
                      "capabilities": ["lifecycle"]},
                     "unknown maturity tier", id="bad-tier"),
        pytest.param({"name": "x", "tier": "stable",
                      "capabilities": ["lifecycle"],
                      "strategies": [{"name": 3, "kind": "backup",
                                      "tier": "stable"}]},
                     "name must be a string", id="strategy-name"),
    ])
    def test_from_dict_validates(self, data, match):
        """Malformed data is refused with the same error as bad code."""
        with pytest.raises(exceptions.InvalidDescriptor,
                           match=match) as info:
            d.DatastoreDescriptor.from_dict(data)
        assert info.value.reason


class TestRealPlugins:
    def test_real_descriptor_modules_are_cacheable(self, tmp_path):
        """The four real descriptor modules import only trove_core and
        the standard library, so their wheels would be cached."""
        code = (
            "import importlib.metadata, json, pathlib, sys\n"
            "from trove_core import discovery, plugincache\n"
            "cache = plugincache.DescriptorCache(pathlib.Path(sys.argv[1]))"
            "\n"
            "eps = importlib.metadata.entry_points(\n"
            "    group=discovery.DATASTORES_GROUP)\n"
            "print(json.dumps({ep.name: cache.load(ep)[1] for ep in eps\n"
            "                  if ep.value.startswith('trove_ds_')}))\n")
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "c.json")],
            check=True, capture_output=True, text=True, cwd=tmp_path,
            timeout=120).stdout
        found = json.loads(out)
        assert {k: v for k, v in found.items() if k != "fake"} == {
            "cassandra": True, "mongodb": True, "mysql": True,
            "redis": True}


class TestScan:
    @pytest.mark.parametrize("group", [
        pytest.param(discovery.DATASTORES_GROUP, id="datastores"),
        pytest.param("oslo.config.opts", id="oslo-config-opts"),
        pytest.param("console_scripts", id="console-scripts"),
    ])
    def test_same_entry_points_as_importlib(self, group):
        """Discovery's one-section scan finds exactly what
        importlib.metadata.entry_points finds, with the same owners."""
        import importlib.metadata

        ours = {(ep.name, ep.value, ep.group, str(dist._path))
                for ep, dist in discovery._entries(group)}
        theirs = {(ep.name, ep.value, ep.group, str(ep.dist._path))
                  for ep in importlib.metadata.entry_points(group=group)}
        assert ours == theirs
        assert ours


class TestSwitch:
    @pytest.mark.parametrize("value, on", [
        pytest.param(None, True, id="unset"),
        pytest.param("1", True, id="one"),
        pytest.param("0", False, id="zero"),
        pytest.param("Off", False, id="off"),
    ])
    def test_env_switch(self, value, on):
        """TROVE_PLUGIN_CACHE=0 (or off, no, false) turns it off."""
        env = {} if value is None else {plugincache.ENV_SWITCH: value}
        assert plugincache.enabled(env) is on
        assert (plugincache.DescriptorCache.open("g", env) is None) != on

    def test_cache_dir_follows_xdg(self, tmp_path):
        """The cache lives in $XDG_CACHE_HOME/trove-core."""
        env = {"XDG_CACHE_HOME": str(tmp_path)}
        assert plugincache.cache_dir(env) == tmp_path / "trove-core"


class TestPrune:
    def test_files_of_vanished_environments_removed(self, tmp_path):
        """Writing a cache removes files of environments that are gone,
        and leaves the others and unreadable ones alone."""
        directory = tmp_path / "trove-core"
        directory.mkdir()
        gone = directory / "descriptors-gone.json"
        gone.write_text(json.dumps({"environment": str(tmp_path / "no")}))
        alive = directory / "descriptors-alive.json"
        alive.write_text(json.dumps({"environment": str(tmp_path)}))
        odd = directory / "descriptors-odd.json"
        odd.write_text("[not json")
        # listing indexes: a header line, then the rows
        (directory / "index-gone.json").write_text(json.dumps(
            {"environment": str(tmp_path / "no")}) + "\n[]")
        (directory / "index-alive.json").write_text(json.dumps(
            {"environment": str(tmp_path)}) + "\n[]")
        cache = plugincache.DescriptorCache(directory / "descriptors-me.json")
        cache.put("slot", [], d.DatastoreDescriptor(
            name="x", tier="stable", capabilities={"lifecycle"}), "x", "1")
        cache.save()
        assert sorted(p.name for p in directory.iterdir()) == [
            "descriptors-alive.json", "descriptors-me.json",
            "descriptors-odd.json", "index-alive.json"]
        written = json.loads((directory / "descriptors-me.json").read_text())
        assert written["environment"] == sys.prefix


    def test_unused_and_orphaned_index_files_removed(self, tmp_path):
        """An index or cache file nobody wrote for 30 days goes, as does
        one of a vanished environment; a recent one stays."""
        directory = tmp_path / "trove-core"
        directory.mkdir()
        keep = directory / "index-me.json"
        keep.write_text("{}")
        old = directory / "index-old.json"
        old.write_text(json.dumps({"environment": str(tmp_path)}))
        stale = os.stat(old).st_mtime - plugincache.STALE_SECONDS - 60
        os.utime(old, (stale, stale))
        gone = directory / "index-gone.json"
        gone.write_text(json.dumps({"environment": str(tmp_path / "no")}))
        recent = directory / "descriptors-recent.json"
        recent.write_text(json.dumps({"environment": str(tmp_path)}))
        plugincache.prune(keep)
        assert sorted(p.name for p in directory.iterdir()) == [
            "descriptors-recent.json", "index-me.json"]

    def test_unseen_entries_kept_while_installed(self, tmp_path):
        """Entries another sys.path put there stay while their dist-info
        exists; those of uninstalled distributions go."""
        desc = d.DatastoreDescriptor(name="x", tier="stable",
                                     capabilities={"lifecycle"})
        installed = tmp_path / "x-1.dist-info"
        installed.mkdir()
        path = tmp_path / "cache.json"

        def slot(info):
            return "\0".join(("g", "x", "x.plugin:D", str(info)))

        first = plugincache.DescriptorCache(path)
        first.put(slot(installed), [1], desc, "x", "1")
        first.put(slot(tmp_path / "gone-1.dist-info"), [2], desc, "x", "1")
        first.save()
        second = plugincache.DescriptorCache(path)
        second.put(slot(tmp_path / "y-1.dist-info"), [3], desc, "y", "1")
        second.save()
        entries = json.loads(path.read_text())["entries"]
        assert sorted(v["key"] for v in entries.values()) == [[1], [3]]


@pytest.mark.packaging
@pytest.mark.slow
class TestCache:
    def test_hit_skips_import(self, site):
        """A second listing takes the descriptor from the cache."""
        cold = site.list()
        assert cold["records"]["cachetest"][:4] == [
            "ok", "", "trove-cachetest", "1.0"]
        assert imported(cold)
        (path,) = site.files()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert site.cached() == ["cachetest=trove_cachetest.plugin:"
                                 "DESCRIPTOR"]
        warm = site.list()
        assert not imported(warm)
        assert warm["records"]["cachetest"] == cold["records"]["cachetest"]
        assert warm["records"]["cachetest"][4]["tier"] == "experimental"

    def test_editable_installs_never_cached(self, site):
        """Real plugins (editable here) and a dist marked editable are
        imported on every listing."""
        site.list()
        (site.dist_info / "direct_url.json").write_text(json.dumps(
            {"url": "file:///src", "dir_info": {"editable": True}}))
        for _ in range(2):
            listing = site.list()
            assert imported(listing)
            assert "trove_ds_mysql.plugin" in listing["modules"]
            assert listing["records"]["cachetest"][0] == "ok"
        assert site.cached() == []

    def test_foreign_imports_never_cached(self, site):
        """A descriptor module, or its package, using another
        distribution is imported every time."""
        for _ in range(2):
            listing = site.list()
            for name, module in [("cachedeps", "trove_cachetest.deps"),
                                 ("cachepkg", "trove_cachepkg.plugin")]:
                assert module in listing["modules"]
                assert listing["records"][name][0] == "ok"

    def test_duplicates_found_among_cached(self, site, wheels):
        """Two cached registrations of one name are both duplicates."""
        site.install(wheels["dup"])
        for warm in (False, True):
            listing = site.list()
            assert imported(listing) is not warm
            assert ("trove_cachedup.plugin" in listing["modules"]) is (
                not warm)
            assert [r for r in listing["all"] if r[0] == "cachetest"] == [
                ["cachetest", "trove-cachedup", "duplicate"],
                ["cachetest", "trove-cachetest", "duplicate"]]
            assert "trove-cachedup, trove-cachetest" in (
                listing["records"]["cachetest"][1])

    def test_upgrade_invalidates(self, site, wheels):
        """A new version is imported and shows its own tier."""
        site.list()
        site.install(wheels["2.0"])
        listing = site.list()
        assert imported(listing)
        rec = listing["records"]["cachetest"]
        assert rec[3] == "2.0" and rec[4]["tier"] == "stable"
        assert not imported(site.list())

    def test_rewritten_record_invalidates(self, site):
        """A RECORD rewritten (same size) misses the cache."""
        site.list()
        record = site.dist_info / "RECORD"
        st = record.stat()
        os.utime(record, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert imported(site.list())

    @pytest.mark.parametrize("how", [
        pytest.param("reinstall", id="broken-release"),
        pytest.param("edit", id="edited-in-place"),
    ])
    def test_broken_after_cached_ok(self, site, wheels, how):
        """A plugin that breaks is reported broken, every time."""
        assert site.list()["records"]["cachetest"][0] == "ok"
        if how == "reinstall":
            site.install(wheels["3.0"])
        else:
            (site.target / "trove_cachetest" / "plugin.py").write_text(
                BROKEN)
        for _ in range(2):
            health, reason = site.list()["records"]["cachetest"][:2]
            assert health == "broken"
            assert "cachetest is broken now" in reason
        assert site.cached() == []

    @pytest.mark.parametrize("content", [
        pytest.param(b"\x00garbage{", id="garbage"),
        pytest.param(b'{"header": {"schema": 0}, "entries": {}}',
                     id="other-schema"),
        pytest.param(b'{"header": ', id="truncated"),
    ])
    def test_corrupt_cache_ignored(self, site, content):
        """An unusable cache file is ignored and rewritten."""
        site.list()
        (path,) = site.files()
        path.write_bytes(content)
        listing = site.list()
        assert imported(listing)
        assert listing["records"]["cachetest"][0] == "ok"
        data = json.loads(path.read_text())
        assert data["header"]["schema"] == plugincache.SCHEMA
        assert not imported(site.list())

    def test_tampered_entry_ignored(self, site):
        """A cached descriptor that no longer validates is a miss."""
        site.list()
        (path,) = site.files()
        data = json.loads(path.read_text())
        for entry in data["entries"].values():
            entry["descriptor"]["tier"] = "gold"
        path.write_text(json.dumps(data))
        listing = site.list()
        assert imported(listing)
        assert listing["records"]["cachetest"][4]["tier"] == "experimental"

    def test_switched_off(self, site):
        """TROVE_PLUGIN_CACHE=0 imports every time and writes nothing."""
        assert imported(site.list(TROVE_PLUGIN_CACHE="0"))
        assert site.files() == []
        site.list()
        assert imported(site.list(TROVE_PLUGIN_CACHE="0"))

    def test_unwritable_cache_dir(self, site):
        """A cache directory that cannot be created is skipped."""
        blocker = site.root / "not-a-dir"
        blocker.write_text("")
        listing = site.list(XDG_CACHE_HOME=str(blocker))
        assert listing["records"]["cachetest"][0] == "ok"
        assert imported(site.list(XDG_CACHE_HOME=str(blocker)))
