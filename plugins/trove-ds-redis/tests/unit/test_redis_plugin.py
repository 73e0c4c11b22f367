"""Unit tests of the Redis descriptor, manager declaration and strategies."""

from importlib.metadata import entry_points

from trove_core import discovery
from trove_ds_redis import manager
from trove_ds_redis import plugin


class TestDeclaration:
    """What the plugin declares matches what it implements."""

    def test_descriptor_matches_manager(self):
        """verify_manager accepts the manager against the descriptor."""
        declared = discovery.verify_manager("redis", manager.Manager,
                                            plugin.DESCRIPTOR)
        assert declared == sorted(plugin.DESCRIPTOR.capabilities)
        assert "databases" not in declared

    def test_tier_is_the_evidenced_one(self):
        """Declared stable, with its strategies, on live evidence.

        The seed gave Redis *experimental*; the live conformance run in CI
        (every declared capability, both strategies) supports stable, and
        the seed classifies by adherence to the requirements alone.
        """
        assert plugin.DESCRIPTOR.tier.label == "stable"
        assert {s.name: s.tier.label for s in plugin.DESCRIPTOR.strategies
                } == {"redis-rdb": "stable", "redis-sync": "stable",
                      "redis-cluster": "technical-preview"}

    def test_strategies_are_registered_entry_points(self):
        """Each descriptor strategy resolves through its entry-point
        group."""
        groups = {"backup": "trove.guestagent.backup_strategies",
                  "replication": "trove.guestagent.replication_strategies"}
        for strategy in plugin.DESCRIPTOR.strategies:
            if strategy.kind == "cluster":  # a topology: no entry point
                continue
            eps = entry_points(group=groups[strategy.kind],
                               name=strategy.name)
            (ep,) = eps
            assert ep.load().name == strategy.name


class TestOptions:
    """Options and runner selection, without a server."""

    def _conf(self, **overrides):
        from oslo_config import cfg

        from trove_core import options

        conf = cfg.ConfigOpts()
        # register_side gives each ConfigOpts its own OptGroup
        options.register_side(conf, "redis", "guest")
        conf([], project="trove-test", default_config_files=[])
        for key, value in overrides.items():
            conf.set_override(key, value, group="redis")
        return conf

    def test_two_configs_do_not_share_overrides(self):
        """Each ConfigOpts gets its own option group."""
        first, second = self._conf(port=7001), self._conf(port=7002)
        assert (first.redis.port, second.redis.port) == (7001, 7002)

    def test_systemd_runner_drives_the_unit(self, tmp_path):
        """runner=systemd selects SystemdRunner on systemd_unit and makes
        files owned by the redis user."""
        from trove_guest_base import process

        mgr = manager.Manager("redis", self._conf(
            runner="systemd", systemd_unit="redis-x.service"), tmp_path)
        assert isinstance(mgr.runner, process.SystemdRunner)
        assert mgr.runner.unit == "redis-x.service"
        assert mgr.service_owner == "redis"

    def test_child_runner_runs_the_rendered_config(self, tmp_path):
        """runner=child starts redis-server on config_file; as the guest's
        own user when service_user is that user (a developer's run)."""
        import getpass

        mgr = manager.Manager("redis", self._conf(
            config_file=str(tmp_path / "r.conf"),
            service_user=getpass.getuser()), tmp_path)
        assert mgr.runner.argv == ["redis-server", str(tmp_path / "r.conf")]
        assert mgr.service_owner is None
        assert mgr.runner.user is None

    def test_child_runner_drops_to_service_user(self, tmp_path,
                                                 monkeypatch):
        """A guest running as root starts the child server as
        service_user ('redis' by default) and hands it the data
        directory."""
        import os

        from trove_guest_base import process

        conf = self._conf(mount_point=str(tmp_path / "data"))
        assert conf.redis.service_user == "redis"
        monkeypatch.setattr(os, "geteuid", lambda: 0)
        monkeypatch.setattr(process, "_account", lambda name: name)
        mgr = manager.Manager("redis", conf, tmp_path)
        assert mgr.service_owner == "redis"
        assert mgr.runner.user == "redis"
        assert mgr.runner.dirs == (str(tmp_path / "data"),)
