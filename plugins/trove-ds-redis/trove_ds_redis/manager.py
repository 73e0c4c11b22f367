"""The Redis guest manager.

Lifecycle, configuration overrides, root and ACL users live here; backup
and replication are strategies loaded by name from their entry-point
groups (:mod:`trove_ds_redis.backup`, :mod:`trove_ds_redis.replication`);
``create_backup`` and the restore of ``prepare`` are the shared
:class:`trove_guest_base.backup.BackupOperations`. A guest prepared with a
``cluster_config`` is a Redis Cluster member; its cluster calls are
:mod:`trove_ds_redis.cluster`.

Authentication: the guest itself connects as the ACL user ``os_admin``
whose password is a 0600 secret; the ACL file holds only its SHA-256.
Trove's "root" is Redis's ``default`` user (the one ``requirepass`` and a
bare ``AUTH <password>`` address): disabled until root is enabled, and
disabled again by ``disable_root``.
"""

import contextlib
import logging
import os

from zope.interface import implementer

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import manager
from trove_core import models
from trove_core.status import ServiceStatus
from trove_ds_redis import configuration
from trove_ds_redis import tls as tls_mod
from trove_ds_redis import users as acl
from trove_guest_base import backup
from trove_guest_base import files
from trove_guest_base import process

__all__ = ["ADMIN_USER", "Manager", "REPLICATION_USER", "ROOT_USER"]

LOG = logging.getLogger(__name__)

ADMIN_USER = "os_admin"
REPLICATION_USER = "os_repl"
ROOT_USER = "default"


def _pairs(reply):
    """Turn a flat ``[k1, v1, k2, v2]`` reply into a dict."""
    if reply is None or isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


@implementer(caps.IUsers, caps.IAccess, caps.IRoot, caps.IBackup,
             caps.IReplication, caps.IConfiguration, caps.ISSL,
             caps.IRedisCluster)
class Manager(backup.BackupOperations, manager.BaseDatastoreManager):
    """Guest manager of the Redis datastore."""

    def __init__(self, name, conf, state_dir, reporter=None):
        super().__init__(name, conf, state_dir, reporter)
        self._runner = None
        self._client = None
        self._replication = None
        self.tls = tls_mod.TLS(self)
        self._cluster = None

    # -- paths and plumbing -----------------------------------------------

    @property
    def data_dir(self):
        """Where Redis keeps its RDB, AOF and ACL files."""
        return self.options.mount_point

    @property
    def rdb_path(self):
        """The RDB file Redis loads at start and writes on BGSAVE."""
        return os.path.join(self.data_dir, "dump.rdb")

    @property
    def aof_dir(self):
        """The directory of Redis 7's multi-part append-only file."""
        return os.path.join(self.data_dir, "appendonlydir")

    @property
    def acl_file(self):
        """The ACL file (hashed passwords only)."""
        return os.path.join(self.data_dir, "users.acl")

    @property
    def base_config_path(self):
        """The control plane's base configuration, kept for re-renders."""
        return os.path.join(self.state_dir, "redis.base.conf")

    @property
    def host(self):
        """The address the guest reaches its server on."""
        bind = self.options.bind_address
        wildcard = ("0.0.0.0", "*", "::")  # noqa: S104 - a wildcard bind
        return "127.0.0.1" if bind in wildcard else bind

    @property
    def service_owner(self):
        """The OS user owning Redis's files and running the server:
        ``service_user`` under systemd (the unit runs as it); with the
        child runner the account it drops to
        (:func:`trove_guest_base.process.service_user`: ``service_user``
        when the guest runs as root), else ``None``: the guest's own
        user."""
        if self.options.runner == "systemd":
            return self.options.service_user or None
        return process.service_user(self.options)

    @property
    def runner(self):
        """The :class:`~trove_guest_base.process.Runner` of the server.

        A child server runs as ``service_user`` when the guest runs as
        root, and its data directory (RDB, AOF, ACL file) is handed to
        that user before each start
        (:func:`~trove_guest_base.process.make_runner`)."""
        if self._runner is None:
            self._runner = process.make_runner(
                self.options,
                [self.options.server_binary, self.options.config_file],
                pid_file=os.path.join(self.state_dir, "redis.pid"),
                log_file=os.path.join(self.state_dir, "redis.log"),
                dirs=[self.data_dir])
        return self._runner

    def admin_password(self):
        """The guest's own password (created on first use, 0600)."""
        password = self.load_secret("admin_password")
        if not password:
            password = self.generate_password()
            self.store_secret("admin_password", password)
        return password

    def client(self, timeout=10, retries=3):
        """A ``redis.Redis`` client authenticated as the guest's admin.

        :param timeout: socket timeout in seconds.
        :param retries: retries of a command after a connection error;
            the default client (10 s, 3 retries) is kept and reused.

        :raises DriverNotInstalled: the ``redis`` module is missing.
        """
        try:
            import redis
            from redis import backoff
            from redis import retry
        except ImportError:
            raise exceptions.DriverNotInstalled(
                name=self.name, module="redis",
                command="pip install 'trove-ds-redis[guest]'") from None
        if (timeout, retries) == (10, 3) and self._client is not None:
            return self._client
        client = redis.Redis(
            host=self.host, port=self.options.port, username=ADMIN_USER,
            password=self.admin_password(), decode_responses=True,
            socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=retry.Retry(backoff.ExponentialBackoff(cap=1, base=0.05),
                              retries), **self.tls.client_kwargs())
        if (timeout, retries) == (10, 3):
            self._client = client
        return client

    def _datastore_error(self, operation, exc):
        return exceptions.DatastoreError(
            operation=operation, reason="%s: %s" % (type(exc).__name__, exc))

    @property
    def replication(self):
        """The configured replication strategy object."""
        if self._replication is None:
            self._replication = backup.load_strategy(self, "replication")
        return self._replication

    @property
    def replica_source(self):
        """The primary this server follows (``host``, ``port``,
        ``username``), or ``None``."""
        return self._state.get("replica_of")

    @property
    def cluster(self):
        """The :class:`~trove_ds_redis.cluster.RedisCluster` operations of
        this member."""
        if self._cluster is None:
            from trove_ds_redis import cluster

            self._cluster = cluster.RedisCluster(self)
        return self._cluster

    def set_replica_source(self, source, password=None):
        """Record the primary to follow (``None``: none) and its
        replication password (a 0600 secret), then re-render the
        configuration so a restart keeps following."""
        self.store_secret("master_password", password or "")
        self._save_state(replica_of=source)
        self.render_config()

    # -- configuration ------------------------------------------------------

    def _managed_config(self, aof=None):
        opts = self.options
        managed = {
            "port": opts.port, "bind": opts.bind_address,
            "dir": self.data_dir, "dbfilename": "dump.rdb",
            "aclfile": self.acl_file, "daemonize": "no",
            "logfile": ('""' if opts.runner == "child" else opts.log_file),
            "save": [s.strip() for s in opts.save if s.strip()] or ['""'],
            "appendonly": "yes" if opts.appendonly else "no",
            "appendfsync": opts.appendfsync,
            "maxmemory-policy": opts.maxmemory_policy,
        }
        memory_mb = self._state.get("memory_mb")
        if memory_mb:
            managed["maxmemory"] = int(memory_mb * opts.maxmemory_ratio
                                       * 1024 * 1024)
        master = self.replica_source
        if master:
            managed["replicaof"] = "%s %d" % (master["host"],
                                              master["port"])
            managed["masteruser"] = master["username"]
            managed["masterauth"] = self.load_secret("master_password")
        if aof is not None:
            managed["appendonly"] = "yes" if aof else "no"
        managed.update(self.tls.managed())
        if self.is_cluster_member:
            managed.update(self.cluster.managed_config())
        return managed

    def aof_wanted(self):
        """Whether the rendered configuration enables the AOF."""
        overrides = self._state.get("overrides") or {}
        if "appendonly" in overrides:
            return overrides["appendonly"] == "yes"
        return bool(self.options.appendonly)

    def render_config(self, aof=None):
        """Write redis.conf (0600) from the base file, the guest's keys
        and the stored overrides.

        :param aof: force ``appendonly`` on or off for the next start
            (a restore loads its RDB with the AOF off).
        """
        base = files.read_secret(self.base_config_path)
        overrides = dict(self._state.get("overrides") or {})
        if aof is not None:
            overrides.pop("appendonly", None)
        text = configuration.render(base, self._managed_config(aof),
                                    overrides)
        files.atomic_write(self.options.config_file, text, mode=0o600,
                           owner=self.service_owner)

    def write_config(self, config_contents):
        """Keep ``config_contents`` as the base configuration and render
        redis.conf; the running server picks it up on its next start."""
        files.atomic_write(self.base_config_path, config_contents or "",
                           mode=0o600)
        self.render_config()

    def update_overrides(self, overrides, remove=False):
        """Validate and persist overrides for the next start; with
        ``remove`` drop every override (Trove's semantics).

        :raises InvalidConfiguration: naming the bad parameter.
        """
        if remove:
            self._save_state(overrides={})
        else:
            checked = configuration.validate_overrides(overrides)
            merged = dict(self._state.get("overrides") or {}, **checked)
            self._save_state(overrides=merged)
        self.render_config()

    def apply_overrides(self, overrides):
        """Apply dynamic overrides with ``CONFIG SET`` and persist all.

        :returns: the names that need a restart to take effect.
        :raises InvalidConfiguration: a parameter is unknown, invalid, or
            refused by the server (nothing later in the list is applied).
        """
        checked = configuration.validate_overrides(overrides)
        schema = configuration.load_schema()
        pending = []
        client = self.client()
        import redis

        for name, value in checked.items():
            if not schema[name].dynamic:
                pending.append(name)
                continue
            try:
                client.config_set(name, value)
            except redis.ResponseError as exc:
                raise exceptions.InvalidConfiguration(
                    name=name, reason="the server refused %r: %s"
                    % (value, exc)) from None
        merged = dict(self._state.get("overrides") or {}, **checked)
        self._save_state(overrides=merged)
        self.render_config()
        return pending

    # -- lifecycle hooks ---------------------------------------------------

    def _write_acl_file(self):
        import hashlib

        digest = hashlib.sha256(
            self.admin_password().encode("utf-8")).hexdigest()
        text = ("user %s off resetpass -@all\n"
                "user %s on #%s ~* &* +@all\n" % (ROOT_USER, ADMIN_USER,
                                                   digest))
        files.atomic_write(self.acl_file, text, mode=0o600,
                           owner=self.service_owner)

    def do_prepare(self, request):
        """Render the configuration and ACL file, restore
        ``request.backup_info`` when given, start and wait until ready;
        with ``request.snapshot`` (a replica context) follow that
        primary."""
        if request.cluster_config and request.snapshot:
            raise exceptions.BadRequest(
                reason="a Redis Cluster member cannot also be a REPLICAOF "
                "replica; prepare it with a cluster_config or a snapshot, "
                "not both")
        os.makedirs(self.data_dir, mode=0o750, exist_ok=True)
        if self.service_owner:
            process.hand_over(self.service_owner, [self.data_dir])
        overrides = configuration.validate_overrides(request.overrides)
        self._save_state(memory_mb=request.memory_mb, overrides=overrides,
                         replica_of=None)
        files.atomic_write(self.base_config_path,
                           request.config_contents or "", mode=0o600)
        self._write_acl_file()
        if self.runner.is_running():
            self.do_stop()
        aof_after_start = False
        if request.backup_info:
            self.restore_backup(request.backup_info)
            aof_after_start = self.aof_wanted()
        if aof_after_start:
            self.render_config(aof=False)
            self._start_and_wait()
            self._enable_aof()
            self.render_config()
        else:
            self.render_config()
            self._start_and_wait()
        if request.snapshot:
            self.replication.attach(request.snapshot)
        if self.is_cluster_member:
            me = self.cluster.myself()
            self.update_cluster_member(role="master", node_id=me.node_id)
            LOG.info("Redis Cluster member %s ready on port %d (bus %d)",
                     me.node_id, self.options.port, self.cluster.bus_port)

    def _enable_aof(self):
        """Turn the AOF on at run time: Redis then writes a base AOF from
        the dataset it holds (after a restore, the restored RDB)."""
        client = self.client()
        client.config_set("appendonly", "yes")
        self.wait_for(lambda: self._aof_ready(client), "the AOF rewrite")

    @staticmethod
    def _aof_ready(client):
        info = client.info("persistence")
        return (info.get("aof_enabled") == 1
                and not info.get("aof_rewrite_in_progress")
                and not info.get("aof_rewrite_scheduled"))

    def wait_for(self, predicate, what, timeout=None):
        """Poll ``predicate`` until it returns a true value and return it.

        :param what: what is awaited, for the error.
        :param timeout: seconds; ``start_timeout`` by default.
        :raises ReadinessTimeout: it stayed false.
        """
        from trove_guest_base import net

        return net.wait_until(predicate,
                              timeout or self.options.start_timeout, what)

    def _start_and_wait(self):
        self.runner.start(timeout=self.options.start_timeout)
        self.wait_ready()

    def wait_ready(self, timeout=None):
        """Wait until the server answers ``PING`` (and is not loading).

        :raises DatastoreError: the process exited or did not become ready
            in time; the message ends with the server's last log lines.
        """
        import redis

        return process.wait_ready(
            self.runner, lambda: self.client(timeout=2, retries=0).ping(),
            "redis-server on port %d" % self.options.port,
            timeout or self.options.start_timeout,
            log_file=getattr(self.runner, "log_file", None)
            or self.options.log_file,
            retry_on=(redis.ConnectionError, redis.TimeoutError,
                      redis.BusyLoadingError))

    def do_start(self):
        """Render the configuration, start the server, wait until ready."""
        self.render_config()
        # the guest's own client speaks what the server now serves
        self._save_state(tls_live=bool(self.tls.certs.state.get("enabled")),
                         restart_required=False)
        self._client = None
        self._start_and_wait()

    def do_stop(self):
        """Stop the server (it saves its RDB first when save points are
        configured) and wait until it is gone."""
        self.runner.stop(timeout=self.options.start_timeout)

    @property
    def sync_delay_mark(self):
        """Where a streamed backup notes the ``repl-diskless-sync-delay``
        it set to 0, until it has put the value back."""
        return os.path.join(self.state_dir, "sync-delay.saved")

    @property
    def write_pause_mark(self):
        """Present while :meth:`pre_create_backup` holds client writes."""
        return os.path.join(self.state_dir, "writes-paused")

    def recover_after_restart(self):
        """Undo what a guest killed in a backup left on a running server
        (the diskless-sync delay at 0, client writes paused for a volume
        snapshot), then settle interrupted backups."""
        running = None
        if os.path.exists(self.sync_delay_mark):
            with open(self.sync_delay_mark, encoding="utf-8") as handle:
                delay = handle.read().strip()
            running = self.runner.is_running()
            if running and delay.isdigit():
                self.client().config_set("repl-diskless-sync-delay", delay)
                LOG.warning("a backup killed during its SYNC left "
                            "repl-diskless-sync-delay at 0; put back to %s",
                            delay)
            os.unlink(self.sync_delay_mark)
        if os.path.exists(self.write_pause_mark):
            if running is None:
                running = self.runner.is_running()
            if running:
                self.client().execute_command("CLIENT", "UNPAUSE")
                LOG.warning("client writes paused by pre_create_backup "
                            "were never let through (the guest stopped "
                            "before post_create_backup); unpaused")
            os.unlink(self.write_pause_mark)
        return super().recover_after_restart()

    def probe_status(self):
        """``RUNNING`` when the server answers, ``BLOCKED`` when its
        process is up but does not answer (loading...), ``CRASHED`` when
        it died unasked, else ``SHUTDOWN``."""
        import redis

        if self.runner.is_running():
            try:
                self.client(timeout=2, retries=0).ping()
            except redis.RedisError:
                return ServiceStatus.BLOCKED
            if self._state.get("restart_required"):
                return ServiceStatus.RESTART_REQUIRED
            return ServiceStatus.RUNNING
        if self.runner.crashed():
            return ServiceStatus.CRASHED
        return ServiceStatus.SHUTDOWN

    # -- Redis Cluster (IRedisCluster) ---------------------------------------

    def cluster_meet(self, ip, port):
        """Join the cluster of the member at ``ip:port``; when that
        cluster already serves every slot (Trove's grow, whose
        ``cluster_complete`` never arrives) this member completes itself.
        """
        self.cluster.meet(ip, port)
        if self.cluster.others_serve_slots():
            self.cluster_complete()

    def cluster_addslots(self, first_slot, last_slot):
        """Serve slots ``first_slot`` to ``last_slot`` (whole numbers)."""
        self.cluster.add_slots(first_slot, last_slot)

    def get_node_ip(self):
        """``[ip, port]`` other members meet this one at."""
        return self.cluster.node_ip()

    def get_node_id_for_removal(self):
        """This member's node id, or ``None`` while it serves slots."""
        return self.cluster.node_id_for_removal()

    def remove_nodes(self, node_ids):
        """Forget the nodes ``node_ids`` that left the cluster."""
        self.cluster.remove(node_ids)

    def do_cluster_complete(self):
        """Wait until the cluster serves every slot."""
        self.cluster.wait_complete()

    # -- root (IRoot) --------------------------------------------------------

    def _acl_getuser(self, client, name):
        return _pairs(client.execute_command("ACL", "GETUSER", name))

    def _acl_save(self, client):
        client.execute_command("ACL", "SAVE")

    def enable_root(self):
        """Enable ``default`` with a generated password."""
        return self.enable_root_with_password(None)

    def enable_root_with_password(self, root_password=None):
        """Enable Redis's ``default`` user (``AUTH <password>``) with full
        rights and ``root_password`` (generated when ``None``).

        :returns: the root :class:`~trove_core.models.User` with its
            password.
        """
        password = acl.check_password(
            root_password or self.generate_password(), "root")
        client = self.client()
        client.execute_command("ACL", "SETUSER", ROOT_USER, "reset", "on",
                               acl.password_rule(password), "~*", "&*",
                               "+@all")
        self._acl_save(client)
        self.store_secret("root_password", password)
        LOG.info("enabled the Redis root user %r", ROOT_USER)
        return models.User(name=ROOT_USER, password=password, is_root=True)

    def disable_root(self):
        """Disable ``default`` and close its connections."""
        client = self.client()
        client.execute_command("ACL", "SETUSER", ROOT_USER, "reset", "off")
        client.execute_command("CLIENT", "KILL", "USER", ROOT_USER)
        self._acl_save(client)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.secret_path("root_password"))
        LOG.info("disabled the Redis root user %r", ROOT_USER)

    def is_root_enabled(self):
        """Whether ``default`` is enabled with a password."""
        info = self._acl_getuser(self.client(), ROOT_USER) or {}
        flags = info.get("flags") or []
        return "on" in flags and "nopass" not in flags and bool(
            info.get("passwords"))

    def get_root_password(self):
        """The root password last set through the guest, or ``None``."""
        return self.load_secret("root_password")

    # -- users (IUsers, IAccess) ---------------------------------------------

    def _reserved(self):
        return {ROOT_USER, ADMIN_USER, REPLICATION_USER,
                *self.options.ignore_users}

    def _existing(self, client, name, host="%"):
        acl.check_user_name(name, self._reserved())
        acl.check_host(host)
        info = self._acl_getuser(client, name)
        if info is None:
            raise exceptions.NotFound(kind="user", name=name)
        return info

    def _to_user(self, name, info):
        return models.User(
            name=name, host="%",
            databases=tuple(models.Database(name=d)
                            for d in acl.databases_of(info)))

    def create_user(self, users):
        """Create ACL users with their passwords and database access.

        All names and passwords are checked before the first is created.

        :raises InvalidIdentifier: a bad or reserved name, or a host other
            than ``%``.
        :raises BadRequest: a user already exists or has no password.
        """
        reserved = self._reserved()
        plans = []
        for user in users:
            acl.check_user_name(user.name, reserved)
            acl.check_host(user.host)
            plans.append((user.name, acl.user_rules(
                user.password, [d.name for d in user.databases])))
        client = self.client()
        for name, _rules in plans:
            if self._acl_getuser(client, name) is not None:
                raise exceptions.BadRequest(
                    reason="Redis user %r already exists; change its "
                    "password or access instead" % name)
        # one MULTI/EXEC: every user is created, or none
        pipe = client.pipeline(transaction=True)
        for name, rules in plans:
            pipe.execute_command("ACL", "SETUSER", name, *rules)
        pipe.execute()
        for name, _rules in plans:
            LOG.info("created Redis user %r", name)
        self._acl_save(client)

    def get_user(self, username, hostname):
        """Return the user or ``None``."""
        acl.check_user_name(username, self._reserved())
        acl.check_host(hostname)
        info = self._acl_getuser(self.client(), username)
        return None if info is None else self._to_user(username, info)

    def list_users(self, limit=None, marker=None, include_marker=False):
        """Return ``(users, next_marker)`` paged by ``name@%``; the guest's
        and the root user are hidden."""
        client = self.client()
        reserved = self._reserved()
        found = []
        for name in client.execute_command("ACL", "USERS"):
            if name in reserved:
                continue
            info = self._acl_getuser(client, name)
            if info is not None:
                found.append(self._to_user(name, info))
        return models.paginate(found, limit, marker, include_marker,
                               key=lambda user: user.key)

    def delete_user(self, user):
        """Delete an ACL user and close its connections.

        :raises NotFound: no such user.
        """
        client = self.client()
        self._existing(client, user.name, user.host)
        client.execute_command("ACL", "DELUSER", user.name)
        self._acl_save(client)
        LOG.info("deleted Redis user %r", user.name)

    def change_passwords(self, users):
        """Replace each user's passwords with the one given.

        :raises NotFound: a user does not exist (none is changed).
        """
        client = self.client()
        for user in users:
            self._existing(client, user.name, user.host)
            acl.check_password(user.password)
        for user in users:
            client.execute_command("ACL", "SETUSER", user.name, "resetpass",
                                   acl.password_rule(user.password))
        self._acl_save(client)

    def update_attributes(self, username, hostname, user_attrs):
        """Rename a user and/or change its password, atomically.

        :raises NotFound: no such user.
        :raises BadRequest: the new name is taken, or a host other than
            ``%`` is asked for.
        """
        client = self.client()
        info = self._existing(client, username, hostname)
        attrs = dict(user_attrs or {})
        acl.check_host(attrs.get("host"))
        new_name = username if attrs.get("name") is None else attrs["name"]
        password = attrs.get("password")
        if password is not None:
            acl.check_password(password)
        if new_name == username:
            if password is not None:
                client.execute_command("ACL", "SETUSER", username,
                                       "resetpass",
                                       acl.password_rule(password))
                self._acl_save(client)
            return
        acl.check_user_name(new_name, self._reserved())
        if self._acl_getuser(client, new_name) is not None:
            raise exceptions.BadRequest(
                reason="cannot rename Redis user %r to %r: that user "
                "exists" % (username, new_name))
        if info.get("selectors"):
            raise exceptions.BadRequest(
                reason="Redis user %r has ACL selectors the guest did not "
                "set; rename it with ACL commands" % username)
        rules = ["reset"] + [f for f in info["flags"] if f in ("on", "off")]
        rules += ["#" + h for h in info.get("passwords") or []]
        rules += (info.get("commands") or "").split()
        rules += (info.get("keys") or "").split()
        rules += (info.get("channels") or "").split()
        if password is not None:
            rules += ["resetpass", acl.password_rule(password)]
        with client.pipeline(transaction=True) as pipe:
            pipe.execute_command("ACL", "SETUSER", new_name, *rules)
            pipe.execute_command("ACL", "DELUSER", username)
            pipe.execute()
        self._acl_save(client)
        LOG.info("renamed Redis user %r to %r", username, new_name)

    def list_access(self, username, hostname):
        """Return the key namespaces (Trove databases) the user reaches."""
        info = self._existing(self.client(), username, hostname)
        return list(self._to_user(username, info).databases)

    def grant_access(self, username, hostname, databases):
        """Grant the key namespaces ``name:*`` of ``databases`` (names)."""
        names = [d.name if isinstance(d, models.Database) else d
                 for d in databases]
        rules = acl.access_rules(names)
        client = self.client()
        self._existing(client, username, hostname)
        if rules:
            client.execute_command("ACL", "SETUSER", username, *rules)
            self._acl_save(client)

    def revoke_access(self, username, hostname, database):
        """Revoke one key namespace; a no-op when it was not granted."""
        name = database.name if isinstance(database,
                                           models.Database) else database
        acl.check_database_name(name)
        client = self.client()
        info = self._existing(client, username, hostname)
        keep = [d for d in acl.databases_of(info) if d != name]
        client.execute_command("ACL", "SETUSER", username, "resetkeys",
                               "resetchannels", *acl.access_rules(keep))
        self._acl_save(client)

    # -- backup (IBackup) ----------------------------------------------------

    def pre_create_backup(self):
        """Save an RDB snapshot, then pause client writes (reads go on)
        until :meth:`post_create_backup`, for a volume snapshot."""
        self.backup_strategy().snapshot()
        # a guest killed before post_create_backup unpauses at its next
        # start (recover_after_restart), not an hour later
        files.atomic_write(self.write_pause_mark, "", mode=0o600)
        self.client().execute_command("CLIENT", "PAUSE", 3600 * 1000,
                                      "WRITE")
        return {}

    def post_create_backup(self):
        """Let client writes through again."""
        self.client().execute_command("CLIENT", "UNPAUSE")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.write_pause_mark)
        return {}

    # -- replication (IReplication): the strategy does the work -------------

    def backup_required_for_replication(self):
        """Whether replicas are seeded from a backup (no: Redis syncs)."""
        return self.replication.backup_required()

    def get_replication_snapshot(self, snapshot_info,
                                 replica_source_config=None):
        """Prepare this server as a primary; return the replica context."""
        return self.replication.snapshot(snapshot_info)

    def attach_replica(self, replica_info, slave_config, restart=False):
        """Follow the primary in ``replica_info['master']``."""
        return self.replication.attach(replica_info)

    def detach_replica(self, for_failover=False):
        """Stop following the primary."""
        return self.replication.detach()

    def get_replica_context(self):
        """What a replica needs to follow this server."""
        return self.replication.context()

    def make_read_only(self, read_only):
        """Pause (or resume) client writes on this server."""
        return self.replication.read_only(read_only)

    def enable_as_master(self, replica_source_config):
        """Act as a primary: stop following, accept writes."""
        return self.replication.promote()

    def get_last_txn(self):
        """``(replication id, offset)`` of this server."""
        return self.replication.last_txn()

    def get_latest_txn_id(self):
        """This server's replication offset."""
        return self.replication.last_txn()[1]

    def wait_for_txn(self, txn):
        """Block until this server's offset reaches ``txn``."""
        return self.replication.wait_for_offset(txn)

    def demote_replication_master(self):
        """Stop serving replicas from this server."""
        return self.replication.demote()

    # -- TLS (ISSL) ---------------------------------------------------------

    def ssl_show(self):
        """See :class:`trove_core.capabilities.ISSL`."""
        return self.tls.show()

    def ssl_action(self, mode=None, container=None, enable=False,
                   disable=False):
        """See :class:`trove_core.capabilities.ISSL`."""
        return self.tls.action(mode=mode, container=container,
                               enable=enable, disable=disable)

    def ssl_rollback(self):
        """See :class:`trove_core.capabilities.ISSL`."""
        return self.tls.rollback()
