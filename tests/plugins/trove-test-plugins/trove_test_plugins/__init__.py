"""Test plugins: one good, the others broken in one way each."""
