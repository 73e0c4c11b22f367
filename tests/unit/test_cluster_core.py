"""The cluster capability's common protocol, on the fake datastore."""

import pytest
from zope.interface import implementer

from trove_core import capabilities as caps
from trove_core import descriptor
from trove_core import exceptions
from trove_core import manager as manager_mod
from trove_core import tiers
from trove_core.status import ServiceStatus
from trove_guest_base.testing import helpers
from trove_guest_base.testing import manager as fake
from trove_guest_base import endpoint


@implementer(caps.IGaleraCluster)
class GaleraFake(fake.FakeManager):
    """The fake datastore with a pretend Galera family."""

    fail_next = None

    def reset_admin_password(self, admin_password):
        self.store_secret("cluster-admin", admin_password)

    def install_cluster(self, replication_user, cluster_configuration,
                        bootstrap=False):
        if self.fail_next:
            raise exceptions.BadRequest(reason=self.fail_next)
        self.update_cluster_member(role="bootstrap" if bootstrap
                                   else "joiner")

    def get_cluster_context(self):
        return {"cluster_name": self.cluster_member["id"]}

    def write_cluster_configuration_overrides(self, cluster_configuration):
        """Nothing to write in the fake."""


CONFIG = {"id": "c-1", "instance_type": "member"}


def _prepare(mgr, cluster_config=None):
    mgr.prepare(memory_mb=128, packages=[], databases=[], users=[],
                cluster_config=cluster_config)


@pytest.fixture
def member(tmp_path):
    mgr = helpers.make_fake_manager(tmp_path, manager_cls=GaleraFake)
    _prepare(mgr, dict(CONFIG))
    yield mgr
    mgr.do_stop()


def _reload(mgr):
    return type(mgr)(mgr.name, mgr.conf, mgr.state_dir)


class TestInterfaces:
    """Family interfaces extend ICluster and carry Trove's wire tags."""

    def test_family_declares_cluster(self):
        assert GaleraFake.capabilities() == sorted(
            set(fake.FakeManager.capabilities())
            | {"cluster", "cluster_galera"})

    @pytest.mark.parametrize("name, kind", [
        ("install_cluster", "call"), ("node_cleanup", "cast"),
        ("node_decommission", "cast"), ("add_members", "call"),
        ("cluster_secure", "call"), ("cluster_complete", "call")])
    def test_kinds(self, name, kind):
        assert caps.OPERATIONS[name].kind == kind
        assert caps.is_cluster_operation(name)

    def test_not_cluster_operation(self):
        assert not caps.is_cluster_operation("create_user")
        assert not caps.is_cluster_operation("nope")

    def test_families(self):
        assert caps.cluster_families(["cluster", "cluster_galera",
                                      "users"]) == ["galera"]

    @pytest.mark.parametrize("name, kwargs", [
        ("install_cluster", {"replication_user": {"name": "r"},
                             "cluster_configuration": "[galera]\n",
                             "bootstrap": True}),
        ("set_seeds", {"seeds": ["10.0.0.1"]}),
        ("store_admin_credentials", {"admin_credentials": {"a": 1}}),
        ("add_shard", {"replica_set_name": "rs1",
                       "replica_set_member": "10.0.0.2:27017"}),
    ])
    def test_trove_arguments_accepted(self, name, kwargs):
        assert endpoint.convert_arguments(name, kwargs) == kwargs

    @pytest.mark.parametrize("name, kwargs, match", [
        ("install_cluster", {"replication_user": "r",
                             "cluster_configuration": "x",
                             "bootstrap": True}, "replication_user"),
        ("install_cluster", {"replication_user": {},
                             "cluster_configuration": None,
                             "bootstrap": True}, "cluster_configuration"),
        ("install_cluster", {"replication_user": {},
                             "cluster_configuration": "x",
                             "bootstrap": "yes"}, "bootstrap"),
        ("set_seeds", {"seeds": "10.0.0.1"}, "seeds"),
    ])
    def test_bad_arguments_refused(self, name, kwargs, match):
        with pytest.raises(exceptions.BadRequest, match=match):
            endpoint.convert_arguments(name, kwargs)


class TestProtocol:
    """instance ready until cluster_complete; identity persisted."""

    def test_member_reports_instance_ready(self, member):
        assert member.status is ServiceStatus.INSTANCE_READY
        assert member.reporter.statuses[-1] is \
            ServiceStatus.INSTANCE_READY
        assert ServiceStatus.INSTANCE_READY.value == "instance ready"
        assert member.cluster_member == {
            "id": "c-1", "instance_type": "member", "role": "member",
            "complete": False, "failed": None}

    def test_complete_then_running(self, member):
        member.operation("cluster_complete")()
        assert member.status is ServiceStatus.HEALTHY
        again = _reload(member)
        assert again.refresh_status() is ServiceStatus.HEALTHY
        assert again.cluster_member["complete"] is True

    def test_role_survives_restart(self, member):
        member.operation("install_cluster")({}, "[galera]\n", True)
        again = _reload(member)
        assert again.cluster_member["role"] == "bootstrap"
        assert again.cluster_member["id"] == "c-1"
        assert again.refresh_status() is ServiceStatus.INSTANCE_READY

    def test_single_instance_refuses_cluster_calls(self, tmp_path):
        mgr = helpers.make_fake_manager(tmp_path, manager_cls=GaleraFake)
        _prepare(mgr)
        try:
            assert mgr.status is ServiceStatus.HEALTHY
            for name in ("cluster_complete", "install_cluster",
                         "get_cluster_context", "reset_admin_password"):
                with pytest.raises(exceptions.NotClusterMember,
                                   match="not a cluster member") as info:
                    mgr.operation(name)
                assert repr(name) in str(info.value)
            with pytest.raises(exceptions.NotClusterMember):
                mgr.cluster_complete()
            assert mgr.status is ServiceStatus.HEALTHY
        finally:
            mgr.do_stop()

    def test_undeclared_cluster_prepare_fails(self, tmp_path):
        mgr = helpers.make_fake_manager(tmp_path)
        with pytest.raises(exceptions.BadRequest, match="single instance"):
            _prepare(mgr, dict(CONFIG))
        assert mgr.status is ServiceStatus.FAILED
        assert not mgr.prepared

    @pytest.mark.parametrize("config, match", [
        ({"instance_type": "member"}, "'id'"),
        ({"id": "c", "instance_type": "leader"}, "instance_type"),
        ("c-1", "mapping"),
        ({"id": "c\x00", "instance_type": "member"}, "cluster id"),
    ])
    def test_malformed_cluster_config(self, tmp_path, config, match):
        mgr = helpers.make_fake_manager(tmp_path, manager_cls=GaleraFake)
        with pytest.raises(exceptions.BadRequest, match=match):
            _prepare(mgr, config)
        assert mgr.status is ServiceStatus.FAILED
        assert not mgr.probe_status().is_running

    def test_failure_marks_failed_then_retry_recovers(self, member):
        member.fail_next = "the fragment is malformed"
        with pytest.raises(exceptions.BadRequest, match="malformed"):
            member.operation("install_cluster")({}, "x", True)
        assert member.status is ServiceStatus.FAILED
        assert "malformed" in member.cluster_member["failed"]
        again = _reload(member)
        assert again.refresh_status() is ServiceStatus.FAILED
        again.fail_next = None
        again.operation("install_cluster")({}, "x", True)
        assert again.status is ServiceStatus.INSTANCE_READY
        assert again.cluster_member["failed"] is None

    def test_mongodb_fields_kept_key_not(self):
        record = manager_mod.check_cluster_config(
            {"id": "c", "instance_type": "config_server", "shard_id": "s1",
             "replica_set_name": "rs1", "key": "SECRET"})
        assert "key" not in record
        assert record["replica_set_name"] == "rs1"
        assert record["role"] == "config_server"


class TestDescriptor:
    """Cluster topologies are strategies of kind cluster, with a tier."""

    def _desc(self, caps_, strategies):
        return descriptor.DatastoreDescriptor(
            name="x", tier="experimental", capabilities=frozenset(caps_),
            strategies=tuple(strategies))

    def test_topology(self):
        desc = self._desc(
            {"lifecycle", "cluster", "cluster_galera"},
            [descriptor.Strategy("galera", "cluster",
                                 tiers.Tier.EXPERIMENTAL, "g")])
        assert [t.name for t in desc.topologies] == ["galera"]
        assert desc.cluster_families == ("galera",)
        again = descriptor.DatastoreDescriptor.from_dict(desc.to_dict())
        assert again == desc

    def test_family_without_cluster_refused(self):
        with pytest.raises(exceptions.InvalidDescriptor, match="'cluster'"):
            self._desc({"lifecycle", "cluster_galera"}, [])

    def test_topology_without_family_refused(self):
        with pytest.raises(exceptions.InvalidDescriptor,
                           match="family capability"):
            self._desc({"lifecycle", "cluster"}, [descriptor.Strategy(
                "galera", "cluster", "experimental")])


class TestEndpoint:
    """The guest runtime routes cluster calls through the membership
    check, before converting or running anything."""

    def test_runtime_refuses_non_member(self, tmp_path):
        mgr = helpers.make_fake_manager(tmp_path, manager_cls=GaleraFake)
        _prepare(mgr)
        runtime = endpoint.GuestRuntime(mgr, record=None, guest_id="g-1")
        try:
            with pytest.raises(exceptions.NotClusterMember):
                runtime.handle("install_cluster", {
                    "replication_user": {"name": "r", "password": "p"},
                    "cluster_configuration": "[galera]\n",
                    "bootstrap": True})
            assert runtime.health()["cluster"] is None
        finally:
            runtime.gate.close(5)
            mgr.do_stop()

    def test_runtime_member_health(self, member):
        runtime = endpoint.GuestRuntime(member, record=None, guest_id="g-2")
        try:
            runtime.handle("install_cluster", {
                "replication_user": {"name": "r", "password": "p"},
                "cluster_configuration": "[galera]\n", "bootstrap": True})
            health = runtime.health()
            assert health["status"] == "instance ready"
            assert health["cluster"]["role"] == "bootstrap"
            runtime.handle("cluster_complete", {})
            assert runtime.health()["status"] == "healthy"
        finally:
            runtime.gate.close(5)
