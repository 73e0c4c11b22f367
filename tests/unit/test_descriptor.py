"""Descriptor validation and the plugin-API window."""

import pytest

from trove_core import descriptor as d
from trove_core import exceptions
from trove_core.tiers import Tier


def make(**kwargs):
    args = dict(name="demo", tier="stable", capabilities={"lifecycle"})
    args.update(kwargs)
    return d.DatastoreDescriptor(**args)


class TestDescriptor:
    def test_normalizes_tier_and_capabilities(self):
        """Tier names are parsed and capabilities frozen."""
        desc = make(tier="tech_preview", capabilities=["lifecycle", "users"])
        assert desc.tier is Tier.TECHNICAL_PREVIEW
        assert desc.capabilities == frozenset({"lifecycle", "users"})
        assert desc.guest_namespace == "trove.datastore.demo.guest"
        assert desc.server_namespace == "trove.datastore.demo.server"

    @pytest.mark.parametrize("kwargs, match", [
        pytest.param(dict(name="My SQL"), "name must match", id="name"),
        pytest.param(dict(name="x; rm -rf /"), "name must match",
                     id="hostile-name"),
        pytest.param(dict(tier="gold"), "unknown maturity tier", id="tier"),
        pytest.param(dict(capabilities={"lifecycle", "fly"}),
                     "unknown capabilities", id="capability"),
        pytest.param(dict(capabilities={"users"}), "must declare "
                     "'lifecycle'", id="no-lifecycle"),
        pytest.param(dict(strategies=(d.Strategy("x", "sync", "stable"),)),
                     "has kind 'sync'", id="strategy-kind"),
        pytest.param(dict(strategies=(d.Strategy("x", "backup", "meh"),)),
                     "strategy 'x'", id="strategy-tier"),
        pytest.param(dict(strategies=(d.Strategy("x", "backup", "stable"),
                                      d.Strategy("x", "backup", "stable"))),
                     "repeat", id="strategy-dup"),
        pytest.param(dict(image=d.ImageSpec(supported_os=(
            d.OSSupport("Debian twelve"),))), "supported OS",
            id="os-id"),
        pytest.param(dict(plugin_api="one"), "plugin_api must look like",
                     id="api-format"),
    ])
    def test_invalid(self, kwargs, match):
        """Each malformed field is refused with a reason naming it."""
        with pytest.raises(exceptions.InvalidDescriptor,
                           match=match) as info:
            make(**kwargs)
        assert info.value.reason

    def test_strategy_lookup_and_group(self):
        """Strategies carry their own tier and entry-point group."""
        desc = make(strategies=(d.Strategy("dump", "backup", "tech_preview"),))
        assert desc.strategy("dump").tier is Tier.TECHNICAL_PREVIEW
        assert desc.strategy("dump").group == (
            "trove.guestagent.backup_strategies")
        assert desc.strategy("nope") is None


class TestApiWindow:
    @pytest.mark.parametrize("api", ["1.0"])
    def test_compatible(self, api):
        """A plugin for the core's API version loads."""
        d.check_api_compatible("x", api, provided=(1, 2))

    def test_older_minor_is_compatible(self):
        """A plugin for 1.0 runs on a core providing 1.3."""
        d.check_api_compatible("x", "1.0", provided=(1, 3))

    def test_newer_minor_needs_newer_core(self):
        """A plugin for 1.4 on a 1.3 core asks for a core upgrade."""
        with pytest.raises(exceptions.IncompatiblePlugin,
                           match="upgrade trove-core") as info:
            d.check_api_compatible("x", "1.4", provided=(1, 3))
        assert info.value.name == "x"

    def test_older_major_needs_newer_plugin(self):
        """A plugin for API 0.x asks for a newer plugin release."""
        with pytest.raises(exceptions.IncompatiblePlugin,
                           match="install a release of the plugin"):
            d.check_api_compatible("x", "0.9", provided=(1, 0))
