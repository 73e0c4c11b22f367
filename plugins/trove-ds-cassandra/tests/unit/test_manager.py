"""Unit tests of the Cassandra manager without a server."""

import os

import pytest
import yaml

from trove_core import discovery
from trove_core import exceptions
from trove_core import models
from trove_ds_cassandra import manager as manager_mod
from trove_ds_cassandra import plugin


class TestDeclaration:
    """The manager implements what the descriptor declares."""

    def test_capabilities(self):
        """verify_manager accepts the class against its descriptor."""
        declared = discovery.verify_manager(
            "cassandra", manager_mod.Manager, plugin.DESCRIPTOR)
        assert declared == sorted(plugin.DESCRIPTOR.capabilities)
        assert "replication" not in declared

    def test_no_replication(self, cass_manager):
        """Replication operations are refused as unsupported."""
        with pytest.raises(exceptions.OperationNotSupported,
                           match="attach_replica") as info:
            cass_manager.operation("attach_replica")
        assert info.value.datastore == "cassandra"


class TestSettings:
    """The rendered configuration and the child command line."""

    def test_normal(self, cass_manager):
        """Authentication on, guest-owned addresses and directories."""
        data = yaml.safe_load(cass_manager.render_config())
        assert data["authenticator"] == "PasswordAuthenticator"
        assert data["authorizer"] == "CassandraAuthorizer"
        assert data["native_transport_port"] == 19042
        assert data["listen_address"] == "127.0.0.1"
        assert data["data_file_directories"] == [cass_manager.data_dir]
        assert data["endpoint_snitch"] == "SimpleSnitch"
        assert data["cluster_name"] == "trove-cluster"
        assert data["seed_provider"][0]["parameters"] == [
            {"seeds": "127.0.0.1:17000"}]

    def test_restore_mode(self, make_cass_manager):
        """The restore start is local-only and unauthenticated."""
        mgr = make_cass_manager("n", bind_address="10.1.2.3")
        data = yaml.safe_load(mgr.render_config(restore=True))
        assert data["authenticator"] == "AllowAllAuthenticator"
        assert data["rpc_address"] == "127.0.0.1"
        assert data["listen_address"] == "127.0.0.1"
        normal = yaml.safe_load(mgr.render_config())
        assert normal["listen_address"] == "10.1.2.3"
        assert normal["rpc_address"] == "10.1.2.3"

    def test_cluster_config(self, cass_manager):
        """cluster_config sets name, seeds and the topology snitch."""
        cass_manager.set_cluster({"id": "c-42", "seeds": ["10.0.0.1"],
                                  "dc": "dc2", "rack": "r9"})
        cass_manager.update_overrides({"concurrent_writes": 48})
        with open(cass_manager.options.config_file,
                  encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        assert data["cluster_name"] == "c-42"
        assert data["seed_provider"][0]["parameters"] == [
            {"seeds": "10.0.0.1"}]
        assert data["endpoint_snitch"] == "GossipingPropertyFileSnitch"
        assert data["concurrent_writes"] == 48
        with open(cass_manager.rackdc_file, encoding="utf-8") as handle:
            assert handle.read().startswith("dc=dc2\nrack=r9\n")

    @pytest.mark.parametrize("cluster, match", [
        pytest.param({"seeds": "10.0.0.1"}, "list of addresses",
                     id="not-a-list"),
        pytest.param({"seeds": ["10.0.0.1,10.0.0.2"]}, "list of addresses",
                     id="comma"),
        pytest.param({"dc": "dc 1"}, "data center name", id="dc"),
        pytest.param({"endpoint_snitch": "x"}, "unknown cluster_config",
                     id="unknown"),
    ])
    def test_cluster_config_refused(self, cass_manager, cluster, match):
        """Malformed cluster settings are refused."""
        with pytest.raises(exceptions.BadRequest, match=match):
            cass_manager.set_cluster(cluster)
        assert "cluster" not in cass_manager._state

    def test_base_cannot_disable_auth(self, cass_manager):
        """A base configuration cannot switch authentication off."""
        cass_manager.write_config("authenticator: AllowAllAuthenticator\n")
        with open(cass_manager.options.config_file,
                  encoding="utf-8") as handle:
            assert yaml.safe_load(handle)["authenticator"] == \
                "PasswordAuthenticator"

    def test_child_command(self, cass_manager):
        """The node runs in the foreground with our configuration."""
        argv = cass_manager.child_argv()
        assert argv[:2] == ["cassandra", "-f"]
        assert ("-Dcassandra.config=file://%s"
                % cass_manager.options.config_file) in argv
        assert ("-R" in argv) == (os.geteuid() == 0)
        assert "-Dcassandra.jmx.local.port=17199" in argv
        env = cass_manager.child_env()
        assert env["JMX_PORT"] == "17199"
        assert env["CASSANDRA_LOG_DIR"].startswith(cass_manager.state_dir)


class TestValidationFirst:
    """Bad requests are refused before any connection is tried."""

    def test_not_prepared(self, cass_manager):
        """Without an admin password the guest says it is unprepared."""
        with pytest.raises(exceptions.DatastoreError,
                           match="not been prepared") as info:
            cass_manager.list_users()
        assert info.value.operation == "connect"

    @pytest.mark.parametrize("name, error", [
        pytest.param("system_auth", exceptions.BadRequest, id="reserved"),
        pytest.param("a-b", exceptions.InvalidIdentifier, id="bad"),
    ])
    def test_keyspace_names(self, cass_manager, name, error):
        """Reserved and malformed keyspaces are refused."""
        with pytest.raises(error):
            cass_manager.create_database([models.Database(name)])

    @pytest.mark.parametrize("name", ["os_admin", "cassandra"])
    def test_reserved_users(self, cass_manager, name):
        """The admin and root roles are not users."""
        with pytest.raises(exceptions.BadRequest, match="reserved"):
            cass_manager.delete_user(models.User(name=name))

    def test_bad_replication_option(self, make_cass_manager):
        """A malformed keyspace_replication option is refused."""
        mgr = make_cass_manager("n", keyspace_replication={
            "class": "SimpleStrategy", "replication_factor": "x"})
        with pytest.raises(exceptions.BadRequest,
                           match="non-negative integer"):
            mgr.create_database([models.Database("shop")])

    def test_apply_unknown(self, cass_manager):
        """Unknown overrides never reach nodetool."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="authorizer"):
            cass_manager.apply_overrides({"authorizer": "x"})


class TestClusterOptions:
    """The driver talks to the local node only."""

    def test_one_node(self):
        """A whitelist policy pins the driver to the given host."""
        from cassandra.cluster import Cluster

        kwargs = manager_mod.cluster_options("127.0.0.1", 19042, "u", "p")
        assert kwargs["contact_points"] == ["127.0.0.1"]
        assert kwargs["auth_provider"].username == "u"
        cluster = Cluster(**kwargs)
        try:
            policy = cluster.profile_manager.default.load_balancing_policy
            assert type(policy).__name__ == "WhiteListRoundRobinPolicy"
        finally:
            cluster.shutdown()

    def test_without_authentication(self):
        """The restore phase connects without credentials."""
        assert "auth_provider" not in manager_mod.cluster_options(
            "127.0.0.1", 19042)


class TestStartFailure:
    """A Cassandra node that dies at start-up (no server needed)."""

    def test_fails_at_once_quoting_its_output(self, make_cass_manager,
                                              tmp_path):
        """do_start fails without waiting start_timeout, naming the
        port and quoting what the launcher printed."""
        from trove_guest_base.testing import helpers

        binary = helpers.failing_server(
            tmp_path / "cassandra", "Error: Port already in use: 17199; "
            "nested exception is: java.net.BindException")
        mgr = make_cass_manager("dies", server_binary=binary,
                                start_timeout=600)
        with pytest.raises(exceptions.DatastoreError,
                           match=r"cassandra \(native transport on port "
                           r"19042\) exited before it was ready") as info:
            mgr.do_start()
        assert "Port already in use: 17199" in str(info.value)
        assert not mgr.runner.is_running()
