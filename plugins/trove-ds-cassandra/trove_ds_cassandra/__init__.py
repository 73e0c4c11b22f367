"""Apache Cassandra datastore plugin for trove-core."""
