"""Maturity tiers: order, parsing, classifiers, policy."""

import configparser
import pathlib

import pytest

from trove_core import exceptions
from trove_core import tiers
from trove_core.tiers import Tier

ROOT = pathlib.Path(__file__).resolve().parents[2]


class TestTier:
    def test_order_is_maturity(self):
        """experimental < technical-preview < stable."""
        assert Tier.EXPERIMENTAL < Tier.TECHNICAL_PREVIEW < Tier.STABLE
        assert max(Tier) is Tier.STABLE

    @pytest.mark.parametrize("spelling", [
        pytest.param("technical-preview", id="canonical"),
        pytest.param("technical_preview", id="underscore"),
        pytest.param("tech-preview", id="short"),
        pytest.param(" Technical Preview ", id="spaces-and-case"),
        pytest.param(Tier.TECHNICAL_PREVIEW, id="enum"),
    ])
    def test_forgiving_spellings(self, spelling):
        """Every common spelling of a tier parses to it."""
        assert tiers.parse_tier(spelling) is Tier.TECHNICAL_PREVIEW

    @pytest.mark.parametrize("bad", ["beta", "", None, 3, "stable!"])
    def test_unknown_lists_valid(self, bad):
        """An unknown tier is refused and the error lists the valid ones."""
        with pytest.raises(exceptions.InvalidTier,
                           match="valid tiers are") as info:
            tiers.parse_tier(bad)
        assert info.value.valid == ["experimental", "technical-preview",
                                    "stable"]
        assert isinstance(info.value, ValueError)

    def test_labels_and_classifiers(self):
        """Each tier maps to a PyPI Development Status classifier."""
        assert str(Tier.TECHNICAL_PREVIEW) == "technical-preview"
        assert Tier.STABLE.classifier.endswith("5 - Production/Stable")
        assert Tier.EXPERIMENTAL.classifier.endswith("3 - Alpha")
        assert len({t.classifier for t in Tier}) == 3

    @pytest.mark.parametrize("plugin", ["mysql", "redis", "mongodb",
                                        "cassandra"])
    def test_plugin_classifier_matches_declared_tier(self, plugin):
        """A plugin's setup.cfg classifier agrees with its descriptor."""
        from trove_core import discovery

        record = discovery.find(plugin)
        parser = configparser.ConfigParser()
        parser.read(ROOT / "plugins" / ("trove-ds-" + plugin) / "setup.cfg")
        classifiers = parser["metadata"]["classifier"]
        assert record.descriptor.tier.classifier in classifiers


class TestTierPolicy:
    def test_default_allows_stable_and_preview(self):
        """By default stable and technical-preview run, experimental not."""
        policy = tiers.TierPolicy()
        assert policy.allows("stable")
        assert policy.allows("tech-preview")
        assert not policy.allows("experimental")

    def test_refusal_names_the_option(self):
        """A refusal says which option would allow it."""
        policy = tiers.TierPolicy()
        with pytest.raises(exceptions.TierNotAllowed,
                           match=r"set \[DEFAULT\] allowed_tiers") as info:
            policy.check("redis", "experimental")
        assert info.value.name == "redis"
        assert info.value.tier == "experimental"
        assert info.value.allowed == ["stable", "technical-preview"]

    def test_from_conf(self, conf):
        """The policy is read from the shared allowed_tiers option."""
        from trove_core import options

        conf.register_opts(options.CORE_OPTS)
        conf.set_override("allowed_tiers", ["experimental"])
        policy = tiers.TierPolicy.from_conf(conf)
        assert policy.allows("experimental")
        assert not policy.allows("stable")

    def test_policy_rejects_unknown_tier_names(self):
        """A typo in the policy is an error, not a silent refusal."""
        with pytest.raises(exceptions.InvalidTier):
            tiers.TierPolicy(["stabel"])
