"""Tests of the trove-datastores operator CLI, run in process."""

import csv
import io
import json
import sys

import pytest

from trove_core import capabilities
from trove_core.tools import cli
from trove_core import discovery
from trove_core.tools import evidence
from trove_core import tiers
from trove_core.tools.cli import output
from trove_core.tools.cli import views

REAL = {"mysql": "stable", "cassandra": "technical-preview",
        "mongodb": "technical-preview", "redis": "stable"}


def run(*argv):
    """Run the CLI; return (exit code, stdout text)."""
    out = io.StringIO()
    code = cli.main(list(argv), stream=out)
    return code, out.getvalue()


def run_json(*argv):
    """Run the CLI with JSON output; return (exit code, parsed data)."""
    code, text = run(*argv, "-f", "json")
    return code, json.loads(text)


@pytest.fixture
def no_evidence(tmp_path, monkeypatch):
    """An empty evidence directory, used by default."""
    monkeypatch.setenv("TROVE_EVIDENCE_DIR", str(tmp_path / "none"))
    return tmp_path / "none"


@pytest.mark.usefixtures("no_evidence")

def live_report(rec):
    """A current, live, all-passing conformance report for ``rec``."""
    return {
        "schema": 1, "datastore": rec.name,
        "plugin_distribution": rec.distribution,
        "plugin_version": rec.version, "core_version": "999.0",
        "engine": {"name": rec.name, "version": "7.0"}, "live": True,
        "started": "now", "duration_s": 1,
        "capabilities": {c: {"status": "pass", "tests": {}}
                         for c in rec.descriptor.capabilities},
        "strategies": {st.name: {"kind": st.kind, "status": "pass",
                                 "reason": "", "live": True}
                       for st in rec.descriptor.strategies}}

class TestList:
    """``list`` shows every plugin, healthy or not."""

    def test_real_plugins(self):
        """The four real plugins list as healthy with their seed tiers."""
        code, data = run_json("list")
        assert code == cli.EXIT_OK
        by_name = {d["name"]: d for d in data}
        for name, tier in REAL.items():
            item = by_name[name]
            assert item["health"] == "ok" and item["reason"] == ""
            assert item["declared_tier"] == tier
            assert item["verified_tier"] == "unverified"
            assert item["distribution"] == "trove-ds-%s" % name
            assert "lifecycle" in item["capabilities"]
        assert {s["tier"] for s in by_name["mysql"]["strategies"]
                if s["kind"] != "cluster"} == {"stable"}
        assert [(s["name"], s["tier"]) for s in by_name["mysql"][
            "strategies"] if s["kind"] == "cluster"] == [
            ("galera", "experimental")]

    def test_broken_plugins_reported(self):
        """Unusable test plugins are listed with a reason, not dropped."""
        _code, data = run_json("list")
        bad = [d for d in data if d["health"] != "ok"]
        assert {d["health"] for d in bad} >= {
            "broken", "incompatible", "invalid", "duplicate"}
        assert all(d["reason"] for d in bad)
        assert all(d["declared_tier"] is None and not d["allowed"]
                   for d in bad)

    def test_default_policy(self):
        """By default stable and technical preview are allowed."""
        _code, data = run_json("list")
        allowed = {d["name"]: d["allowed"] for d in data
                   if d["name"] in REAL or d["name"] == "fake"}
        assert allowed == {"mysql": True, "cassandra": True,
                           "mongodb": True, "redis": True, "fake": False}

    def test_allowed_tiers_option(self):
        """--allowed-tiers replaces the policy."""
        _code, data = run_json("list", "--allowed-tiers", "experimental")
        allowed = {d["name"]: d["allowed"] for d in data
                   if d["name"] in REAL or d["name"] == "fake"}
        assert allowed == {"mysql": False, "cassandra": False,
                           "mongodb": False, "redis": False, "fake": True}
        mysql = [d for d in data if d["name"] == "mysql"][0]
        assert not any(s["allowed"] for s in mysql["strategies"]
                       if s["kind"] != "cluster")
        # the galera topology carries its own (experimental) tier
        assert [s["name"] for s in mysql["strategies"]
                if s["allowed"]] == ["galera"]

    def test_config_file(self, tmp_path):
        """[DEFAULT] allowed_tiers of a config file sets the policy."""
        conf = tmp_path / "trove.conf"
        conf.write_text("[DEFAULT]\nallowed_tiers = experimental,stable\n")
        code, text = run("list", "--config-file", str(conf))
        assert code == cli.EXIT_OK
        assert text.splitlines()[0] == "allowed tiers: stable, experimental"

    def test_config_file_bad_value(self, tmp_path, capsys):
        """A bad value in the config file is a usage error."""
        conf = tmp_path / "trove.conf"
        conf.write_text("[DEFAULT]\nallowed_tiers = gold\n")
        code, _text = run("list", "--config-file", str(conf))
        assert code == cli.EXIT_USAGE
        assert "allowed_tiers" in capsys.readouterr().err

    def test_config_file_missing(self, tmp_path, capsys):
        """A configuration file that does not exist is a usage error."""
        code, _text = run("list", "--config-file", str(tmp_path / "no"))
        assert code == cli.EXIT_USAGE
        assert str(tmp_path / "no") in capsys.readouterr().err

    def test_bad_tier_option(self, capsys):
        """An unknown tier on the command line is a usage error."""
        code, _text = run("list", "--allowed-tiers", "gold")
        assert code == cli.EXIT_USAGE
        assert "unknown maturity tier 'gold'" in capsys.readouterr().err

    def test_csv(self):
        """CSV output has the documented columns and one row a plugin."""
        _code, text = run("list", "-f", "csv")
        rows = list(csv.reader(io.StringIO(text)))
        assert tuple(rows[0]) == views.LIST_COLUMNS
        assert {r[0] for r in rows[1:]} >= set(REAL)

    def test_yaml(self):
        """YAML output carries the same data as JSON."""
        yaml = pytest.importorskip("yaml")
        _code, text = run("list", "-f", "yaml")
        assert yaml.safe_load(text) == run_json("list")[1]

    def test_yaml_missing(self, monkeypatch, capsys):
        """Without PyYAML, YAML output is refused with what to do."""
        monkeypatch.setitem(sys.modules, "yaml", None)
        code, _text = run("list", "-f", "yaml")
        assert code == cli.EXIT_USAGE
        assert "pip install PyYAML" in capsys.readouterr().err

    def test_table(self):
        """The table names the policy, the columns and each plugin."""
        _code, text = run("list")
        assert "| name " in text and "| mysql " in text
        assert text.startswith("allowed tiers: stable, technical-preview")

    def test_flat_rows_built_only_for_flat_formats(self):
        """JSON and YAML never build the table rows; the table and CSV
        build them once."""
        calls = []

        def rows():
            calls.append(1)
            return [("a", 1)]

        result = output.Result([{"a": 1}], ("a", "b"), rows)
        assert output.render(result, "json") == '[\n  {\n    "a": 1\n  }\n]\n'
        assert calls == []
        assert "| a " in output.render(result, "table")
        assert output.render(result, "csv") == "a,b\na,1\n"
        assert calls == [1]

    def test_zero_plugins(self):
        """An empty entry-point group lists as an empty result."""
        records = discovery.discover(group="trove.test.nothing.here")
        result = views.list_plugins(records, tiers.TierPolicy())
        assert result.data == [] and result.flat_rows() == []
        assert output.render(result, "json") == "[]\n"
        assert "| name " in output.render(result, "table")

    def test_verified_from_evidence(self, tmp_path):
        """A current live report shows as the verified tier."""
        rec = discovery.find("redis")
        report = live_report(rec)
        (tmp_path / "redis.json").write_text(json.dumps(report))
        _code, data = run_json("list", "--evidence", str(tmp_path))
        item = [d for d in data if d["name"] == "redis"][0]
        ev = evidence.evaluate(
            rec, tmp_path, load_manager=False)
        expected = ev.verified.label if ev.verified else "unverified"
        assert item["verified_tier"] == expected
        assert ev.report is not None and not ev.stale


@pytest.mark.usefixtures("no_evidence")
class TestShow:
    """``show`` prints everything about one plugin."""

    def test_mysql(self):
        """Descriptor, both option sides, OS and engine versions."""
        code, data = run_json("show", "mysql")
        assert code == cli.EXIT_OK
        assert data["declared_tier"] == "stable"
        assert data["engine_versions"]
        assert {e["id"] for e in data["supported_os"]} >= {"debian-12"}
        server = {o["name"] for o in data["server_options"]}
        guest = {o["name"] for o in data["guest_options"]}
        assert "tcp_ports" in server and "mount_point" in guest
        assert "backup_strategy" in guest
        assert "backup_strategy" not in server
        assert data["install_guest"] == "pip install 'trove-ds-mysql[guest]'"

    def test_table(self):
        """The table has a field and a value column."""
        code, text = run("show", "redis")
        assert code == cli.EXIT_OK
        assert "| field" in text and "| guest_options" in text

    def test_not_found(self, capsys):
        """An unknown name exits 3 and lists what is installed."""
        code, _text = run("show", "nosuch")
        assert code == cli.EXIT_PLUGIN
        err = capsys.readouterr().err
        assert "no datastore plugin named 'nosuch'" in err
        assert "mysql" in err

    def test_duplicate(self):
        """A duplicated name shows every registration in one document."""
        code, data = run_json("show", "dupe")
        assert code == cli.EXIT_PLUGIN
        assert isinstance(data, list) and len(data) == 2
        assert {d["distribution"] for d in data} == {
            "trove-test-plugins", "trove-test-plugins-dup"}
        assert all(d["health"] == "duplicate" for d in data)

    def test_broken(self):
        """A broken plugin is shown with its reason and exits 3."""
        code, data = run_json("show", "broken")
        assert code == cli.EXIT_PLUGIN
        assert data["health"] == "broken" and data["reason"]


class TestMatrix:
    """``matrix`` is datastore by every capability."""

    def test_json(self):
        """Every usable datastore has every capability name."""
        code, data = run_json("matrix")
        assert code == cli.EXIT_OK
        assert set(REAL) <= set(data)
        for row in data.values():
            assert list(row) == list(capabilities.CAPABILITIES) + [
                "topologies"]
            assert row["topologies"][0]["name"] == "single"
        assert data["mysql"]["lifecycle"] is True
        assert "broken" not in data

    def test_table_columns(self):
        """The table has one column per capability, then topologies."""
        result = views.matrix(discovery.discover())
        assert result.columns[2:-1] == tuple(capabilities.CAPABILITIES)
        assert result.columns[-1] == "topologies"


class TestCheck:
    """``check`` evaluates the declared tier's requirements."""

    def test_unsupported_tier_exits_1(self, no_evidence):
        """Without evidence, a declared tier is not supported."""
        code, data = run_json("check", "mysql")
        assert code == cli.EXIT_CHECK_FAILED
        assert data[0]["declared_tier"] == "stable"
        assert data[0]["verified_tier"] == "unverified"
        reqs = {r["requirement"]: r for r in data[0]["requirements"]}
        assert reqs["report"]["result"] == "fail"
        assert str(no_evidence) in reqs["report"]["evidence"]
        assert reqs["descriptor"]["result"] == "pass"

    def test_live_report_satisfies_report_requirements(self, tmp_path):
        """A current live passing report passes the report-based checks."""
        rec = discovery.find("redis")
        report = live_report(rec)
        (tmp_path / "redis.json").write_text(json.dumps(report))
        code, data = run_json("check", "redis", "--evidence", str(tmp_path))
        reqs = {r["requirement"]: r["result"]
                for r in data[0]["requirements"]}
        assert reqs["report"] == reqs["capabilities"] == reqs["live"]
        assert reqs["live"] == "pass"
        assert code == (cli.EXIT_OK if data[0]["supported"]
                        else cli.EXIT_CHECK_FAILED)

    def test_all_with_broken_exits_3(self, no_evidence):
        """--all includes unusable plugins and exits 3 for them."""
        code, data = run_json("check", "--all")
        assert code == cli.EXIT_PLUGIN
        names = {d["datastore"] for d in data}
        assert set(REAL) <= names and "broken" in names

    @pytest.mark.parametrize("argv", [
        pytest.param([], id="nothing"),
        pytest.param(["mysql", "--all"], id="both"),
    ])
    def test_usage(self, argv, capsys):
        """Names and --all are exclusive, and one is required."""
        code, _text = run("check", *argv)
        assert code == cli.EXIT_USAGE
        assert "--all" in capsys.readouterr().err

    def test_not_found(self):
        """Checking an unknown name exits 3."""
        assert run("check", "nosuch")[0] == cli.EXIT_PLUGIN

    def test_csv(self, no_evidence):
        """CSV has one row per requirement."""
        _code, text = run("check", "redis", "-f", "csv")
        rows = list(csv.reader(io.StringIO(text)))
        assert tuple(rows[0]) == views.CHECK_COLUMNS
        strategies = discovery.find("redis").descriptor.strategies
        assert len(rows) == 1 + len(evidence.REQUIREMENTS) + len(
            strategies) * len(evidence.STRATEGY_REQUIREMENTS)
        assert {r[0] for r in rows[1:]} == {"redis"} | {
            "redis/%s" % st.name for st in strategies}


class TestConfigSample:
    """``config-sample`` goes through oslo-config-generator."""

    def test_server(self):
        """The server side has the core and server options only."""
        code, text = run("config-sample", "--side", "server", "mysql")
        assert code == cli.EXIT_OK
        assert "#allowed_tiers = stable,technical-preview" in text
        assert "[mysql]" in text and "#tcp_ports = 3306" in text
        assert "#mount_point = /var/lib/mysql" in text
        assert "backup_strategy" not in text

    def test_guest(self):
        """The guest side has the guest options."""
        code, text = run("config-sample", "--side", "guest", "redis")
        assert code == cli.EXIT_OK
        assert "[redis]" in text and "#mount_point" in text
        assert "tcp_ports" not in text

    def test_all_usable(self, tmp_path):
        """Without names every usable plugin is included, to a file."""
        target = tmp_path / "sample.conf"
        code, text = run("config-sample", "--side", "server", "-o",
                         str(target))
        assert code == cli.EXIT_OK and text == ""
        sample = target.read_text()
        assert all("[%s]" % name in sample for name in REAL)

    def test_unknown(self):
        """An unknown datastore exits 3."""
        code, _text = run("config-sample", "--side", "guest", "nosuch")
        assert code == cli.EXIT_PLUGIN

    def test_side_required(self):
        """--side is required."""
        assert run("config-sample")[0] == cli.EXIT_USAGE


class TestHelp:
    """--help documents the exit codes."""

    def test_exit_codes(self, capsys):
        """Every exit code is described in --help."""
        assert run("--help")[0] == 0
        text = capsys.readouterr().out
        for code, meaning in cli.EXIT_CODES.items():
            assert "%d  %s" % (code, meaning[:30]) in text


class TestJSONOutput:
    @pytest.mark.parametrize("view", ["list", "show", "matrix"])
    def test_same_text_as_json_dumps(self, view):
        """-f json prints exactly json.dumps(indent=2) of the data."""
        records = discovery.discover()
        policy = tiers.TierPolicy()
        if view == "list":
            result = views.list_plugins(records, policy)
        elif view == "show":
            (rec,) = [r for r in records if r.name == "mysql"]
            result = views.show(rec, policy)
        else:
            result = views.matrix(records)
        assert output.render(result, "json") == json.dumps(
            result.data, indent=2) + "\n"

    @pytest.mark.parametrize("data", [
        pytest.param({1: "int key"}, id="int-key"),
        pytest.param([1.5, float("inf"), -0.0], id="floats"),
        pytest.param({"a": [[], {}, [None, True, False, 7]]}, id="nested"),
        pytest.param({"é": "ü\n\"\\\u2028"}, id="escapes"),
        pytest.param(("a", ("b",)), id="tuples"),
        pytest.param({"s": {"x"}}, id="unencodable"),
    ])
    def test_unusual_values(self, data):
        """Values the fast writer leaves to json.dumps come out the same
        (or fail the same way)."""
        result = output.Result(data, (), [])
        try:
            expected = json.dumps(data, indent=2) + "\n"
        except TypeError:
            with pytest.raises(TypeError):
                output.render(result, "json")
            return
        assert output.render(result, "json") == expected
