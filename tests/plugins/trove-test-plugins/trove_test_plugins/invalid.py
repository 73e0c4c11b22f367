"""Registers something that is not a descriptor."""

DESCRIPTOR = {"name": "invalid", "tier": "stable"}
