"""Issue 15 point 11 over the whole RPC surface: a dict, or text with a
lone surrogate, where a string belongs is BadRequest for every operation
of every plugin, refused by the endpoint before the manager runs, and
logged as one line without a traceback."""

import copy
import logging

import oslo_messaging
import pytest

from trove_core import capabilities as caps
from trove_core import discovery
from trove_core import exceptions
from trove_guest_base import endpoint

PLUGINS = ("fake", "mysql", "redis", "mongodb", "cassandra")

_DB = {"_name": "db1", "_character_set": "utf8", "_collate": "utf8_bin"}
_USER = {"_name": "u1", "_host": "%", "_password": "Pw-1-x",
         "_databases": [{"_name": "db1"}]}

#: a valid value of each argument, as Trove sends it; every string in
#: it (outside the opaque mappings below) is a string argument or field
VALUES = {
    "memory_mb": 512, "packages": ["pkg"], "databases": [_DB],
    "users": [_USER], "device_path": "/dev/vdb", "mount_point": "/mnt",
    "backup_info": {"id": "b1", "location": "l", "type": "t",
                    "checksum": "c", "datastore": "d",
                    "datastore_version": "v",
                    "parent": {"location": "p", "checksum": "c"}},
    "config_contents": "x = 1", "root_password": "Pw-1-x",
    "overrides": {}, "cluster_config": None, "snapshot": None,
    "modules": [], "ds_version": "1.0", "do_not_start_on_reboot": False,
    "configuration": {"config_contents": "x = 1"}, "fs_path": "/",
    "limit": 10, "marker": "m", "include_marker": False,
    "database": _DB, "username": "u1", "hostname": "%", "user": _USER,
    "user_attrs": {"name": "u2", "host": "%", "password": "Pw-2-x"},
    "snapshot_info": {}, "replica_source_config": None,
    "replica_info": {}, "slave_config": None, "restart": False,
    "for_failover": False, "read_only": True, "txn": "t1",
    "remove": False, "log_name": "general", "enable": True,
    "disable": False, "publish": False, "discard": False,
    "online": False, "upgrade_info": {}, "config_overrides": None,
    "include_contents": False, "module": {},
    # cluster families, as Trove 26's cluster clients send them
    "admin_password": "Pw-1-x", "bootstrap": True,
    "replication_user": {"name": "clusterrepuser", "password": "Pw-3-x"},
    "cluster_configuration": "[galera]\nwsrep_on = ON\n",
    "replica_set_name": "rs1", "replica_set_member": "10.0.0.3",
    "members": ["10.0.0.2"], "config_servers": ["10.0.0.1"],
    "password": "Pw-1-x", "seeds": ["10.0.0.4"], "enabled": True,
    "admin_credentials": {}, "ip": "127.0.0.1", "port": "6379",
    "first_slot": 0.0, "last_slot": 100.0, "node_ids": ["a" * 40],
    # TLS (API 1.3)
    "mode": "enforced",
    "container": {"certificate": "c", "private_key": "k", "ca": "a"},
}
#: where an operation's argument differs from the shared one
BY_OP = {("grant_access", "databases"): ["db1", "db2"],
         ("revoke_access", "database"): "db1"}
#: mappings whose content is the datastore's business, not the endpoint's
OPAQUE = {"overrides", "cluster_config", "snapshot", "snapshot_info",
          "replica_source_config", "replica_info", "slave_config",
          "upgrade_info", "module", "config_overrides",
          "admin_credentials"}


def _arguments(name):
    spec = caps.OPERATIONS[name]
    info = caps.CAPABILITIES[spec.capability][name].getSignatureInfo()
    return info["positional"]


def _kwargs(name):
    return {arg: copy.deepcopy(BY_OP.get((name, arg), VALUES[arg]))
            for arg in _arguments(name)}


def _string_paths(value, path=()):
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_paths(item, path + (index,))


def _cases():
    for name in sorted(caps.OPERATIONS):
        for arg, value in _kwargs(name).items():
            if arg in OPAQUE:
                continue
            for path in _string_paths(value):
                yield name, (arg,) + path


CASES = list(_cases())


def _replace(kwargs, path, bad):
    node = kwargs
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad


class _Stub:
    """Declares what a plugin's manager declares; records any call that
    reaches it (none may)."""

    def __init__(self, name):
        self.name = name
        self.record, cls = discovery.load_manager_class(name)
        self.declared = {n for iface in caps.interfaces_of(cls)
                         for n in iface.names()}
        self.calls = []

    def operation(self, op):
        if op not in self.declared:
            raise exceptions.OperationNotSupported(datastore=self.name,
                                                   operation=op)

        def reached(**kwargs):
            self.calls.append((op, kwargs))
            raise RuntimeError("the manager was reached")
        return reached


@pytest.fixture(scope="module")
def endpoints():
    """A Trove endpoint per plugin, around a stub of its manager."""
    made = {}
    for name in PLUGINS:
        stub = _Stub(name)
        runtime = endpoint.GuestRuntime(stub, stub.record, "g1")
        made[name] = (endpoint.GuestAPIEndpoint(runtime), stub)
    yield made
    for ep, _stub in made.values():
        ep._runtime.gate.close(timeout=5)


def test_every_argument_is_known():
    """Every argument of every operation has a value here and a check
    at the endpoint (so a new one cannot go unchecked)."""
    for name in caps.OPERATIONS:
        for arg in _arguments(name):
            assert arg in VALUES, (name, arg)
            assert (arg in endpoint._BY_ARG
                    or (name, arg) in endpoint._BY_OP), (name, arg)


@pytest.mark.parametrize("name", sorted(caps.OPERATIONS))
def test_valid_arguments_pass(name):
    """The template is valid: its failures below are the bad value's."""
    endpoint.convert_arguments(name, _kwargs(name))


@pytest.mark.parametrize("bad", [
    pytest.param({"$ne": 1}, id="dict"),
    pytest.param("a\ud800b", id="lone-surrogate"),
])
@pytest.mark.parametrize("name, path", [
    pytest.param(n, p, id="%s-%s" % (n, ".".join(map(str, p))))
    for n, p in CASES])
def test_bad_string_is_bad_request(endpoints, caplog, name, path, bad):
    """Every plugin declaring the operation answers BadRequest, its
    manager is never reached, and the log has no traceback."""
    kwargs = _kwargs(name)
    _replace(kwargs, path, bad)
    caplog.set_level(logging.DEBUG)
    checked = 0
    for plugin, (ep, stub) in endpoints.items():
        if name not in stub.declared:
            continue
        stub.calls.clear()
        checked += 1
        with pytest.raises(oslo_messaging.ExpectedException) as info:
            getattr(ep, name)({}, **copy.deepcopy(kwargs))
        error = info.value.exc_info[1]
        assert isinstance(error, exceptions.BadRequest), (plugin, error)
        assert repr(path[0]) in str(error), (plugin, str(error))
        assert stub.calls == [], plugin
    if not checked:
        # no plugin here declares it: the endpoint's check still holds
        with pytest.raises(exceptions.BadRequest, match=repr(path[0])):
            endpoint.convert_arguments(name, kwargs)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
