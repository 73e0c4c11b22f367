"""Tests of trove-datastore-scaffold."""

import json
import os
import subprocess
import sys

import pytest

from trove_core import exceptions
from trove_core.tools import scaffold


class TestRender:
    """render() lays out a plugin with the shape of ours."""

    def test_layout(self):
        """Every file of the plugin shape is produced."""
        dirname, files = scaffold.render("couch")
        assert dirname == "trove-ds-couch"
        assert set(files) == {
            "setup.cfg", "setup.py", "pyproject.toml", "requirements.txt",
            "README.rst", "trove_ds_couch/__init__.py",
            "trove_ds_couch/plugin.py",
            "trove_ds_couch/plugin.descriptor.json",
            "trove_ds_couch/options.py",
            "trove_ds_couch/manager.py",
            "trove_ds_couch/elements/README.rst",
            "tests/unit/test_plugin.py",
            "tests/conformance/test_couch_conformance.py"}

    def test_entry_points(self):
        """setup.cfg registers the three entry-point groups."""
        _dirname, files = scaffold.render("couch_db", tier="stable")
        cfg = files["setup.cfg"]
        assert "couch_db = trove_ds_couch_db.plugin:DESCRIPTOR" in cfg
        assert "couch_db = trove_ds_couch_db.manager:Manager" in cfg
        assert ("trove.datastore.couch_db.guest = "
                "trove_ds_couch_db.options:list_guest_opts") in cfg
        assert 'tier="stable"' in files["trove_ds_couch_db/plugin.py"]
        assert "class TestCouchDBConformance" in files[
            "tests/conformance/test_couch_db_conformance.py"]

    def test_descriptor_data(self):
        """The package ships its descriptor as data, declared package
        data, and its tests check that it is current."""
        _dirname, files = scaffold.render("couch_db", tier="stable")
        data = json.loads(files["trove_ds_couch_db/plugin.descriptor.json"])
        assert data["module"] == "trove_ds_couch_db.plugin"
        desc = data["descriptors"]["DESCRIPTOR"]
        assert (desc["name"], desc["tier"]) == ("couch_db", "stable")
        assert "*.descriptor.json" in files["setup.cfg"]
        assert 'check_shipped("couch_db")' in files[
            "tests/unit/test_plugin.py"]

    @pytest.mark.parametrize("name, title", [
        pytest.param("postgresql", "PostgreSQL", id="postgresql"),
        pytest.param("mysql", "MySQL", id="mysql"),
        pytest.param("mongodb", "MongoDB", id="mongodb"),
        pytest.param("couch_db", "Couch DB", id="words"),
        pytest.param("acme", "Acme", id="unknown"),
    ])
    def test_known_spellings(self, name, title):
        """Known engines keep their spelling (not 'Postgresql')."""
        _dirname, files = scaffold.render(name)
        text = "\n".join(files.values())
        assert '"%s datastore"' % title in files[
            "trove_ds_%s/plugin.py" % name]
        if title != name.title():
            assert name.title() not in text

    def test_python_compiles(self):
        """Every generated module is valid Python."""
        _dirname, files = scaffold.render("couch")
        for path, text in files.items():
            if path.endswith(".py"):
                compile(text, path, "exec")

    @pytest.mark.parametrize("name", [
        pytest.param("Couch", id="uppercase"),
        pytest.param("1db", id="leading-digit"),
        pytest.param("couch-db", id="hyphen"),
        pytest.param("../evil", id="path-traversal"),
        pytest.param("", id="empty"),
        pytest.param("a" * 33, id="too-long"),
    ])
    def test_bad_name(self, name):
        """A name the descriptor would refuse is refused up front."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="must match") as info:
            scaffold.render(name)
        assert info.value.kind == "datastore"

    def test_bad_tier(self):
        """An unknown tier is refused with the valid ones."""
        with pytest.raises(exceptions.BadRequest,
                           match="unknown maturity tier") as info:
            scaffold.render("couch", tier="gold")
        assert "gold" in info.value.reason


class TestMain:
    """The console script writes the package or says why not."""

    def test_creates_package(self, tmp_path, capsys):
        """main() writes the tree and prints the next steps."""
        assert scaffold.main(["couch", "--output", str(tmp_path),
                              "--no-git"]) == 0
        root = tmp_path / "trove-ds-couch"
        assert (root / "trove_ds_couch" / "manager.py").is_file()
        assert "pip install -e %s" % root in capsys.readouterr().out

    def test_existing_target_refused(self, tmp_path, capsys):
        """An existing directory is never overwritten."""
        (tmp_path / "trove-ds-couch").mkdir()
        assert scaffold.main(["couch", "-o", str(tmp_path)]) == 2
        assert "already exists" in capsys.readouterr().err

    def test_bad_name_exit_code(self, tmp_path, capsys):
        """A bad name exits 2 with the rule."""
        assert scaffold.main(["Bad", "-o", str(tmp_path)]) == 2
        assert "must match" in capsys.readouterr().err

    def test_git_tag_versions_package(self, tmp_path):
        """The new package is a git repository tagged 0.1.0 for pbr."""
        root = scaffold.scaffold("couch", tmp_path)
        tags = subprocess.run(["git", "-C", root, "tag"], check=True,
                              capture_output=True, text=True).stdout
        assert tags.split() == [scaffold.FIRST_VERSION]


@pytest.mark.packaging
@pytest.mark.slow
class TestScaffoldEndToEnd:
    """A scaffolded plugin installs, lists, loads and passes the kit."""

    def test_install_list_load_conform(self, tmp_path):
        """pip installs it; discovery lists and loads it; its own tests
        and the conformance kit pass and write a report."""
        root = scaffold.scaffold("scaffolded_demo", tmp_path)
        site = tmp_path / "site"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
             "--target", str(site), root],
            check=True, capture_output=True, text=True, timeout=600)
        env = dict(os.environ, PYTHONPATH=str(site))
        env.pop("TROVE_EVIDENCE_DIR", None)
        assert (site / "trove_ds_scaffolded_demo" /
                "plugin.descriptor.json").is_file()
        listing = ("import sys; from trove_core import discovery; "
                   "[r] = [r for r in discovery.discover() "
                   "if r.name == 'scaffolded_demo']; "
                   "print(r.health.value, "
                   "'trove_ds_scaffolded_demo' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", listing], env=env,
                             check=True, capture_output=True,
                             text=True, cwd=tmp_path).stdout
        assert out.split() == ["ok", "False"]  # read, not imported
        check = ("from trove_core import discovery; "
                 "r = discovery.find('scaffolded_demo'); "
                 "_, cls = discovery.load_manager_class('scaffolded_demo'); "
                 "print(r.distribution, r.version, cls.__module__)")
        out = subprocess.run([sys.executable, "-c", check], env=env,
                             check=True, capture_output=True,
                             text=True).stdout
        assert out.split() == ["trove-ds-scaffolded-demo", "0.1.0",
                               "trove_ds_scaffolded_demo.manager"]
        report = tmp_path / "report.json"
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--rootdir", root, "--trove-report", str(report),
             os.path.join(root, "tests")],
            cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=600)
        assert run.returncode == 0, run.stdout[-3000:]
        data = json.loads(report.read_text())
        assert data["plugin_distribution"] == "trove-ds-scaffolded-demo"
        assert data["plugin_version"] == "0.1.0"
        assert {c["status"] for c in data["capabilities"].values()} <= {
            "pass", "skip"}
        assert data["capabilities"]["backup"]["status"] == "pass"
        evidence_dir = tmp_path / "evidence"
        evidence_dir.mkdir()
        (evidence_dir / "scaffolded_demo.json").write_text(
            report.read_text())
        checked = subprocess.run(
            [sys.executable, "-m", "trove_core.tools.cli", "check",
             "scaffolded_demo", "--evidence", str(evidence_dir), "-f",
             "json"], env=env, capture_output=True, text=True, timeout=120,
            cwd=tmp_path)
        assert checked.returncode == 1, checked.stderr
        reqs = {r["requirement"]: r for r in
                json.loads(checked.stdout)[0]["requirements"]}
        # the placeholder README installs nothing: no element yet
        assert reqs["elements"]["result"] == "fail"
        assert "holds no hooks" in reqs["elements"]["evidence"]
        assert reqs["capabilities"]["result"] == "pass"
