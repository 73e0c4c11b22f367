"""Listing from shipped descriptor data, and the listing index.

Real wheels, installed by pip into a fresh virtualenv that also sees
this one's packages; listings run ``trove-datastores`` in fresh
interpreters. The test plugin's package ``__init__`` appends to a marker
file when imported, so a listing that imports it is seen.
"""

import hashlib
import json
import os
import stat
import subprocess
import time

import pytest

from trove_core import descriptor as d
from trove_core import descriptordata
from trove_guest_base.testing import sites

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

INIT = '''import os
_marker = os.environ.get("TROVE_TEST_IMPORT_MARKER")
if _marker:
    with open(_marker, "a") as _fp:
        _fp.write(__name__ + "\\n")
'''

PLUGIN = '''from trove_core.descriptor import DatastoreDescriptor

DESCRIPTOR = DatastoreDescriptor(name=%(name)r, tier=%(tier)r,
                                 summary="data test plugin",
                                 capabilities={"lifecycle", "users"})
'''


def _data(name, tier):
    desc = d.DatastoreDescriptor(name=name, tier=tier,
                                 summary="data test plugin",
                                 capabilities={"lifecycle", "users"})
    return descriptordata.dumps("trove_%s.plugin" % name,
                                {"DESCRIPTOR": desc})


def build_wheel(directory, name, version, tier, data_tier=None,
                data=True):
    """The wheel of ``trove-<name>`` registering datastore ``name``;
    its shipped data declares ``data_tier`` (default: the code's)."""
    package = "trove_%s" % name
    info = "%s-%s.dist-info" % (package, version)
    files = {package + "/__init__.py": INIT,
             package + "/plugin.py": PLUGIN % {"name": name,
                                               "tier": tier}}
    if data:
        files[package + "/plugin.descriptor.json"] = _data(
            name, data_tier or tier)
    files.update({
        info + "/entry_points.txt": "[trove.datastores]\n%s = %s.plugin:"
                                    "DESCRIPTOR\n" % (name, package),
        info + "/METADATA": "Metadata-Version: 2.1\nName: trove-%s\n"
                            "Version: %s\n" % (name, version),
        info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
                         "Root-Is-Purelib: true\nTag: py3-none-any\n"})
    # one directory per variant: the file name is fixed by the version
    sub = directory / ("%s-%s-%s-%s" % (name, version, tier,
                                        data_tier if data else "none"))
    sub.mkdir()
    return sites.write_wheel(
        sub / ("%s-%s-py3-none-any.whl" % (package, version)), files, info)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """datatest 1.0 (experimental), 2.0 (stable), 1.0 with stale data
    (the data says stable), datatest without data, and datatwo."""
    directory = tmp_path_factory.mktemp("wheels")
    return {
        "1.0": build_wheel(directory, "datatest", "1.0", "experimental"),
        "2.0": build_wheel(directory, "datatest", "2.0", "stable"),
        "stale": build_wheel(directory, "datatest", "1.0", "experimental",
                             data_tier="stable"),
        "two": build_wheel(directory, "datatwo", "1.0", "experimental"),
    }


class Site(sites.VenvSite):
    """A virtualenv seeing this one's packages, a private cache, and
    ``trove-datastores`` run with its interpreter."""

    def __init__(self, root):
        super().__init__(root)
        self.cache.mkdir()
        self.work = root / "work"  # the listing's working directory
        self.work.mkdir()
        self.marker = root / "imported.txt"
        self.env.update(TROVE_EVIDENCE_DIR=str(root / "evidence"),
                        TROVE_TEST_IMPORT_MARKER=str(self.marker))

    def age(self):
        """Date the site directory back, as if the last install were a
        while ago (an index is not written moments after a change)."""
        old = time.time() - 60
        for path in (self.target, self.work):
            os.utime(path, (old, old))

    def run(self, *argv, **env):
        """``trove-datastores ARGV -f json`` in a fresh interpreter:
        ``(exit code, parsed output, stderr)``."""
        proc = subprocess.run(
            [self.python, "-m", "trove_core.tools.cli", *argv, "-f", "json"],
            env=dict(self.env, **env), cwd=self.work, capture_output=True,
            text=True, timeout=120, check=False)
        out = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc.returncode, out, proc.stderr

    def list(self, **env):
        """``{name: item}`` of ``list``."""
        code, out, err = self.run("list", **env)
        assert code == 0, err
        return {item["name"]: item for item in out}

    def imported(self):
        """Whether a test plugin was imported, and clear the marker."""
        found = self.marker.exists()
        if found:
            self.marker.unlink()
        return found

    def index(self):
        """The index file (exactly one)."""
        (path,) = (self.cache / "trove-core").glob("index-*.json")
        return path

    def read_index(self):
        """``(header, rows)`` of the index file."""
        head, _sep, body = self.index().read_bytes().partition(b"\n")
        return json.loads(head), json.loads(body)

    def poison(self, name, tier, digest=True):
        """Rewrite the index's descriptor of ``name``: a listing that
        shows ``tier`` used the index. Without ``digest``, the header
        keeps the old rows' digest."""
        header, rows = self.read_index()
        for row in rows:
            if row["name"] == name:
                assert row["checked"]
                row["data"][1] = tier  # the packed descriptor's tier
        body = json.dumps(rows, separators=(",", ":")).encode()
        if digest:
            header["rows_sha256"] = hashlib.sha256(body).hexdigest()
        path = self.index()
        path.write_bytes(json.dumps(header).encode() + b"\n" + body)
        path.chmod(0o600)


@pytest.fixture
def site(tmp_path, wheels):
    """datatest 1.0 installed from its wheel, cache empty."""
    site = Site(tmp_path)
    site.install(wheels["1.0"])
    site.age()
    return site


class TestDataListing:
    def test_listing_imports_no_plugin_module(self, site):
        """Cold and warm listings read the shipped data: the plugin's
        package is never imported; show imports it and agrees."""
        for _ in range(2):
            item = site.list()["datatest"]
            assert (item["health"], item["declared_tier"],
                    item["distribution"], item["version"]) == (
                "ok", "experimental", "trove-datatest", "1.0")
            assert not site.imported()
        site.index()  # the second listing had one to read
        code, out, _err = site.run("show", "datatest")
        assert code == 0 and out["health"] == "ok"
        assert site.imported()

    def test_stale_data_refused_where_code_runs(self, site, wheels):
        """Data that disagrees with the code lists as shipped, but show,
        check and the guest's lookup make the plugin invalid and say how
        to regenerate the data."""
        site.install(wheels["stale"], "--force-reinstall")
        assert site.list()["datatest"]["declared_tier"] == "stable"
        assert not site.imported()
        command = ("python -m trove_core.descriptordata "
                   "trove_datatest.plugin:DESCRIPTOR")
        code, out, _err = site.run("show", "datatest")
        assert code == 3
        assert out["health"] == "invalid"
        assert "disagrees with trove_datatest.plugin:DESCRIPTOR in tier" \
            in out["reason"]
        assert command in out["reason"]
        code, out, _err = site.run("check", "datatest")
        assert code == 3 and command in json.dumps(out)
        found = subprocess.run(
            [site.python, "-c", "from trove_core import discovery\n"
             "try:\n    discovery.find('datatest')\n"
             "except Exception as exc:\n    print(type(exc).__name__, exc)"],
            env=site.env, cwd=site.work, capture_output=True, text=True,
            check=True, timeout=120).stdout
        assert found.startswith("InvalidDescriptor") and command in found

    def test_without_data_imports(self, tmp_path):
        """A plugin that ships no data is imported, as before."""
        site = Site(tmp_path)
        site.install(build_wheel(tmp_path, "datatest", "1.0",
                                 "experimental", data=False))
        assert site.list()["datatest"]["health"] == "ok"
        assert site.imported()


class TestIndex:
    def test_warm_listing_uses_index(self, site):
        """An unchanged environment lists from the index (a poisoned
        entry shows), which is private to the user."""
        site.list()
        path = site.index()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        site.poison("datatest", "stable")
        assert site.list()["datatest"]["declared_tier"] == "stable"

    @pytest.mark.parametrize("change", [
        pytest.param("install", id="pip-install"),
        pytest.param("uninstall", id="pip-uninstall"),
        pytest.param("upgrade", id="upgrade-in-place"),
        pytest.param("reinstall", id="reinstall-same-version"),
    ])
    def test_pip_changes_invalidate(self, site, wheels, change):
        """Each pip change to the environment shows in the next
        listing, though the index was there (and poisoned)."""
        site.install(wheels["two"])
        site.age()
        site.list()
        site.poison("datatest", "technical-preview")
        assert site.list()["datatest"]["declared_tier"] == \
            "technical-preview"
        if change == "install":
            site.pip("uninstall", "-y", "trove-datatwo")
            site.age()
            site.list()
            site.poison("datatest", "technical-preview")
            site.install(wheels["two"])
        elif change == "uninstall":
            site.pip("uninstall", "-y", "trove-datatwo")
        elif change == "upgrade":
            site.install(wheels["2.0"])
        else:
            site.install(wheels["1.0"], "--force-reinstall")
        listed = site.list()
        assert ("datatwo" in listed) is (change != "uninstall")
        want = ("stable", "2.0") if change == "upgrade" else (
            "experimental", "1.0")
        assert (listed["datatest"]["declared_tier"],
                listed["datatest"]["version"]) == want
        assert not site.imported()

    def test_editable_change_shows(self, tmp_path):
        """An editable plugin is imported on every listing, so an edit
        of its descriptor shows at once, index or not."""
        source = tmp_path / "src"
        (source / "trove_datatest").mkdir(parents=True)
        (source / "trove_datatest" / "__init__.py").write_text(INIT)
        plugin = source / "trove_datatest" / "plugin.py"
        plugin.write_text(PLUGIN % {"name": "datatest",
                                    "tier": "experimental"})
        (source / "setup.cfg").write_text(
            "[metadata]\nname = trove-datatest\nversion = 1.0\n\n"
            "[options]\npackages = trove_datatest\n\n"
            "[options.entry_points]\ntrove.datastores =\n"
            "    datatest = trove_datatest.plugin:DESCRIPTOR\n")
        (source / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=64"]\n'
            'build-backend = "setuptools.build_meta"\n')
        site = Site(tmp_path)
        site.pip("install", "--no-index", "--no-deps",
                 "--no-build-isolation", "-e", str(source))
        site.age()
        assert site.list()["datatest"]["declared_tier"] == "experimental"
        site.index()
        plugin.write_text(PLUGIN % {"name": "datatest", "tier": "stable"})
        assert site.list()["datatest"]["declared_tier"] == "stable"
        assert site.imported()

    @pytest.mark.parametrize("content", [
        pytest.param(b"\x00garbage{", id="garbage"),
        pytest.param(b'{"schema": 0}', id="other-schema"),
        pytest.param(b'{"schema": ', id="truncated"),
        pytest.param(b'{"schema": 2, "rows": 3}', id="malformed"),
    ])
    def test_corrupt_index_rebuilt(self, site, content):
        """An unusable index is ignored and written again."""
        site.list()
        path = site.index()
        path.write_bytes(content)
        assert site.list()["datatest"]["health"] == "ok"
        assert site.read_index()[1]

    def test_rows_held_to_their_digest(self, site):
        """Rows changed behind the header's back (a damaged file) are not
        used: the listing scans again and rewrites the index."""
        site.list()
        site.poison("datatest", "stable", digest=False)
        assert site.list()["datatest"]["declared_tier"] == "experimental"
        header, rows = site.read_index()
        body = json.dumps(rows, separators=(",", ":")).encode()
        assert header["rows_sha256"] == hashlib.sha256(body).hexdigest()

    def test_truncated_rows_rebuilt(self, site):
        """An index cut short after its header is a miss, not a crash."""
        site.list()
        path = site.index()
        path.write_bytes(path.read_bytes()[:-40])
        assert site.list()["datatest"]["health"] == "ok"

    def test_foreign_index_ignored(self, site):
        """An index writable by others is not trusted."""
        site.list()
        site.poison("datatest", "stable")
        site.index().chmod(0o666)
        assert site.list()["datatest"]["declared_tier"] == "experimental"

    def test_unwritable_cache_dir(self, site):
        """Listing works where the cache directory cannot be made."""
        blocker = site.root / "not-a-dir"
        blocker.write_text("")
        for _ in range(2):
            listed = site.list(XDG_CACHE_HOME=str(blocker))
            assert listed["datatest"]["health"] == "ok"

    def test_switched_off(self, site):
        """TROVE_PLUGIN_CACHE=0 writes no index."""
        assert site.list(TROVE_PLUGIN_CACHE="0")["datatest"]["health"] \
            == "ok"
        assert not (site.cache / "trove-core").exists()
