"""The descriptor, the manager's declarations and the entry points."""

import importlib.metadata

from trove_core import discovery
from trove_ds_mysql import plugin


class TestDescriptor:
    """What the plugin declares."""

    def test_capabilities_match_manager(self):
        """The descriptor declares exactly what the manager implements."""
        from trove_ds_mysql.manager import Manager

        declared = discovery.verify_manager("mysql", Manager,
                                            plugin.DESCRIPTOR)
        assert set(declared) == set(plugin.DESCRIPTOR.capabilities)
        assert "replication" in declared

    def test_strategies_are_registered(self):
        """Every declared backup and replication strategy has an entry
        point that loads (a cluster topology is the manager's family
        capability, with no entry point)."""
        for strategy in plugin.DESCRIPTOR.strategies:
            if strategy.kind == "cluster":
                assert "cluster_galera" in plugin.DESCRIPTOR.capabilities
                continue
            eps = importlib.metadata.entry_points(group=strategy.group,
                                                  name=strategy.name)
            assert [ep.load() for ep in eps], strategy.name

    def test_schema_ships_with_package(self):
        """The parameter schema is package data."""
        from trove_ds_mysql import configuration

        assert "max_connections" in configuration.load_schema()


class TestFacade:
    """The package facade."""

    def test_lazy_exports(self):
        """Every name of __all__ resolves."""
        import trove_ds_mysql

        for name in trove_ds_mysql.__all__:
            assert getattr(trove_ds_mysql, name) is not None

    def test_listing_imports_nothing_heavy(self):
        """Loading the descriptor imports neither PyMySQL nor the
        manager."""
        import subprocess
        import sys

        code = ("import sys, trove_ds_mysql.plugin; "
                "print(sorted(m for m in sys.modules if m in "
                "('pymysql', 'trove_ds_mysql.manager')))")
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout
        assert out.strip() == "[]"
