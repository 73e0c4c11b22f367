"""End to end: the conformance kit writes evidence, ``check`` reads it."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from trove_core.tools import evidence as evidence_mod
from trove_core.tools.image import target as image_target

REPO = pathlib.Path(__file__).resolve().parents[2]
FAKE_SUITE = REPO / "tests" / "conformance" / "test_fake_conformance.py"


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    """Run the kit on the fake datastore; return the evidence dir."""
    if not FAKE_SUITE.exists():
        pytest.skip("the fake conformance suite %s is absent" % FAKE_SUITE)
    where = tmp_path_factory.mktemp("evidence")
    env = dict(os.environ, TROVE_EVIDENCE_DIR=str(where))
    # a neutral cwd (-m puts it on sys.path): metadata is read from the
    # installed distribution, as the operator's trove-datastores reads it
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p",
         "no:cacheprovider", "--rootdir", str(REPO), str(FAKE_SUITE)],
        cwd=where, env=env, capture_output=True, text=True, timeout=600,
        check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (where / "fake.json").exists()
    return where


def with_image_record(evidence, where):
    """A copy of ``evidence`` plus the record of an image build that ran
    the fake plugin's current hooks (the real build is
    tests/integration/test_image_rootfs.py's)."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "fake.json").write_text((evidence / "fake.json").read_text())
    found = image_target.resolve("fake", "debian-12")
    hooks = [{"hook": "%s/%s" % (phase, name),
              "sha256": evidence_mod.sha256_hex(body), "exit": 0}
             for phase in image_target.PHASES
             for name, body in found.elements.hooks.get(phase, ())]
    evidence_mod.write_image_record({
        "datastore": "fake", "os": "debian-12", "result": "pass",
        "plugin_distribution": found.record.distribution,
        "plugin_version": found.record.version, "hooks": hooks,
        "bundle": {"sha256": "0" * 64}}, where)
    return where


def check(*argv):
    """Run ``trove-datastores check`` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-m", "trove_core.tools.cli", "check", *argv,
         "-f", "json"], capture_output=True, text=True, timeout=120,
        check=False, cwd="/")
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.slow
class TestCheckReadsKitEvidence:
    """The kit's report is the evidence ``check`` evaluates."""

    def test_without_image_record_experimental(self, evidence):
        """Without an image build of its hooks the fake is experimental,
        and the advice gives the command that builds one."""
        code, data = check("fake", "--evidence", str(evidence))
        result = data[0]
        reqs = {r["requirement"]: r for r in result["requirements"]}
        assert reqs["image"]["result"] == "fail"
        assert "no image record" in reqs["image"]["evidence"]
        assert result["verified_tier"] == "experimental"
        assert ("trove-guest-image build --datastore fake --os debian-12"
                in result["advice"])
        assert "--evidence %s" % evidence in result["advice"]
        assert code == 0

    def test_fake_verified_from_its_report(self, evidence, tmp_path):
        """The fake passes every capability, not live, and an image build
        ran its hooks: technical preview."""
        evidence = with_image_record(evidence, tmp_path / "ev")
        code, data = check("fake", "--evidence", str(evidence))
        result = data[0]
        reqs = {r["requirement"]: r["result"] for r in result["requirements"]}
        assert reqs.pop("live") == "fail"
        # passes only when the project's CI runs this test (CI=true)
        reqs.pop("gate")
        assert set(reqs.values()) == {"pass"}, result
        assert result["verified_tier"] == "technical-preview"
        assert result["declared_tier"] == "experimental"
        assert result["provenance"]["source"] in ("local", "gate")
        assert "may raise the descriptor's tier to 'technical-preview'" \
            in result["advice"]
        assert code == 0

    def test_table_names_the_requirement_tier_and_advises(self, evidence,
                                                          tmp_path):
        """The table's requirement column cannot be read as the plugin's
        tier, and the advice follows the table."""
        evidence = with_image_record(evidence, tmp_path / "ev")
        proc = subprocess.run(
            [sys.executable, "-m", "trove_core.tools.cli", "check", "fake",
             "--evidence", str(evidence)], capture_output=True, text=True,
            timeout=120, check=False, cwd="/")
        assert proc.returncode == 0, proc.stderr
        assert "| required for" in proc.stdout
        assert "experimental and up" in proc.stdout
        assert proc.stdout.rstrip().splitlines()[-1].startswith(
            "fake: the evidence supports technical-preview")

    def test_edited_version_is_stale(self, evidence, tmp_path):
        """The same report claiming another plugin version is stale."""
        data = json.loads((evidence / "fake.json").read_text())
        data["plugin_version"] = "0.0.1"
        (tmp_path / "fake.json").write_text(json.dumps(data))
        code, result = check("fake", "--evidence", str(tmp_path))
        assert code == 1
        assert "0.0.1" in result[0]["stale"]
        assert result[0]["verified_tier"] == "unverified"
