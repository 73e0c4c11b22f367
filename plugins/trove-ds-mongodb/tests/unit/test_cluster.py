"""The sharded-cluster calls of Trove's mongodb strategy: the same wire
as Trove 26's guest client, the commands sent, and refusals."""

import pytest
import yaml

from trove_core import exceptions
from trove_ds_mongodb import cluster
from trove_guest_base import endpoint

KEY = "Trove-generated key with spaces & symbols!"


class FakeClient:
    """Records admin commands; answers from ``replies``."""

    def __init__(self, log, kwargs, replies):
        self.log, self.kwargs, self.replies = log, kwargs, replies
        self.admin = self

    def command(self, document, **_kwargs):
        name = next(iter(document))
        self.log.append((self.kwargs.get("host"), self.kwargs.get(
            "username"), document))
        reply = self.replies.get(name, {"ok": 1})
        if isinstance(reply, Exception):
            raise reply
        return reply(document) if callable(reply) else reply

    def close(self):
        """Nothing to close."""


@pytest.fixture
def commands(mongo_manager):
    log, replies = [], {}
    mongo_manager.client_factory = lambda **kw: FakeClient(log, kw,
                                                           replies)
    mongo_manager.store_secret("admin_password", "admin-pw")
    return log, replies


def _member(manager, role, **extra):
    config = dict({"id": "c-1", "instance_type": role, "key": KEY}, **extra)
    from trove_core import manager as core_manager

    manager._save_state(prepared=True, cluster_member=(
        core_manager.check_cluster_config(config)))
    manager.prepare_cluster(config)
    return manager


def _conf(manager):
    return yaml.safe_load(manager.render_config())


@pytest.mark.parametrize("name, kwargs", [
    ("add_shard", {"replica_set_name": "rs1",
                   "replica_set_member": "10.0.0.5"}),
    ("add_members", {"members": ["10.0.0.6", "10.0.0.7"]}),
    ("add_config_servers", {"config_servers": ["10.0.0.9"]}),
    ("get_key", {}), ("prep_primary", {}),
    ("create_admin_user", {"password": "pw"}),
    ("store_admin_password", {"password": "pw"}),
    ("get_replica_set_name", {}), ("get_admin_password", {}),
    ("is_shard_active", {"replica_set_name": "rs1"}),
    ("cluster_complete", {}),
])
def test_trove_wire_accepted(name, kwargs):
    """Each call of Trove 26's mongodb guest client passes the
    endpoint's checks with its keyword arguments."""
    assert endpoint.convert_arguments(name, kwargs) == kwargs


def test_key_file_is_a_digest():
    text = cluster.key_file_text(KEY)
    assert text == cluster.key_file_text(KEY) and len(text) == 88
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                            "qrstuvwxyz0123456789+/=")
    with pytest.raises(exceptions.BadRequest, match="cluster_secure"):
        cluster.key_file_text(None)


def test_shard_member_settings(mongo_manager):
    _member(mongo_manager, "member", replica_set_name="rs1")
    conf = _conf(mongo_manager)
    assert conf["replication"]["replSetName"] == "rs1"
    assert conf["sharding"]["clusterRole"] == "shardsvr"
    assert conf["security"]["keyFile"] == mongo_manager.key_file
    with open(mongo_manager.key_file, encoding="utf-8") as handle:
        assert handle.read() == cluster.key_file_text(KEY)
    assert mongo_manager.get_replica_set_name() == "rs1"
    assert mongo_manager.get_key() == cluster.key_file_text(KEY)
    bootstrap = yaml.safe_load(mongo_manager.render_config(bootstrap=True))
    assert "sharding" not in bootstrap and "replication" not in bootstrap


def test_config_server_settings(mongo_manager):
    _member(mongo_manager, "config_server")
    conf = _conf(mongo_manager)
    assert conf["sharding"]["clusterRole"] == "configsvr"
    assert conf["replication"]["replSetName"] == "cfg-c-1"


@pytest.mark.parametrize("extra, match", [
    ({"replica_set_name": "rs 1;x"}, "replica set name"),
    ({"replica_set_name": "rs1", "key": ""}, "cluster 'key'"),
])
def test_bad_member_config_refused(mongo_manager, extra, match):
    config = dict({"id": "c-1", "instance_type": "member", "key": KEY},
                  **extra)
    with pytest.raises(exceptions.BadRequest, match=match):
        mongo_manager.prepare_cluster(config)
    assert not mongo_manager.load_secret(cluster.CLUSTER_KEY_SECRET)


def test_query_router_waits_then_runs_mongos(mongo_manager, commands,
                                             monkeypatch):
    from trove_core.status import ServiceStatus

    log, replies = commands
    _member(mongo_manager, "query_router")
    assert mongo_manager.probe_status() is ServiceStatus.INSTANCE_READY
    assert mongo_manager.mongos_argv()[0] == "mongos"
    restarted = []
    monkeypatch.setattr(type(mongo_manager), "_restart_with_config",
                        lambda self: restarted.append(True))
    replies["replSetGetConfig"] = _not_initiated()
    mongo_manager.operation("add_config_servers")(["10.0.0.9",
                                                   "10.0.0.10:27019"])
    host, user, document = log[-1]
    assert host == "10.0.0.9" and user == "__system"
    assert document == {"replSetInitiate": {
        "_id": "cfg-c-1", "configsvr": True, "members": [
            {"_id": 0, "host": "10.0.0.9:27999"},
            {"_id": 1, "host": "10.0.0.10:27019"}]}}
    assert restarted == [True]
    conf = _conf(mongo_manager)
    assert conf["sharding"]["configDB"] == (
        "cfg-c-1/10.0.0.9:27999,10.0.0.10:27019")
    assert conf["security"]["keyFile"] == mongo_manager.key_file
    assert "storage" not in conf


def _not_initiated():
    from pymongo import errors

    return errors.OperationFailure("no replset config", code=94)


def test_router_admin_and_shards(mongo_manager, commands):
    log, replies = commands
    _member(mongo_manager, "query_router")
    mongo_manager.operation("add_shard")("rs1", "10.0.0.5")
    assert log[-1][2] == {"addShard": "rs1/10.0.0.5:27999"}
    replies["listShards"] = {"shards": [{"_id": "rs1", "state": 1}]}
    assert mongo_manager.is_shard_active("rs1") is True
    assert mongo_manager.is_shard_active("rs2") is False
    mongo_manager.operation("store_admin_password")("cluster-pw")
    assert mongo_manager.get_admin_password() == "cluster-pw"
    assert mongo_manager.load_secret("admin_password") == "cluster-pw"


@pytest.mark.parametrize("member, match", [
    ("10.0.0.5;drop", "host:port"), ("10.0.0.5:0", "host:port"),
    (["10.0.0.5"], "not a string")])
def test_add_shard_bad_member_refused(mongo_manager, commands, member,
                                      match):
    log, _replies = commands
    _member(mongo_manager, "query_router")
    with pytest.raises(exceptions.BadRequest, match=match):
        mongo_manager.add_shard("rs1", member)
    assert log == []


def test_roles_enforced(mongo_manager, commands):
    _member(mongo_manager, "member", replica_set_name="rs1")
    with pytest.raises(exceptions.BadRequest, match="query_router"):
        mongo_manager.add_shard("rs1", "10.0.0.5")
    with pytest.raises(exceptions.BadRequest, match="query_router"):
        mongo_manager.create_admin_user("pw")


def test_prep_primary_and_add_members(mongo_manager, commands):
    log, replies = commands
    _member(mongo_manager, "member", replica_set_name="rs1")
    state = {"config": None}

    def get_config(_doc):
        if state["config"] is None:
            raise _not_initiated()
        return {"config": state["config"]}

    def initiate(doc):
        cfg = doc["replSetInitiate"]
        state["config"] = {"_id": cfg["_id"], "version": 1,
                           "members": cfg["members"]}
        return {"ok": 1}

    def reconfig(doc):
        state["config"] = doc["replSetReconfig"]
        return {"ok": 1}
    replies.update(replSetGetConfig=get_config, replSetInitiate=initiate,
                   replSetReconfig=reconfig,
                   replSetGetStatus=lambda _d: {"members": [
                       {"name": m["host"], "stateStr": "SECONDARY"}
                       for m in state["config"]["members"]]})
    mongo_manager.operation("prep_primary")()
    assert mongo_manager.cluster_member["role"] == "primary"
    mongo_manager.operation("add_members")(["10.0.0.6", "10.0.0.7:27018"])
    hosts = [m["host"] for m in state["config"]["members"]]
    assert hosts[1:] == ["10.0.0.6:27999", "10.0.0.7:27018"]
    with pytest.raises(exceptions.BadRequest, match="non-empty list"):
        mongo_manager.add_members("10.0.0.6")
