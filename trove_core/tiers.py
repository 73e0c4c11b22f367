"""Maturity tiers and the policy that decides which tiers may run.

Tiers are ordered and inclusive: a ``stable`` plugin meets every
``technical-preview`` requirement, which meets every ``experimental`` one.
"""

import enum

from trove_core import exceptions

__all__ = ["DEFAULT_ALLOWED_TIERS", "Tier", "TierPolicy", "parse_tier"]


class Tier(enum.IntEnum):
    """A maturity tier; comparisons follow the maturity order."""

    EXPERIMENTAL = 1
    TECHNICAL_PREVIEW = 2
    STABLE = 3

    @property
    def label(self):
        """The canonical spelling, e.g. ``technical-preview``."""
        return _LABELS[self]

    @property
    def classifier(self):
        """The PyPI ``Development Status`` classifier for this tier."""
        return _CLASSIFIERS[self]

    def __str__(self):
        return self.label


#: computed once: listing 500 plugins asks for labels thousands of times
_LABELS = {tier: tier.name.lower().replace("_", "-") for tier in Tier}

_CLASSIFIERS = {
    Tier.EXPERIMENTAL: "Development Status :: 3 - Alpha",
    Tier.TECHNICAL_PREVIEW: "Development Status :: 4 - Beta",
    Tier.STABLE: "Development Status :: 5 - Production/Stable",
}

_ALIASES = {
    "experimental": Tier.EXPERIMENTAL,
    "technical-preview": Tier.TECHNICAL_PREVIEW,
    "tech-preview": Tier.TECHNICAL_PREVIEW,
    "preview": Tier.TECHNICAL_PREVIEW,
    "stable": Tier.STABLE,
}

DEFAULT_ALLOWED_TIERS = ("stable", "technical-preview")


def parse_tier(value):
    """Return the :class:`Tier` named by ``value``, spelled forgivingly.

    Case, underscores and spaces are ignored: ``Technical_Preview``,
    ``technical-preview`` and ``tech-preview`` all name the same tier.

    :param value: a tier name or a :class:`Tier`.
    :returns: the :class:`Tier`.
    :raises InvalidTier: the name is not a known tier; the message lists
        the valid ones.
    """
    if type(value) is str and value in _ALIASES:  # the usual spelling
        return _ALIASES[value]
    if isinstance(value, Tier):
        return value
    if isinstance(value, str):
        key = value.strip().lower().replace("_", "-").replace(" ", "-")
        if key in _ALIASES:
            return _ALIASES[key]
    raise exceptions.InvalidTier(
        value=value, valid=[t.label for t in Tier])


class TierPolicy:
    """Which tiers may run: one definition for guests and control plane.

    :param allowed: tier names (any spelling :func:`parse_tier` accepts).
    :param option: the option an operator sets to change the policy,
        named in refusals.
    """

    def __init__(self, allowed=DEFAULT_ALLOWED_TIERS,
                 option="[DEFAULT] allowed_tiers"):
        self.allowed = frozenset(parse_tier(t) for t in allowed)
        self.option = option

    @classmethod
    def from_conf(cls, conf):
        """Build the policy from ``conf.allowed_tiers``."""
        return cls(conf.allowed_tiers)

    def allows(self, tier):
        """Whether ``tier`` may run under this policy."""
        return parse_tier(tier) in self.allowed

    def check(self, name, tier, kind="datastore"):
        """Refuse ``name`` unless its tier is allowed.

        :raises TierNotAllowed: naming the option that would allow it.
        """
        tier = parse_tier(tier)
        if tier not in self.allowed:
            allowed = [t.label for t in sorted(self.allowed, reverse=True)]
            raise exceptions.TierNotAllowed(
                "%s %r is %s; allowed tiers are %s (set %s to run it)"
                % (kind, name, tier.label, allowed, self.option),
                kind=kind, name=name, tier=tier.label, allowed=allowed)
