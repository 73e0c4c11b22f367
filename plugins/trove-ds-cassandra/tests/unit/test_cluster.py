"""The ring operations of Trove's cassandra cluster strategy: the same
wire as Trove 26's guest client, nodetool argv, state and refusals."""

import contextlib
import subprocess

import bcrypt
import pytest
import yaml

from trove_core import exceptions
from trove_ds_cassandra import backup as backup_mod
from trove_guest_base import endpoint

MEMBER = {"id": "ring-1", "instance_type": "member", "role": "member",
          "complete": False, "failed": None}


@pytest.fixture
def node(cass_manager):
    cass_manager._save_state(prepared=True, cluster_member=dict(MEMBER))
    return cass_manager


@pytest.fixture
def nodetool(monkeypatch):
    calls = []

    def run(argv, check=True, timeout=None, **_kwargs):
        calls.append((list(argv), timeout))
        return subprocess.CompletedProcess(argv, 0, b"", b"")
    monkeypatch.setattr(backup_mod.process, "run", run)
    return calls


def _yaml(manager):
    with open(manager.options.config_file, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_declares_the_family(node):
    assert {"cluster", "cluster_cassandra"} <= set(node.capabilities())


@pytest.mark.parametrize("name, kwargs", [
    ("get_data_center", {}), ("get_rack", {}),
    ("set_seeds", {"seeds": ["10.0.0.1", "10.0.0.2"]}),
    ("get_seeds", {}), ("set_auto_bootstrap", {"enabled": False}),
    ("node_cleanup_begin", {}), ("node_cleanup", {}),
    ("node_decommission", {}), ("cluster_secure", {"password": "pw"}),
    ("get_admin_credentials", {}),
    ("store_admin_credentials", {"admin_credentials": {
        "username": "os_admin", "password": "pw"}}),
    ("cluster_complete", {}),
])
def test_trove_wire_accepted(name, kwargs):
    """Every call Trove 26's cassandra guest client makes, with its
    keyword arguments, passes the endpoint's checks."""
    assert endpoint.convert_arguments(name, kwargs) == kwargs


def test_single_node_refuses_ring_calls(cass_manager):
    for name in ("set_seeds", "node_decommission", "cluster_secure"):
        with pytest.raises(exceptions.NotClusterMember):
            cass_manager.operation(name)


def test_seeds_rendered(node):
    node.operation("set_seeds")(["10.0.0.1", "10.0.0.2:7000"])
    assert node.get_seeds() == ["10.0.0.1", "10.0.0.2:7000"]
    params = _yaml(node)["seed_provider"][0]["parameters"]
    assert params == [{"seeds": "10.0.0.1,10.0.0.2:7000"}]


@pytest.mark.parametrize("seeds", [
    [], "10.0.0.1", ["10.0.0.1;rm -rf /"], ["-h"], ["10.0.0.1:99999"],
    [None]])
def test_bad_seeds_refused(node, seeds):
    with pytest.raises(exceptions.BadRequest, match="seed"):
        node.operation("set_seeds")(seeds)
    assert "seeds" not in node._cluster_settings()
    assert node.cluster_member["failed"]  # the member reports failed


def test_auto_bootstrap(node):
    node.set_auto_bootstrap(False)
    assert _yaml(node)["auto_bootstrap"] is False
    node.set_auto_bootstrap(True)
    assert _yaml(node)["auto_bootstrap"] is True
    with pytest.raises(exceptions.BadRequest, match="true or false"):
        node.set_auto_bootstrap("no")


def test_dc_and_rack(node):
    assert (node.get_data_center(), node.get_rack()) == ("dc1", "rack1")
    node.set_cluster({"id": "ring-1", "dc": "dc2", "rack": "r7"})
    assert (node.get_data_center(), node.get_rack()) == ("dc2", "r7")


def test_cleanup_argv(node, nodetool):
    node.operation("node_cleanup_begin")()
    assert node.cluster_member["cleanup"] == "pending"
    node.operation("node_cleanup")()
    assert nodetool == [(["nodetool", "-h", "127.0.0.1", "-p", "17199",
                          "cleanup"], 6 * 3600)]
    assert node.cluster_member["cleanup"] == "done"


def test_decommission_argv_then_stop(node, nodetool, monkeypatch):
    stopped = []
    monkeypatch.setattr(type(node), "do_stop", lambda self: stopped.append(
        True))
    node.operation("node_decommission")()
    assert nodetool[0][0][-1] == "decommission"
    assert nodetool[0][1] == 6 * 3600
    assert stopped == [True]
    assert node.cluster_member["role"] == "decommissioned"


class _Session:
    def __init__(self):
        self.statements = []

    def execute(self, statement, params=None):
        self.statements.append((statement, params))


def test_cluster_secure_and_credentials(node, monkeypatch):
    session = _Session()

    @contextlib.contextmanager
    def admin(_self):
        yield session
    monkeypatch.setattr(type(node), "_admin", admin)
    creds = node.operation("cluster_secure")("Ring-pass-1")
    assert creds == {"username": "os_admin", "password": "Ring-pass-1"}
    # a bcrypt hash travels, never the password (issue 15 point 5)
    [(statement, (sent,))] = session.statements
    assert statement == 'ALTER ROLE "os_admin" WITH HASHED PASSWORD = %s'
    assert "Ring-pass-1" not in sent
    assert bcrypt.checkpw(b"Ring-pass-1", sent.encode())
    assert node.get_admin_credentials() == creds
    other = dict(creds, password="Ring-pass-2")
    node.operation("store_admin_credentials")(other)
    assert node.admin_password() == "Ring-pass-2"


@pytest.mark.parametrize("creds, match", [
    ({"username": "os_admin"}, "username', 'password"),
    ({"username": "cassandra", "password": "x"}, "manages the ring"),
    ({"username": "os_admin", "password": "a\nb"}, "one-line"),
])
def test_bad_credentials_refused(node, creds, match):
    with pytest.raises(exceptions.BadRequest, match=match):
        node.store_admin_credentials(creds)
