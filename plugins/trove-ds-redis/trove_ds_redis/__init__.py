"""Redis datastore plugin for trove-core."""
