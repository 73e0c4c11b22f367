"""The guest self-check, against real (test) plugins."""

import json
import subprocess
import sys

import pytest

from trove_core import discovery
from trove_guest_base import selfcheck


@pytest.fixture(scope="module")
def records():
    return discovery.discover()


def only(records, *names):
    return [r for r in records if r.name in names]


class TestCheck:
    """selfcheck.check over chosen discovery records."""

    def test_single_working_plugin_passes(self, records):
        """One healthy plugin with its manager verified passes."""
        report = selfcheck.check("goodtest", only(records, "goodtest"))
        assert report["ok"], report["problems"]
        assert report["capabilities"] == ["databases", "lifecycle"]
        assert report["distribution"] == "trove-test-plugins"
        json.dumps(report)

    def test_datastore_defaults_to_the_single_plugin(self, records):
        """Without --datastore the one installed plugin is checked."""
        report = selfcheck.check(None, only(records, "redis"))
        assert report["ok"], report["problems"]
        assert report["datastore"] == "redis"
        assert list(report["drivers"]) == ["redis"]

    def test_two_plugins_fail(self, records):
        """A guest carrying two datastore plugins fails, naming them."""
        report = selfcheck.check("redis", only(records, "redis", "mysql"))
        assert not report["ok"]
        assert "exactly one datastore plugin; found 2 (mysql, redis)" in \
            report["problems"][0]

    def test_wrong_plugin_fails(self, records):
        """A guest of another datastore fails with the install command."""
        report = selfcheck.check("redis", only(records, "goodtest"))
        assert not report["ok"]
        assert report["problems"] == [
            "the datastore plugin 'redis' is not installed; install it "
            "with pip install 'trove-ds-redis[guest]'"]

    def test_missing_driver_fails(self, records):
        """A plugin whose driver is absent fails with the fix."""
        report = selfcheck.check("nodriver", only(records, "nodriver"))
        assert not report["ok"]
        assert "pip install" in report["problems"][0]

    def test_broken_plugin_fails(self, records):
        """A plugin that does not import is reported with its reason."""
        report = selfcheck.check("broken", only(records, "broken"))
        assert not report["ok"]
        assert "trove_test_dependency_that_is_not_installed" in \
            report["problems"][0]


class TestMain:
    """python -m trove_guest_base.selfcheck."""

    def test_development_env_is_not_a_guest(self):
        """This environment carries every plugin: exit 1 and a JSON report."""
        proc = subprocess.run(
            [sys.executable, "-m", "trove_guest_base.selfcheck",
             "--datastore", "redis"], capture_output=True, text=True,
            check=False)
        assert proc.returncode == 1
        report = json.loads(proc.stdout)
        assert report["ok"] is False
        assert "exactly one datastore plugin" in report["problems"][0]
