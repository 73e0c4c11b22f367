"""Tests of trove_core.tools.evidence: tier requirements checked by machine."""

import dataclasses
import json
import pathlib
import re

import pytest

from trove_core import discovery
from trove_core.tools import evidence
from trove_core import exceptions
from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy
from trove_core.tiers import Tier

CORE = "1.2.0"


GATE = {"source": "gate", "ci": "zuul", "commit": "0123456789abcdef",
        "voting": True}


#: the ``goodtest`` plugin's install hook (the ``package`` fixture)
HOOK = ("#!/bin/sh\nset -eu\n# the server\napt-get install -y "
        "goodtest-server\n")


def make_image_record(path, hook=HOOK, exit=0, result="pass",
                      os_id="debian-12", **overrides):
    """Write the image record of a build that ran ``hook`` (and the
    core's hook) for the ``goodtest`` plugin."""
    data = {
        "datastore": "goodtest", "plugin_distribution": "trove-test-plugins",
        "plugin_version": "1.0.0", "os": os_id, "result": result,
        "hooks": [{"hook": "install.d/50-trove-service-user",
                   "sha256": "0" * 64, "exit": 0, "origin": "core"},
                  {"hook": "install.d/60-goodtest",
                   "sha256": evidence.sha256_hex(hook.encode()),
                   "exit": exit, "origin": "plugin"}],
        "bundle": {"sha256": "1" * 64, "format": 1},
    }
    data.update(overrides)
    return evidence.write_image_record(data, path)


def make_report(path, caps=None, live=False, gate=False, hostile="pass",
                image=True, **overrides):
    """Write a schema-1 conformance report for the ``goodtest`` plugin;
    ``gate`` makes it the report of a voting CI gate run; ``hostile`` is
    the status of every hostile-input case (``None``: absent, as in an
    older kit's report)."""
    caps = caps or {"lifecycle": "pass", "databases": "pass"}
    data = {
        "schema": 1, "datastore": "goodtest",
        "plugin_distribution": "trove-test-plugins",
        "plugin_version": "1.0.0", "core_version": CORE,
        "engine": {"name": "memory", "version": "1"}, "live": live,
        "started": "2026-11-22T02:00:00Z", "duration_s": 1.5,
        "capabilities": {
            cap: {"status": status, "tests": {},
                  "reason": "" if status == "pass" else "it broke"}
            for cap, status in caps.items()},
    }
    if gate:
        data["provenance"] = dict(GATE)
    if hostile:
        data["capabilities"].setdefault("lifecycle", {
            "status": "pass", "reason": "", "tests": {}})["tests"].update(
            {"%s[x]" % case: {"status": hostile}
             for case in evidence.HOSTILE_CASES})
    data.update(overrides)
    path.mkdir(parents=True, exist_ok=True)
    (path / ("%s.json" % data["datastore"])).write_text(json.dumps(data))
    if image:
        make_image_record(path)
    return path


@pytest.fixture
def package(tmp_path, monkeypatch, request):
    """A plugin package on sys.path whose elements hold an install hook."""
    # a fresh package name per test: imported packages stay cached
    name = "trove_evidence_pkg_%s" % re.sub(r"\W", "_", request.node.name)
    root = tmp_path / "site"
    elements = root / name / "elements"
    (elements / "install.d").mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (elements / "install.d" / "60-goodtest").write_text(HOOK)
    monkeypatch.syspath_prepend(str(root))
    return elements


@pytest.fixture
def record(package):
    """A healthy ``goodtest`` record whose manager really loads."""
    pkg_name = package.parent.name
    desc = DatastoreDescriptor(
        name="goodtest", tier="stable",
        capabilities={"lifecycle", "databases"},
        image=ImageSpec(supported_os=(OSSupport("debian-12"),
                                      OSSupport("ubuntu-22.04")),
                        service_user="goodtest"))
    return discovery.PluginRecord(
        "goodtest", "trove-test-plugins", "1.0.0",
        "%s.plugin:DESCRIPTOR" % pkg_name, desc)


def results(ev):
    """Map requirement id to pass/fail for compact assertions."""
    return {r.id: r.passed for r in ev.requirements}


class TestEvidenceDir:
    """Where reports are looked for."""

    def test_explicit_wins(self, monkeypatch, tmp_path):
        """An explicit directory wins over the environment."""
        monkeypatch.setenv("TROVE_EVIDENCE_DIR", "/elsewhere")
        assert evidence.evidence_dir(tmp_path) == tmp_path

    def test_environment(self, monkeypatch):
        """$TROVE_EVIDENCE_DIR is used when no directory is given."""
        monkeypatch.setenv("TROVE_EVIDENCE_DIR", "/srv/evidence")
        assert evidence.evidence_dir() == pathlib.Path("/srv/evidence")

    def test_default_state_dir(self, monkeypatch):
        """Without either, reports live under the XDG state directory."""
        monkeypatch.delenv("TROVE_EVIDENCE_DIR", raising=False)
        monkeypatch.setenv("XDG_STATE_HOME", "/home/op/.state")
        assert evidence.evidence_dir() == pathlib.Path(
            "/home/op/.state/trove-core/evidence")


class TestReadReport:
    """Reading and validating conformance reports."""

    def test_reads_valid(self, tmp_path):
        """A valid report exposes its fields."""
        make_report(tmp_path, live=True)
        report = evidence.read_report(tmp_path / "goodtest.json")
        assert report.live and report.datastore == "goodtest"
        assert report.status("databases") == "pass"
        assert report.status("backup") == "missing"

    @pytest.mark.parametrize("content, match", [
        pytest.param("{not json", "JSONDecodeError", id="not-json"),
        pytest.param("[]", "not a JSON object", id="not-object"),
        pytest.param('{"schema": 7}', "schema is 7", id="schema"),
        pytest.param('{"schema": 1, "datastore": 3}', "'datastore' is missing",
                     id="field-type"),
    ])
    def test_rejects_bad(self, tmp_path, content, match):
        """A malformed report is refused, naming the file and problem."""
        path = tmp_path / "x.json"
        path.write_text(content)
        with pytest.raises(exceptions.BadRequest, match=match) as info:
            evidence.read_report(path)
        assert info.value.path == str(path)

    def test_rejects_bad_status(self, tmp_path):
        """A capability status outside pass/fail/skip is refused."""
        make_report(tmp_path, caps={"lifecycle": "maybe"})
        with pytest.raises(exceptions.BadRequest, match="'lifecycle'"):
            evidence.read_report(tmp_path / "goodtest.json")


class TestEvaluate:
    """The verified tier follows the evidence, tier by tier."""

    def test_no_report(self, record, tmp_path):
        """Without a report nothing is verified, and the path is named."""
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.verified is None and not ev.supported
        assert results(ev)["manager"] and results(ev)["elements"]
        report = [r for r in ev.requirements if r.id == "report"][0]
        assert not report.passed
        assert str(tmp_path / "goodtest.json") in report.evidence

    @pytest.mark.parametrize("live, caps, verified", [
        pytest.param(True, None, Tier.STABLE, id="live-pass"),
        pytest.param(False, None, Tier.TECHNICAL_PREVIEW, id="not-live"),
        pytest.param(True, {"lifecycle": "pass", "databases": "fail"},
                     Tier.EXPERIMENTAL, id="capability-fails"),
        pytest.param(True, {"lifecycle": "pass"}, Tier.EXPERIMENTAL,
                     id="capability-missing"),
    ])
    def test_verified_tier(self, record, tmp_path, live, caps, verified):
        """Each tier needs its own evidence and all lower tiers'."""
        make_report(tmp_path, caps=caps, live=live, gate=True)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.verified is verified
        assert ev.supported is (verified is Tier.STABLE)

    @pytest.mark.parametrize("hostile, evidence_text", [
        pytest.param("fail", "failing: test_backup_hostile_round_trip",
                     id="failing"),
        pytest.param(None, "not in the report", id="older-kit"),
    ])
    def test_hostile_cases_gate_technical_preview(
            self, record, tmp_path, hostile, evidence_text):
        """A failing or absent hostile-input case keeps a plugin below
        technical-preview, whatever its capabilities."""
        make_report(tmp_path, live=True, hostile=hostile)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        req = [r for r in ev.requirements if r.id == "hostile"][0]
        assert not req.passed and evidence_text in req.evidence
        assert ev.verified is Tier.EXPERIMENTAL

    def test_hostile_cases_match_the_kit(self):
        """The evidence check names exactly the kit's cases."""
        from trove_guest_base.conformance import hostile

        assert evidence.HOSTILE_CASES == hostile.CASES

    def test_failure_reason_shown(self, record, tmp_path):
        """A failing capability is named with the report's reason."""
        make_report(tmp_path, caps={"lifecycle": "pass",
                                    "databases": "fail"})
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        caps = [r for r in ev.requirements if r.id == "capabilities"][0]
        assert "databases=fail (it broke)" in caps.evidence

    @pytest.mark.parametrize("overrides, match", [
        pytest.param({"plugin_version": "0.9.0"}, "0.9.0, 1.0.0 is",
                     id="plugin-version"),
        pytest.param({"core_version": "1.1.9"}, "older than the installed",
                     id="older-core"),
        pytest.param({"plugin_distribution": "other"}, "distribution",
                     id="distribution"),
        pytest.param({"partial": True}, "partial", id="partial"),
    ])
    def test_stale(self, record, tmp_path, overrides, match):
        """A report for another plugin version or older core is stale."""
        make_report(tmp_path, live=True, **overrides)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.verified is None
        assert match in ev.stale
        report = [r for r in ev.requirements if r.id == "report"][0]
        assert report.evidence.startswith("stale report")
        assert "is not evidence" in report.evidence

    def test_newer_core_not_stale(self, record, tmp_path):
        """A report written by a newer core still counts."""
        make_report(tmp_path, live=True, gate=True, core_version="1.3.0")
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.stale == "" and ev.verified is Tier.STABLE

    def test_invalid_report_fails(self, record, tmp_path):
        """An unreadable report fails the report requirement."""
        (tmp_path / "goodtest.json").write_text("{")
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert not results(ev)["report"] and ev.verified is None

    def test_local_live_run_is_technical_preview(self, record, tmp_path):
        """A live run on a developer's machine proves at most technical
        preview, and says what stable needs."""
        make_report(tmp_path, live=True)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.verified is Tier.TECHNICAL_PREVIEW and not ev.supported
        gate = [r for r in ev.requirements if r.id == "gate"][0]
        assert gate.tier is Tier.STABLE and not gate.passed
        assert "local run proves at most technical-preview" in \
            gate.evidence
        assert "missing: gate" in ev.advice

    def test_non_voting_gate_run_is_not_stable(self, record, tmp_path):
        """A gate run where the datastore does not vote is no stable
        evidence."""
        make_report(tmp_path, live=True,
                    provenance=dict(GATE, voting=False))
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.verified is Tier.TECHNICAL_PREVIEW
        gate = [r for r in ev.requirements if r.id == "gate"][0]
        assert "do not vote" in gate.evidence

    def test_gate_run_records_where(self, record, tmp_path):
        """The report's origin (CI, commit, voting) is the evidence."""
        make_report(tmp_path, live=True, gate=True)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        gate = [r for r in ev.requirements if r.id == "gate"][0]
        assert gate.passed
        assert gate.evidence == "zuul gate at 0123456789ab, voting"
        report = [r for r in ev.requirements if r.id == "report"][0]
        assert "zuul gate at 0123456789ab, voting" in report.evidence

    def test_advice_when_verified_above_declared(self, record, tmp_path):
        """Evidence above the declared tier says what the author may
        do."""
        rec = dataclasses.replace(record, descriptor=dataclasses.replace(
            record.descriptor, tier="experimental"))
        make_report(tmp_path)
        ev = evidence.evaluate(rec, tmp_path, core=CORE)
        assert ev.verified is Tier.TECHNICAL_PREVIEW and ev.supported
        assert "may raise the descriptor's tier to 'technical-preview'" \
            in ev.advice

    @pytest.mark.parametrize("files", [
        pytest.param({"README.rst": "Install the server here.\n"},
                     id="readme-only"),
        pytest.param({"install.d/60-placeholder":
                      "#!/bin/sh\nset -eu\n# TODO install it\nexit 0\n"},
                     id="placeholder-hook"),
    ])
    def test_elements_that_install_nothing(self, record, package,
                                           tmp_path, files):
        """A README or a hook that does nothing is no element."""
        (package / "install.d" / "60-goodtest").unlink()
        (package / "install.d").rmdir()
        for name, text in files.items():
            (package / name).parent.mkdir(parents=True, exist_ok=True)
            (package / name).write_text(text)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        elements = [r for r in ev.requirements if r.id == "elements"][0]
        assert not elements.passed
        assert "debian-12" in elements.evidence
        assert "install" in elements.evidence

    def test_elements_hook_that_would_not_run(self, record, package,
                                              tmp_path):
        """A shell hook with a syntax error fails, quoting the shell."""
        (package / "install.d" / "60-goodtest").write_text(
            "#!/bin/sh\nset -eu\nif true; then\n  apt-get install -y x\n")
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        elements = [r for r in ev.requirements if r.id == "elements"][0]
        assert not elements.passed
        assert "install.d/60-goodtest would not run" in elements.evidence

    def test_elements_name_the_hooks(self, record, tmp_path):
        """Passing elements name the hooks the image build runs."""
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        elements = [r for r in ev.requirements if r.id == "elements"][0]
        assert elements.passed, elements.evidence
        assert "install.d/60-goodtest" in elements.evidence

    def test_elements_absent(self, record, package, tmp_path):
        """A package without an elements directory fails."""
        for path in sorted(package.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        package.rmdir()
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert not results(ev)["elements"]

    def test_manager_mismatch_fails(self, tmp_path):
        """A manager that does not implement its declaration fails."""
        rec = discovery.find("mismatched")
        ev = evidence.evaluate(rec, tmp_path)
        manager = [r for r in ev.requirements if r.id == "manager"][0]
        assert not manager.passed
        assert "mismatched" in manager.evidence

    def test_list_mode_trusts_current_report(self, record, tmp_path):
        """Without importing, a current report stands for the manager."""
        make_report(tmp_path, live=True)
        ev = evidence.evaluate(record, tmp_path, load_manager=False,
                               core=CORE)
        manager = [r for r in ev.requirements if r.id == "manager"][0]
        assert manager.passed and "not imported here" in manager.evidence

    def test_list_mode_without_report(self, record, tmp_path):
        """Without importing and without a report, the manager fails."""
        ev = evidence.evaluate(record, tmp_path, load_manager=False,
                               core=CORE)
        assert not results(ev)["manager"]

    def test_unusable_plugin(self, tmp_path):
        """A broken plugin fails every requirement with its reason."""
        rec = discovery.PluginRecord(
            "gone", "dist", "1", "x:Y", None, discovery.Health.BROKEN,
            "importing x failed")
        ev = evidence.evaluate(rec, tmp_path)
        assert ev.declared is None and ev.verified is None
        assert not ev.supported
        assert all("importing x failed" in r.evidence
                   for r in ev.requirements)
        assert [r.id for r in ev.requirements] == list(
            evidence.REQUIREMENTS)


class TestStrategies:
    """Strategies carry their own tier, checked from the same report."""

    @pytest.fixture
    def with_strategies(self, record):
        """The ``goodtest`` record with three backup strategies."""
        desc = dataclasses.replace(record.descriptor, strategies=(
            Strategy("mysqldump", "backup", "stable"),
            Strategy("nosuch", "backup", "experimental"),
            Strategy("mariabackup", "backup", "technical-preview")))
        return dataclasses.replace(record, descriptor=desc)

    def evaluations(self, rec, tmp_path, live, strategies=None):
        """Evaluate with a report passing ``backup`` and, unless given,
        each strategy; map name -> result."""
        if strategies is None:
            strategies = {
                name: {"kind": "backup", "status": "pass", "reason": "",
                       "live": live}
                for name in ("mysqldump", "nosuch", "mariabackup")}
        make_report(tmp_path, live=live, gate=True, caps={
            "lifecycle": "pass", "databases": "pass", "backup": "pass"},
            strategies=strategies)
        ev = evidence.evaluate(rec, tmp_path, core=CORE)
        return {st.name: st for st in ev.strategies}

    def test_unexercised_strategy_not_credited(self, with_strategies,
                                               tmp_path):
        """A passing capability credits only the strategies the kit ran."""
        sts = self.evaluations(with_strategies, tmp_path, True, {
            "mysqldump": {"kind": "backup", "status": "pass",
                          "reason": "", "live": True}})
        assert sts["mysqldump"].verified is Tier.STABLE
        tested = [r for r in sts["mariabackup"].requirements
                  if r.id == "tested"][0]
        assert not tested.passed
        assert "did not exercise backup strategy 'mariabackup'" in \
            tested.evidence
        assert sts["mariabackup"].verified is None

    def test_skipped_strategy_not_credited(self, with_strategies,
                                           tmp_path):
        """A strategy the kit skipped is not tested, with the reason."""
        sts = self.evaluations(with_strategies, tmp_path, True, {
            "mysqldump": {"kind": "backup", "status": "skip",
                          "reason": "mariadb-dump is not installed",
                          "live": False}})
        tested = [r for r in sts["mysqldump"].requirements
                  if r.id == "tested"][0]
        assert not tested.passed
        assert "mariadb-dump is not installed" in tested.evidence

    def test_report_without_strategies_is_no_evidence(self,
                                                      with_strategies,
                                                      tmp_path):
        """An older report (no 'strategies') credits no strategy."""
        make_report(tmp_path, live=True, caps={
            "lifecycle": "pass", "databases": "pass", "backup": "pass"})
        ev = evidence.evaluate(with_strategies, tmp_path, core=CORE)
        for st in ev.strategies:
            tested = [r for r in st.requirements if r.id == "tested"][0]
            assert not tested.passed
            assert "no per-strategy results" in tested.evidence

    def test_live_report_makes_stable(self, with_strategies, tmp_path):
        """A registered strategy whose capability passed live is stable."""
        st = self.evaluations(with_strategies, tmp_path, True)["mysqldump"]
        assert st.verified is Tier.STABLE and st.supported

    def test_local_live_strategy_is_experimental(self, with_strategies,
                                                 tmp_path):
        """A strategy passing live outside the gate is not stable."""
        make_report(tmp_path, live=True, caps={
            "lifecycle": "pass", "databases": "pass", "backup": "pass"},
            strategies={"mysqldump": {"kind": "backup", "status": "pass",
                                      "reason": "", "live": True}})
        ev = evidence.evaluate(with_strategies, tmp_path, core=CORE)
        st = [s for s in ev.strategies if s.name == "mysqldump"][0]
        assert st.verified is Tier.EXPERIMENTAL
        live = [r for r in st.requirements if r.id == "live"][0]
        assert "local run" in live.evidence

    def test_missing_implementation(self, with_strategies, tmp_path):
        """A strategy without an entry point is not even experimental."""
        st = self.evaluations(with_strategies, tmp_path, True)["nosuch"]
        assert st.verified is None and not st.supported
        impl = st.requirements[0]
        assert impl.id == "implementation" and not impl.passed
        assert "trove.guestagent.backup_strategies" in impl.evidence

    def test_not_live_is_experimental(self, with_strategies, tmp_path):
        """Without a live run a strategy stays experimental."""
        sts = self.evaluations(with_strategies, tmp_path, False)
        assert sts["mysqldump"].verified is Tier.EXPERIMENTAL
        assert not sts["mysqldump"].supported
        assert not sts["mariabackup"].supported

    def test_capability_failing(self, with_strategies, tmp_path):
        """A failing capability fails its strategies' tests."""
        make_report(tmp_path, live=True, caps={
            "lifecycle": "pass", "databases": "pass", "backup": "fail"})
        ev = evidence.evaluate(with_strategies, tmp_path, core=CORE)
        st = ev.strategies[0]
        tested = [r for r in st.requirements if r.id == "tested"][0]
        assert not tested.passed and "'backup' is fail" in tested.evidence


class TestImageRequirement:
    """``image``: an image build ran the plugin's current hooks."""

    def test_pass(self, record, tmp_path):
        """A record of the current hooks, each exiting 0, passes."""
        make_report(tmp_path, live=True, gate=True)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        image = next(r for r in ev.requirements if r.id == "image")
        assert image.passed, image.evidence
        assert image.tier is Tier.TECHNICAL_PREVIEW
        assert "install.d/60-goodtest" in image.evidence
        assert ev.verified is Tier.STABLE
        assert ev.image_command == ""

    def test_missing(self, record, tmp_path):
        """No record: technical preview fails, saying how to build one."""
        make_report(tmp_path, live=True, gate=True, image=False)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        image = next(r for r in ev.requirements if r.id == "image")
        assert not image.passed
        assert "no image record at %s" % (
            tmp_path / "goodtest.image.json") in image.evidence
        command = ("sudo trove-guest-image build --datastore goodtest --os "
                   "debian-12 --output bundle-goodtest --rootfs "
                   "rootfs-goodtest --no-smoke --evidence %s" % tmp_path)
        assert command in image.evidence
        assert ev.verified is Tier.EXPERIMENTAL
        assert "missing: image" in ev.advice
        assert command in ev.advice

    def test_missing_advice_when_declared_is_verified(self, record,
                                                      tmp_path):
        """An experimental plugin without an image record is told the
        command that earns the next tier."""
        record = dataclasses.replace(record, descriptor=dataclasses.replace(
            record.descriptor, tier="experimental"))
        make_report(tmp_path, image=False)
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        assert ev.verified is Tier.EXPERIMENTAL
        assert "technical-preview also needs an image build" in ev.advice
        assert "trove-guest-image build --datastore goodtest" in ev.advice

    def test_stale_hook_changed(self, record, package, tmp_path):
        """A hook edited after the build makes the record stale."""
        make_report(tmp_path, live=True, gate=True)
        (package / "install.d" / "60-goodtest").write_text(
            HOOK + "apt-get install -y goodtest-tools\n")
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        image = next(r for r in ev.requirements if r.id == "image")
        assert not image.passed
        assert image.evidence.startswith("stale image record")
        assert "install.d/60-goodtest changed since" in image.evidence
        assert "rebuild: sudo trove-guest-image build" in image.evidence
        assert ev.verified is Tier.EXPERIMENTAL

    def test_stale_hook_added(self, record, package, tmp_path):
        """A hook the build never ran makes the record stale."""
        make_report(tmp_path, live=True, gate=True)
        (package / "install.d" / "61-extra").write_text(
            "#!/bin/sh\napt-get install -y extra\n")
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        image = next(r for r in ev.requirements if r.id == "image")
        assert not image.passed
        assert "install.d/61-extra did not run" in image.evidence

    def test_failed_hook(self, record, tmp_path):
        """A record whose hook exited non-zero fails, naming it."""
        make_report(tmp_path, live=True, gate=True)
        make_image_record(tmp_path, exit=100, result="fail")
        ev = evidence.evaluate(record, tmp_path, core=CORE)
        image = next(r for r in ev.requirements if r.id == "image")
        assert not image.passed
        assert "hook install.d/60-goodtest (exit 100)" in image.evidence
        assert "fix it and rebuild" in image.evidence

    def test_failed_after_hooks(self, record, tmp_path):
        """A build whose hooks passed but whose result is a failure (the
        agent or unit missing) does not pass."""
        make_report(tmp_path, live=True, gate=True)
        make_image_record(tmp_path, result="fail",
                          reason="the root filesystem lacks the unit")
        image = next(r for r in evidence.evaluate(
            record, tmp_path, core=CORE).requirements if r.id == "image")
        assert not image.passed
        assert "lacks the unit" in image.evidence

    def test_failed_self_check(self, record, tmp_path):
        """A record whose self-check failed does not pass."""
        make_report(tmp_path, live=True, gate=True)
        make_image_record(tmp_path, self_check="fail")
        image = next(r for r in evidence.evaluate(
            record, tmp_path, core=CORE).requirements if r.id == "image")
        assert not image.passed
        assert "self-check" in image.evidence

    def test_unsupported_os(self, record, tmp_path):
        """A record for an OS the plugin no longer supports fails."""
        make_report(tmp_path, live=True, gate=True)
        make_image_record(tmp_path, os_id="debian-13")
        image = next(r for r in evidence.evaluate(
            record, tmp_path, core=CORE).requirements if r.id == "image")
        assert not image.passed
        assert "no longer supports" in image.evidence

    @pytest.mark.parametrize("content, match", [
        pytest.param("{not json", "cannot read it", id="not-json"),
        pytest.param('{"schema": 3}', "schema is 3", id="schema"),
        pytest.param(json.dumps({
            "schema": 1, "datastore": "goodtest",
            "plugin_distribution": "d", "plugin_version": "1", "os":
            "debian-12", "result": "pass", "bundle": {}, "finished": "x",
            "hooks": [{"hook": "install.d/60-goodtest", "sha256": "a",
                       "exit": "0"}]}), "integer 'exit'", id="exit-type"),
        pytest.param(json.dumps({
            "schema": 1, "datastore": "goodtest",
            "plugin_distribution": "d", "plugin_version": "1", "os":
            "debian-12", "result": "maybe", "bundle": {}, "finished": "x",
            "hooks": []}), "'result' must be", id="result"),
    ])
    def test_unusable_record(self, record, tmp_path, content, match):
        """A malformed record fails the requirement, naming the file, the
        problem and the command that rewrites it."""
        make_report(tmp_path, image=False)
        (tmp_path / "goodtest.image.json").write_text(content)
        with pytest.raises(exceptions.BadRequest, match=match):
            evidence.read_image_record(tmp_path / "goodtest.image.json")
        image = next(r for r in evidence.evaluate(
            record, tmp_path, core=CORE).requirements if r.id == "image")
        assert not image.passed
        assert match in image.evidence and "rebuild: sudo" in image.evidence

    def test_write_is_atomic_and_complete(self, tmp_path, monkeypatch):
        """The writer adds schema, time and provenance, leaves no
        temporary file, and replaces an older record."""
        monkeypatch.setenv("CI", "true")
        monkeypatch.setenv("TROVE_GATE_COMMIT", "abc123")
        monkeypatch.setenv("TROVE_VOTING_SUITES", "goodtest")
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        make_image_record(tmp_path, exit=1, result="fail")
        path = make_image_record(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == ["goodtest.image.json"]
        data = evidence.read_image_record(path)
        assert data["schema"] == 1 and data["result"] == "pass"
        assert data["provenance"]["source"] == "gate"
        assert data["provenance"]["commit"] == "abc123"

    def test_write_refuses_bad_record(self, tmp_path):
        """An incomplete record is not written."""
        with pytest.raises(exceptions.BadRequest, match="'hooks'"):
            evidence.write_image_record(
                {"datastore": "goodtest", "plugin_distribution": "d",
                 "plugin_version": "1", "os": "debian-12",
                 "result": "pass", "bundle": {}}, tmp_path)
        assert not list(tmp_path.iterdir())


class TestImageRecordOfABuild:
    """The record the rootfs builder makes from its log."""

    def _bundle(self, tmp_path):
        bundle = tmp_path / "bundle"
        for hook, body in (("install.d/50-trove-service-user", b"core"),
                           ("install.d/60-goodtest", HOOK.encode()),
                           ("install.d/75-trove-guest-venv", b"venv")):
            (bundle / "hooks" / hook).parent.mkdir(parents=True,
                                                   exist_ok=True)
            (bundle / "hooks" / hook).write_bytes(body)
        manifest = {"datastore": "goodtest", "distribution": "d",
                    "version": "1.0.0", "os": "debian-12", "format": 1,
                    "hooks": ["install.d/60-goodtest"]}
        (bundle / "bundle.json").write_text(json.dumps(manifest))
        return bundle, manifest

    def test_every_hook_with_sha_and_exit(self, tmp_path):
        """Hooks are read from run-hooks.sh's lines, hashed from the
        bundle, and the self-check is the venv hook's status."""
        from trove_core.tools.image import rootfs

        bundle, manifest = self._bundle(tmp_path)
        log = "".join("trove-guest-image: %s\nnoise\n"
                      "trove-guest-image: %s exit 0\n" % (h, h) for h in (
                          "install.d/50-trove-service-user",
                          "install.d/60-goodtest",
                          "install.d/75-trove-guest-venv"))
        data = rootfs.image_record(bundle, manifest, log, 0)
        assert data["result"] == "pass" and data["self_check"] == "pass"
        hooks = {h["hook"]: h for h in data["hooks"]}
        assert hooks["install.d/60-goodtest"]["sha256"] == \
            evidence.sha256_hex(HOOK.encode())
        assert hooks["install.d/60-goodtest"]["origin"] == "plugin"
        assert hooks["install.d/50-trove-service-user"]["origin"] == "core"
        assert evidence.write_image_record(data, tmp_path / "ev").is_file()

    def test_failed_hook(self, tmp_path):
        """The hook that failed carries its status, the result fails."""
        from trove_core.tools.image import rootfs

        bundle, manifest = self._bundle(tmp_path)
        log = ("trove-guest-image: install.d/50-trove-service-user\n"
               "trove-guest-image: install.d/50-trove-service-user exit 0\n"
               "trove-guest-image: install.d/60-goodtest\nE: no package\n"
               "trove-guest-image: install.d/60-goodtest exit 100\n")
        data = rootfs.image_record(bundle, manifest, log, 100)
        assert data["result"] == "fail" and data["self_check"] == "fail"
        assert data["reason"] == "hook install.d/60-goodtest failed"
        assert [h["exit"] for h in data["hooks"]] == [0, 100]

    def test_plugin_hook_not_run(self, tmp_path):
        """A log without the plugin's hook is no passing record."""
        from trove_core.tools.image import rootfs

        bundle, manifest = self._bundle(tmp_path)
        data = rootfs.image_record(bundle, manifest, "", 0)
        assert data["result"] == "fail"
        assert "install.d/60-goodtest did not run" in data["reason"]


class TestImageCommandLine:
    """``trove-guest-image build --rootfs`` passes its evidence dir."""

    @pytest.mark.parametrize("argv, env, expected", [
        pytest.param(["--evidence", "/srv/ev"], "/elsewhere", "/srv/ev",
                     id="option"),
        pytest.param([], "/from/env", "/from/env", id="environment"),
    ])
    def test_evidence_dir(self, monkeypatch, tmp_path, argv, env, expected):
        """--evidence wins, else $TROVE_EVIDENCE_DIR."""
        from trove_core.tools.image import build
        from trove_core.tools.image import cli
        from trove_core.tools.image import rootfs

        monkeypatch.setenv("TROVE_EVIDENCE_DIR", env)
        seen = {}
        monkeypatch.setattr(build, "build", lambda *a, **kw: {})
        monkeypatch.setattr(rootfs, "build_rootfs",
                            lambda *a, **kw: seen.update(kw))
        code = cli.main(["build", "--datastore", "fake", "--output",
                         str(tmp_path / "b"), "--rootfs",
                         str(tmp_path / "r"), "--no-smoke"] + argv)
        assert code == 0
        assert seen["evidence"] == pathlib.Path(expected)
