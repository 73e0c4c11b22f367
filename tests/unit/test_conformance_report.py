"""Tests of the conformance report: schema, collector and loader."""

import json

import pytest

from trove_core.tools import evidence
from trove_core import exceptions
from trove_guest_base.conformance import report


def _collector(results, declared=("lifecycle", "databases")):
    collector = report.ReportCollector()
    run = collector.run("fake")
    run.meta = {"plugin_distribution": "trove-ds-fake",
                "plugin_version": "1.0.0",
                "declared_capabilities": list(declared),
                "engine": {"name": "fake", "version": "1.0"},
                "live": False}
    for capability, test, status, reason in results:
        run.note(capability, test, status, reason)
    return collector


class TestCollector:
    """ReportCollector turns test outcomes into capability statuses."""

    def test_statuses(self):
        """pass, fail, not declared and no tests are told apart."""
        doc = _collector([
            ("lifecycle", "test_a", "pass", ""),
            ("databases", "test_b", "pass", ""),
            ("databases", "test_c", "fail", "AssertionError: boom"),
            ("users", "test_users_not_declared_refused", "pass", ""),
        ], declared=("lifecycle", "databases", "root")).build("fake")
        caps = doc["capabilities"]
        assert caps["lifecycle"]["status"] == "pass"
        assert caps["databases"]["status"] == "fail"
        assert "test_c: AssertionError: boom" in caps["databases"]["reason"]
        assert caps["users"] == {
            "status": "skip", "reason": "not declared",
            "tests": {"test_users_not_declared_refused":
                      {"status": "pass"}}}
        assert caps["root"]["reason"] == report.NO_TESTS
        assert doc["totals"] == {"pass": 3, "fail": 1, "skip": 0}

    def test_a_failure_is_never_overwritten(self):
        """A teardown pass after a call failure keeps the failure."""
        collector = _collector([("lifecycle", "t", "fail", "x"),
                                ("lifecycle", "t", "pass", "")])
        caps = collector.build("fake")["capabilities"]
        assert caps["lifecycle"]["tests"]["t"]["status"] == "fail"

    def test_declared_but_all_skipped(self):
        """A declared capability whose tests all skipped says why."""
        caps = _collector([
            ("databases", "t", "skip", "no probe")]).build(
            "fake")["capabilities"]
        assert caps["databases"]["status"] == "skip"
        assert caps["databases"]["reason"] == "no probe"

    def test_targets(self, tmp_path):
        """--trove-report and TROVE_EVIDENCE_DIR both receive reports."""
        collector = _collector([])
        collector.run("other")
        targets = collector.targets(str(tmp_path / "r.json"),
                                    env={report.ENV_VAR: str(tmp_path)})
        assert targets == [
            ("fake", tmp_path / "r.json"),
            ("other", tmp_path / "r-other.json"),
            ("fake", tmp_path / "fake.json"),
            ("other", tmp_path / "other.json")]

    def test_targets_placeholder(self, tmp_path):
        """'{datastore}' in the path names each report."""
        collector = _collector([])
        path = str(tmp_path / "{datastore}-report.json")
        assert collector.targets(path, env={}) == [
            ("fake", tmp_path / "fake-report.json")]

    def test_written_report_reads_back(self, tmp_path):
        """A written report loads with report.load and evidence."""
        collector = _collector([("lifecycle", "t", "pass", "")])
        [path] = collector.write(str(tmp_path / "fake.json"), env={})
        assert report.load(path)["capabilities"]["lifecycle"][
            "status"] == "pass"
        assert evidence.read_report(path).status("lifecycle") == "pass"


class TestStrategies:
    """Per-strategy results in the report."""

    def test_outcomes(self):
        """A failure stands, a pass beats a skip, a declared strategy no
        test ran is a skip with the capability's reason."""
        collector = _collector([("lifecycle", "t", "pass", "")])
        run = collector.run("fake")
        run.meta["_strategies"] = {"dump": "backup", "phys": "backup",
                                   "repl": "replication"}
        run.note_strategy("backup", "dump", "skip", "no tool")
        run.note_strategy("backup", "dump", "pass")
        run.note_strategy("backup", "phys", "fail", "boom")
        run.note_strategy("backup", "phys", "pass")
        doc = collector.build("fake")
        assert doc["strategies"]["dump"] == {
            "kind": "backup", "status": "pass", "reason": "",
            "live": False}
        assert doc["strategies"]["phys"]["status"] == "fail"
        assert doc["strategies"]["phys"]["reason"] == "boom"
        assert doc["strategies"]["repl"]["status"] == "skip"
        assert doc["strategies"]["repl"]["reason"] == report.NOT_DECLARED

    def test_live_only_when_passed(self):
        """A strategy is live only when it passed in a live run."""
        collector = _collector([])
        run = collector.run("fake")
        run.meta["live"] = True
        run.note_strategy("backup", "ok", "pass")
        run.note_strategy("backup", "skipped", "skip", "not here")
        doc = collector.build("fake")
        assert doc["strategies"]["ok"]["live"] is True
        assert doc["strategies"]["skipped"]["live"] is False

    def test_optional_in_schema_1(self, tmp_path):
        """A report without 'strategies' (an older kit's) still loads."""
        doc = _collector([]).build("fake")
        del doc["strategies"]
        assert report.validate(doc)["capabilities"]

    def test_bad_strategy_entry(self):
        """A strategy entry needs a known kind and status."""
        doc = _collector([]).build("fake")
        doc["strategies"] = {"x": {"kind": "sharding", "status": "pass"}}
        with pytest.raises(exceptions.BadRequest,
                           match="strategy 'x' needs a kind") as info:
            report.validate(doc, "x.json")
        assert "sharding" not in info.value.reason


class TestLoad:
    """report.load refuses documents that are not schema 1."""

    @pytest.mark.parametrize("doc,match", [
        pytest.param([], "not a JSON object", id="not-object"),
        pytest.param({"schema": 2}, "schema is 2", id="schema"),
        pytest.param({"schema": 1}, "'datastore'", id="missing-field"),
    ])
    def test_invalid(self, tmp_path, doc, match):
        """Each problem is named, with what to do."""
        path = tmp_path / "r.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(exceptions.BadRequest, match=match) as info:
            report.load(path)
        assert info.value.path == str(path)
        assert "run the conformance kit again" in str(info.value)

    def test_bad_capability_status(self, tmp_path):
        """A capability status outside pass/fail/skip is refused."""
        doc = _collector([]).build("fake")
        doc["capabilities"]["lifecycle"]["status"] = "great"
        with pytest.raises(exceptions.BadRequest,
                           match="'lifecycle' needs a status") as info:
            report.validate(doc, "x.json")
        assert "lifecycle" in info.value.reason

    def test_unreadable(self, tmp_path):
        """A missing file is reported as unusable."""
        with pytest.raises(exceptions.BadRequest,
                           match="FileNotFoundError") as info:
            report.load(tmp_path / "absent.json")
        assert info.value.reason.startswith("FileNotFoundError")


class TestProvenance:
    """A report says where it was run: a local run or the CI gate."""

    @pytest.mark.parametrize("env, expected", [
        pytest.param({}, {"source": "local", "ci": "", "commit": "",
                          "voting": False}, id="developer"),
        pytest.param({"CI": "true"}, {"source": "local", "ci": "ci",
                                      "commit": "", "voting": False},
                     id="ci-without-commit"),
        pytest.param({"CI": "true", "TROVE_GATE_COMMIT": "abc123",
                      "TROVE_VOTING_SUITES": "mysql,fake redis"},
                     {"source": "gate", "ci": "ci", "commit": "abc123",
                      "voting": True}, id="gate-voting"),
        pytest.param({"CI": "true", "GITHUB_ACTIONS": "true",
                      "GITHUB_SHA": "f00d", "TROVE_VOTING_SUITES": "mysql"},
                     {"source": "gate", "ci": "github-actions",
                      "commit": "f00d", "voting": False},
                     id="gate-not-voting"),
        pytest.param({"TROVE_GATE_COMMIT": "abc123",
                      "TROVE_VOTING_SUITES": "fake"},
                     {"source": "local", "ci": "", "commit": "",
                      "voting": False}, id="not-ci"),
    ])
    def test_from_environment(self, env, expected):
        """CI=true and a known commit make a gate run; the voting list
        decides ``voting``."""
        assert report.provenance("fake", env) == expected

    def test_written_and_read(self, tmp_path, monkeypatch):
        """The collector records it; evidence reads it back."""
        monkeypatch.setenv("CI", "true")
        monkeypatch.setenv("TROVE_GATE_COMMIT", "abc123")
        monkeypatch.setenv("TROVE_VOTING_SUITES", "fake")
        for var in ("ZUUL_PROJECT", "GITHUB_ACTIONS", "GITLAB_CI",
                    "JENKINS_URL"):
            monkeypatch.delenv(var, raising=False)
        _collector([("lifecycle", "test_a", "pass", "")]).write(
            str(tmp_path / "fake.json"), env={})
        read = evidence.read_report(tmp_path / "fake.json")
        assert read.gate and read.origin() == "ci gate at abc123, voting"

    def test_older_report_is_local(self, tmp_path):
        """A report without provenance counts as a local run."""
        doc = _collector([("lifecycle", "test_a", "pass", "")]).build(
            "fake")
        del doc["provenance"]
        (tmp_path / "fake.json").write_text(json.dumps(doc))
        read = evidence.read_report(tmp_path / "fake.json")
        assert not read.gate and read.origin() == "local run"

    def test_bad_provenance_refused(self, tmp_path):
        """A provenance that is not an object of the schema is refused."""
        doc = _collector([("lifecycle", "test_a", "pass", "")]).build(
            "fake")
        doc["provenance"] = {"source": "somewhere", "voting": "yes"}
        (tmp_path / "fake.json").write_text(json.dumps(doc))
        with pytest.raises(exceptions.BadRequest, match="provenance"):
            evidence.read_report(tmp_path / "fake.json")
