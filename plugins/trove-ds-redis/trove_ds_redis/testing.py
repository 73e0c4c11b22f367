"""Test helpers of the Redis plugin: the conformance probe and spawner
options.

:class:`RedisProbe` looks at a server through ``redis-py`` with the
admin credential the manager stored (as an operator would), never
through the manager's operations. A Trove "database" is a key namespace
here, so "can log in and use database ``d``" means the user can write and
read a key ``d:...``.
"""

import random

from trove_guest_base import net
from trove_guest_base.conformance import probe

__all__ = ["RedisProbe", "cluster_port", "server_port", "spawner_options"]

_RANDOM = random.SystemRandom()
_HANDED_OUT = set()


def server_port(host="127.0.0.1"):
    """A free port below the usual ephemeral range, never handed out
    twice by this process, so that a client socket opened before the
    server starts cannot take it."""
    for _ in range(200):
        port = _RANDOM.randint(20000, 32000)
        if port not in _HANDED_OUT and not net.port_open(host, port):
            _HANDED_OUT.add(port)
            return port
    return net.free_port(host)


def cluster_port(host="127.0.0.1"):
    """A free port for a Redis Cluster member whose bus port (``port +
    10000``) is free too; both stay below the ephemeral range."""
    for _ in range(200):
        port = _RANDOM.randint(12000, 22000)
        if (port not in _HANDED_OUT and port + 10000 not in _HANDED_OUT
                and not net.port_open(host, port)
                and not net.port_open(host, port + 10000)):
            _HANDED_OUT.update((port, port + 10000))
            return port
    raise RuntimeError("no free port pair (p, p + 10000) in 12000-32000")


def spawner_options(where):
    """Guest option overrides for a test server living in ``where``
    (for :class:`trove_guest_base.testing.Spawner`); its port leaves the
    cluster bus port free, so any spawned server can be a member."""
    return {"port": cluster_port(), "bind_address": "127.0.0.1",
            "config_file": "%s/etc/redis.conf" % where,
            "start_timeout": 30, "replication_timeout": 30}


class RedisProbe(probe.Probe):
    """Checks a Redis server's state through its own protocol.

    :param manager: the :class:`~trove_ds_redis.manager.Manager` whose
        server (host, port, stored admin secret) is probed.
    """

    live = True
    root_user = "default"

    def __init__(self, manager):
        self.manager = manager

    def _client(self, username=None, password=None):
        import redis
        from redis import backoff
        from redis import retry

        if username is None and password is None:
            username = "os_admin"
            password = self.manager.load_secret("admin_password")
        return redis.Redis(host=self.manager.host,
                           port=self.manager.options.port,
                           username=username, password=password,
                           decode_responses=True, socket_timeout=5,
                           retry=retry.Retry(backoff.NoBackoff(), 0),
                           **self.manager.tls.client_kwargs())

    def engine(self):
        """The server's name and ``redis_version``."""
        info = self._client().info("server")
        return {"name": "redis", "version": info["redis_version"]}

    def is_running(self):
        """Whether the server answers ``PING``."""
        import redis

        try:
            return bool(self._client().ping())
        except redis.RedisError:
            return False

    def can_login(self, user, password, database=None, host=None):
        """Whether ``AUTH user password`` succeeds (and the user can write
        and read a key of namespace ``database``)."""
        import redis

        try:
            client = self._client(user, password)
            client.ping()
            if database is not None:
                key = "%s:trove_probe" % database
                client.set(key, "1")
                ok = client.get(key) == "1"
                client.delete(key)
                return ok
            return True
        except (redis.AuthenticationError, redis.ResponseError):
            return False

    def write_marker(self, key, value):
        """``SET`` a marker key in database 0."""
        self._client().set("trove_marker:%s" % key, value)

    def read_marker(self, key):
        """``GET`` a marker key, or ``None``."""
        return self._client().get("trove_marker:%s" % key)

    def datastore_dirs(self):
        """The data directory (RDB, AOF, ACL file) and the server's log
        file."""
        import os

        return [self.manager.data_dir,
                os.path.join(self.manager.state_dir, "redis.log")]

    def tenant_lock(self, user, password, database):
        """A script ``user`` runs without end (``EVAL``), which keeps
        the server from answering anyone else; ended with
        ``SCRIPT KILL``."""
        import contextlib
        import threading
        import time

        import redis

        @contextlib.contextmanager
        def held():
            tenant = self._client(user, password)
            tenant.connection_pool.connection_kwargs["socket_timeout"] = 600
            errors = []

            def busy():
                try:
                    tenant.eval("while true do end", 0)
                except redis.RedisError as exc:
                    errors.append(exc)
            worker = threading.Thread(target=busy, daemon=True)
            worker.start()
            time.sleep(0.5)
            try:
                yield
            finally:
                admin = self._client()
                for _ in range(100):
                    try:
                        admin.script_kill()
                        break
                    except redis.RedisError:
                        time.sleep(0.1)
                worker.join(30)
                tenant.close()
                admin.close()
        return held()

    def config_value(self, name):
        """The running value from ``CONFIG GET``."""
        return self._client().config_get(name).get(name)
