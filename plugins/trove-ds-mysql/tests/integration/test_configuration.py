"""Configuration overrides and guest logs against a live server."""

import os

import pytest

from trove_core import exceptions
from trove_core.status import ServiceStatus

pytestmark = pytest.mark.mariadb


def _global(manager, name):
    with manager.server.admin() as cur:
        cur.execute("SELECT @@GLOBAL.%s" % name)
        return cur.fetchone()[0]


@pytest.fixture(scope="module")
def server(make_manager):
    """A server of its own: these tests restart it."""
    manager = make_manager("config")
    manager.prepare(memory_mb=None, packages=[], databases=[], users=[],
                    overrides={"max_connections": 123})
    return manager


class TestOverrides:
    """update_overrides and apply_overrides."""

    def test_prepare_overrides(self, server):
        """Overrides given to prepare are in effect."""
        assert _global(server, "max_connections") == 123

    def test_dynamic_applied_live(self, server):
        """A dynamic override is applied without a restart."""
        assert server.apply_overrides({"max_connections": 150,
                                       "long_query_time": "2.5"}) == []
        assert _global(server, "max_connections") == 150
        assert _global(server, "long_query_time") == 2.5
        assert server.refresh_status() is ServiceStatus.HEALTHY

    def test_bad_value_applies_nothing(self, server):
        """A bad value names the parameter and range; nothing changes."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=r"'max_connections'.*\[10, 100000\]"
                           ) as info:
            server.apply_overrides({"wait_timeout": 99,
                                    "max_connections": 1})
        assert info.value.name == "max_connections"
        assert _global(server, "wait_timeout") != 99

    def test_static_needs_restart(self, server):
        """A static override is persisted and asks for a restart."""
        server.update_overrides({"max_connections": 140,
                                 "innodb_log_buffer_size": "32M"})
        assert server.apply_overrides(
            {"innodb_log_buffer_size": "32M"}) == ["innodb_log_buffer_size"]
        assert server.status is ServiceStatus.RESTART_REQUIRED
        assert server.refresh_status() is ServiceStatus.RESTART_REQUIRED
        server.restart()
        assert server.status is ServiceStatus.HEALTHY
        assert _global(server, "innodb_log_buffer_size") == 32 * 1024 ** 2
        assert _global(server, "max_connections") == 140

    def test_remove(self, server):
        """remove=True drops the group's overrides from my.cnf."""
        server.update_overrides({}, remove=True)
        with open(server.server.config_file, encoding="utf-8") as handle:
            text = handle.read()
        assert "innodb_log_buffer_size" not in text


class TestGuestLogs:
    """guest_log_list and guest_log_action."""

    def test_list(self, server):
        """Error, general and slow query logs are listed with types."""
        logs = {log["name"]: log for log in server.guest_log_list()}
        assert set(logs) == {"error", "general", "slow_query"}
        assert logs["error"]["type"] == "SYS"
        assert logs["general"]["status"] == "Disabled"

    def test_enable_publish_discard_disable(self, server):
        """The general log is switched on live, published, discarded."""
        shown = server.guest_log_action("general", True, False, False,
                                        False)
        assert shown["status"] == "Enabled"
        assert _global(server, "general_log") == 1
        with server.server.admin() as cur:
            cur.execute("SELECT 'trove-log-marker'")
        shown = server.guest_log_action("general", False, False, True,
                                        False)
        # the server may log more (a Quit) after the copy: no "Published"
        assert shown["published"] > 0
        storage = server.backup_storage()
        (location,) = server.recall("published_logs")["general"]["objects"]
        assert storage.exists(location)
        server.guest_log_action("general", False, False, False, True)
        assert not storage.exists(location)
        shown = server.guest_log_action("general", False, True, False,
                                        False)
        assert shown["status"] == "Disabled"
        assert _global(server, "general_log") == 0

    def test_enable_survives_restart(self, server):
        """A log switched on stays on after a restart (it is an
        override)."""
        server.guest_log_action("slow_query", True, False, False, False)
        server.restart()
        assert _global(server, "slow_query_log") == 1
        assert os.path.exists(server.server.logs["slow_query"])

    def test_error_log_is_system(self, server):
        """The error log cannot be switched off but can be published."""
        with pytest.raises(exceptions.BadRequest, match="system log"):
            server.guest_log_action("error", False, True, False, False)
        shown = server.guest_log_action("error", False, False, True, False)
        assert shown["published"] > 0

    def test_unknown_log(self, server):
        """An unexposed log is NotFound, naming the exposed ones."""
        with pytest.raises(exceptions.NotFound, match="exposed") as info:
            server.guest_log_action("audit", True, False, False, False)
        assert info.value.name == "audit"
