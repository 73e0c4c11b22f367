"""Live tests of the Redis manager against real redis-server processes.

Each server is started through the plugin's own prepare in a temporary
directory on a free port.
"""

import os
import signal
import stat

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from trove_core import exceptions
from trove_core import models
from trove_core.status import ServiceStatus
from trove_guest_base.testing import helpers

pytestmark = pytest.mark.redis


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _as(mgr, username=None, password=None):
    return redis.Redis(host=mgr.host, port=mgr.options.port,
                       username=username, password=password,
                       decode_responses=True, socket_timeout=5,
                       retry=Retry(NoBackoff(), 0))


class TestPrepare:
    """prepare renders, secures, starts and is idempotent."""

    def test_running_and_secured(self, prepared):
        """The server runs; anonymous clients are refused."""
        assert prepared.status is ServiceStatus.RUNNING
        anonymous = _as(prepared)
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()

    def test_secrets_stay_out_of_files_and_logs(self, prepared):
        """The admin password is only in a 0600 secret file."""
        password = prepared.admin_password()
        assert _mode(prepared.secret_path("admin_password")) == 0o600
        assert _mode(prepared.options.config_file) == 0o600
        for path in (prepared.options.config_file, prepared.acl_file,
                     os.path.join(prepared.state_dir, "redis.log")):
            with open(path, encoding="utf-8") as handle:
                assert password not in handle.read()

    def test_rendered_memory_limit(self, prepared):
        """maxmemory is maxmemory_ratio of memory_mb."""
        value = prepared.client().config_get("maxmemory")["maxmemory"]
        assert int(value) == int(256 * 0.75 * 1024 * 1024)

    def test_prepare_again_is_a_no_op(self, prepared):
        """A second prepare keeps the same running server."""
        pid = prepared.runner.pid
        prepared.prepare(memory_mb=512, packages=[], databases=[],
                         users=[])
        assert prepared.runner.pid == pid
        assert prepared.status is ServiceStatus.RUNNING

    def test_prepare_with_users_and_root(self, make):
        """prepare creates the given users and sets root's password."""
        mgr = make("with-users")
        mgr.prepare(memory_mb=None, packages=[], databases=[],
                    users=[models.User(name="app", password="app-pw",
                                       databases=(models.Database("a"),))],
                    root_password="root-pw")
        assert _as(mgr, "app", "app-pw").set("a:1", "x")
        assert _as(mgr, password="root-pw").ping()

    def test_port_taken_fails_fast_quoting_the_log(self, make):
        """A server that cannot bind its port fails prepare at once (not
        after start_timeout) quoting its log; nothing is left running."""
        with helpers.taken_port() as port:
            mgr = make("port-taken", port=port, start_timeout=600)
            with pytest.raises(exceptions.DatastoreError,
                               match="exited before it was ready") as info:
                mgr.prepare(memory_mb=None, packages=[], databases=[],
                            users=[])
        assert "Address already in use" in str(info.value)
        assert mgr.status is ServiceStatus.FAILED
        assert not mgr.prepared
        assert not mgr.runner.is_running()

    def test_bad_override_fails_prepare(self, make):
        """A bad override fails prepare, naming it, and status is failed."""
        mgr = make("bad-override")
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="'hz'") as info:
            mgr.prepare(memory_mb=None, packages=[], databases=[],
                        users=[], overrides={"hz": 0})
        assert info.value.name == "hz"
        assert mgr.status is ServiceStatus.FAILED


class TestLifecycle:
    """Status comes from the real process."""

    def test_stop_start_restart_and_crash(self, make):
        """stop -> shutdown, start -> running, SIGKILL -> crashed."""
        mgr = make("lifecycle")
        mgr.prepare(memory_mb=None, packages=[], databases=[], users=[])
        mgr.client().set("k", "v")
        mgr.stop_db()
        assert mgr.probe_status() is ServiceStatus.SHUTDOWN
        mgr.start_db_with_conf_changes("timeout 17\n")
        assert mgr.status is ServiceStatus.RUNNING
        assert mgr.client().config_get("timeout")["timeout"] == "17"
        mgr.restart()
        assert mgr.status is ServiceStatus.RUNNING
        os.kill(mgr.runner.pid, signal.SIGKILL)
        mgr.runner.wait_exit(10)
        assert mgr.probe_status() is ServiceStatus.CRASHED
        mgr.do_start()
        assert mgr.probe_status() is ServiceStatus.RUNNING


class TestRoot:
    """Root is the default user, Trove's requirepass way."""

    def test_enable_disable(self, prepared):
        """Root authenticates with a bare AUTH until disabled."""
        user = prepared.enable_root()
        assert user.is_root and user.name == "default"
        assert prepared.is_root_enabled()
        assert prepared.get_root_password() == user.password
        assert _mode(prepared.secret_path("root_password")) == 0o600
        plain = _as(prepared, password=user.password)
        assert plain.ping()
        prepared.disable_root()
        assert not prepared.is_root_enabled()
        assert prepared.get_root_password() is None
        with pytest.raises(redis.AuthenticationError):
            _as(prepared, password=user.password).ping()

    def test_enable_with_password(self, prepared):
        """enable_root_with_password uses the given password."""
        user = prepared.enable_root_with_password("chosen-pw")
        assert user.password == "chosen-pw"
        assert prepared.is_root_enabled()
        prepared.disable_root()


class TestUsers:
    """Trove users as Redis ACL users; databases as key namespaces."""

    def test_user_life(self, prepared):
        """Create, read, page, grant, revoke, rename, re-password, drop."""
        prepared.create_user([
            models.User(name="alice", password="a-pw",
                        databases=(models.Database("shop"),)),
            models.User(name="bob", password="b-pw")])
        alice = prepared.get_user("alice", "%")
        assert [d.name for d in alice.databases] == ["shop"]
        page, marker = prepared.list_users(limit=1)
        assert [u.name for u in page] == ["alice"] and marker == "alice@%"
        page, marker = prepared.list_users(limit=1, marker=marker)
        assert [u.name for u in page] == ["bob"] and marker is None

        client = _as(prepared, "alice", "a-pw")
        assert client.set("shop:1", "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("other:1", "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.config_get("maxmemory")

        prepared.grant_access("alice", "%", ["other"])
        assert {d.name for d in prepared.list_access("alice", "%")} == {
            "shop", "other"}
        assert _as(prepared, "alice", "a-pw").set("other:1", "x")
        prepared.revoke_access("alice", "%", "shop")
        assert [d.name for d in prepared.list_access("alice", "%")] == [
            "other"]

        prepared.change_passwords([models.User(name="bob",
                                               password="b-pw2")])
        assert _as(prepared, "bob", "b-pw2").ping()
        prepared.update_attributes("alice", "%", {"name": "carol",
                                                  "password": "c-pw"})
        assert prepared.get_user("alice", "%") is None
        assert _as(prepared, "carol", "c-pw").set("other:2", "y")
        for name in ("bob", "carol"):
            prepared.delete_user(models.User(name=name))
        assert prepared.list_users() == ([], None)

    @pytest.mark.parametrize("name", [
        pytest.param(">pw", id="password-rule"),
        pytest.param("+@all", id="command-rule"),
        pytest.param("~*", id="key-rule"),
        pytest.param("x y", id="space"),
        pytest.param("os_admin", id="reserved"),
        pytest.param("default", id="root"),
    ])
    def test_hostile_names_never_reach_acl(self, prepared, name):
        """Hostile or reserved names are refused; the ACL is unchanged."""
        client = prepared.client()
        before = client.execute_command("ACL", "LIST")
        with pytest.raises(exceptions.InvalidIdentifier) as info:
            prepared.create_user([models.User(name=name, password="p")])
        assert info.value.value == name
        assert client.execute_command("ACL", "LIST") == before

    def test_hostile_database_never_reaches_acl(self, prepared):
        """A glob database name is refused before the user is created."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="key namespace") as info:
            prepared.create_user([models.User(
                name="dave", password="p",
                databases=(models.Database("*"),))])
        assert info.value.kind == "database"
        assert prepared.get_user("dave", "%") is None

    def test_missing_and_duplicate_users(self, prepared):
        """Unknown users raise NotFound; duplicates are refused."""
        with pytest.raises(exceptions.NotFound, match="'ghost'") as info:
            prepared.change_passwords([models.User(name="ghost",
                                                   password="x")])
        assert info.value.kind == "user"
        prepared.create_user([models.User(name="erin", password="p")])
        with pytest.raises(exceptions.BadRequest, match="already exists"):
            prepared.create_user([models.User(name="erin", password="q")])
        prepared.delete_user(models.User(name="erin"))

    def test_host_other_than_any_is_refused(self, prepared):
        """Redis has no user hosts."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="host") as info:
            prepared.create_user([models.User(name="fay", host="10.0.0.1",
                                              password="p")])
        assert info.value.kind == "host"


class TestOverrides:
    """Configuration overrides."""

    def test_dynamic_applied_and_persisted(self, prepared):
        """CONFIG SET applies dynamic ones; the file keeps all."""
        pending = prepared.apply_overrides({"maxmemory-policy":
                                            "allkeys-lru", "databases": 8})
        assert pending == ["databases"]
        client = prepared.client()
        assert client.config_get("maxmemory-policy")[
            "maxmemory-policy"] == "allkeys-lru"
        with open(prepared.options.config_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
        assert "maxmemory-policy allkeys-lru" in lines
        assert "databases 8" in lines
        prepared.update_overrides({}, remove=True)
        with open(prepared.options.config_file, encoding="utf-8") as f:
            assert "databases 8" not in f.read().splitlines()

    def test_bad_value_rejected_before_anything_changes(self, prepared):
        """A bad value names the parameter; earlier ones are not set."""
        client = prepared.client()
        before = client.config_get("hz")["hz"]
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="'maxclients'") as info:
            prepared.apply_overrides({"hz": 42, "maxclients": 0})
        assert info.value.name == "maxclients"
        assert client.config_get("hz")["hz"] == before
