"""MongoDB datastore plugin for trove-core."""
