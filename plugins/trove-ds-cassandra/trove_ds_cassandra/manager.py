"""The Cassandra guest manager.

``prepare`` renders cassandra.yaml (and cassandra-rackdc.properties for
a multi-data-center cluster), starts the node, and replaces the superuser
every new server starts with (``cassandra``/``cassandra``) by the guest's
own ``os_admin``, whose password lives in a 0600 secret file. A node
restored from a backup carries the source's roles: it is first started
local-only without authentication to write a new ``os_admin`` password
hash, then restarted normally.

Keyspaces are the databases, roles that can log in are the users, a
second superuser is root. CQL is built by :mod:`trove_ds_cassandra.cql`.
"""

import contextlib
import logging
import os
import socket

from zope.interface import implementer

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import manager
from trove_core import models
from trove_core.status import ServiceStatus
from trove_ds_cassandra import backup as backup_mod
from trove_ds_cassandra import cluster as ring_mod
from trove_ds_cassandra import config as config_mod
from trove_ds_cassandra import cql
from trove_ds_cassandra import options as opts_mod

__all__ = ["Manager", "cluster_options"]

LOG = logging.getLogger(__name__)

# names of the guest's secret files (not secrets themselves)
_ADMIN_SECRET = "admin_password"  # noqa: S105
_ROOT_SECRET = "root_password"  # noqa: S105
# what a brand-new server accepts, by design of Cassandra
_DEFAULT_PASSWORD = "cassandra"  # noqa: S105
_ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104


def cluster_options(host, port, user=None, password=None):
    """Keyword arguments of a driver ``Cluster`` that talks to exactly
    one node.

    :param user: the role to log in as; ``None`` for a node without
        authentication.
    """
    from cassandra import cluster as cluster_mod
    from cassandra import policies

    kwargs = dict(
        contact_points=[host], port=port, connect_timeout=10,
        control_connection_timeout=10,
        execution_profiles={cluster_mod.EXEC_PROFILE_DEFAULT:
                            cluster_mod.ExecutionProfile(
                                load_balancing_policy=policies.
                                WhiteListRoundRobinPolicy([host]))})
    if user is not None:
        from cassandra.auth import PlainTextAuthProvider

        kwargs["auth_provider"] = PlainTextAuthProvider(username=user,
                                                        password=password)
    return kwargs


@implementer(caps.IDatabases, caps.IUsers, caps.IAccess, caps.IRoot,
             caps.IBackup, caps.IConfiguration, caps.ICassandraCluster)
class Manager(ring_mod.CassandraClusterMember, backup_mod.BackupOperations,
              manager.BaseDatastoreManager):
    """Guest manager of the cassandra datastore; its backup operations are
    in :mod:`.backup`.

    :param cluster_factory: builds a driver ``Cluster`` from its keyword
        arguments; defaults to ``cassandra.cluster.Cluster``.
    """

    def __init__(self, name, conf, state_dir, reporter=None,
                 cluster_factory=None):
        super().__init__(name, conf, state_dir, reporter)
        self.cluster_factory = cluster_factory
        self._runner = None

    # -- paths and settings ------------------------------------------------

    @property
    def data_dir(self):
        """The node's data_file_directories entry."""
        return self.options.data_dir or os.path.join(
            self.options.mount_point, "data")

    @property
    def rackdc_file(self):
        """cassandra-rackdc.properties, beside cassandra.yaml."""
        return os.path.join(os.path.dirname(os.path.abspath(
            self.options.config_file)), "cassandra-rackdc.properties")

    @property
    def listen_address(self):
        """The address the other nodes reach this one at: the option, the
        client address when it is a single one, else the address of the
        host name (set ``listen_address`` where that is a loopback
        alias)."""
        if self.options.listen_address:
            return self.options.listen_address
        if self.options.bind_address not in _ANY_ADDRESS:
            return self.options.bind_address
        return socket.gethostbyname(socket.gethostname())

    def _cluster_settings(self):
        return self._state.get("cluster") or {}

    def _base_path(self):
        return os.path.join(self.state_dir, "cassandra.base.yaml")

    def system_settings(self, restore=False):
        """The top-level settings the guest owns.

        :param restore: the local-only, unauthenticated start that resets
            the admin password of a restored node.
        """
        cluster = self._cluster_settings()
        mount = self.options.mount_point
        listen = "127.0.0.1" if restore else self.listen_address
        rpc = "127.0.0.1" if restore else self.options.bind_address
        own = "%s:%d" % (listen, self.options.storage_port)
        seeds = [own] if restore else (
            cluster.get("seeds") or self.options.seeds or [own])
        settings = {
            "cluster_name": cluster.get("cluster_name")
            or self.options.cluster_name,
            "num_tokens": self.options.num_tokens,
            "data_file_directories": [self.data_dir],
            "commitlog_directory": os.path.join(mount, "commitlog"),
            "saved_caches_directory": os.path.join(mount, "saved_caches"),
            "hints_directory": os.path.join(mount, "hints"),
            "cdc_raw_directory": os.path.join(mount, "cdc_raw"),
            "listen_address": listen,
            "rpc_address": rpc,
            "native_transport_port": self.options.port,
            "storage_port": self.options.storage_port,
            "seed_provider": config_mod.seed_provider(seeds),
            "endpoint_snitch": ("GossipingPropertyFileSnitch"
                                if cluster.get("dc") else "SimpleSnitch"),
            "authenticator": (config_mod.ALLOW_ALL_AUTHENTICATOR if restore
                              else config_mod.PASSWORD_AUTHENTICATOR),
            "authorizer": (config_mod.ALLOW_ALL_AUTHORIZER if restore
                           else config_mod.CASSANDRA_AUTHORIZER),
            "role_manager": "CassandraRoleManager",
        }
        if rpc in _ANY_ADDRESS:
            settings["broadcast_rpc_address"] = listen
        if "auto_bootstrap" in cluster and not restore:
            settings["auto_bootstrap"] = bool(cluster["auto_bootstrap"])
        return settings

    def render_config(self, restore=False):
        """Return cassandra.yaml from the base, the overrides and the
        system settings."""
        from trove_guest_base import files

        return config_mod.render(
            config_mod.parse_base(files.read_secret(self._base_path())),
            self._state.get("overrides") or {},
            self.system_settings(restore))

    def _write_rendered(self, restore=False):
        from trove_guest_base import files

        files.atomic_write(self.options.config_file,
                           self.render_config(restore), mode=0o644)
        cluster = self._cluster_settings()
        if cluster.get("dc"):
            files.atomic_write(self.rackdc_file, config_mod.render_rackdc(
                cluster["dc"], cluster.get("rack") or "rack1"), mode=0o644)

    def set_cluster(self, cluster_config):
        """Keep the cluster settings of ``prepare``'s ``cluster_config``:
        ``cluster_name``, ``seeds`` (addresses), ``dc`` and ``rack``.

        :raises BadRequest: an unknown key or a malformed value.
        """
        if not cluster_config:
            return
        known = {"cluster_name", "seeds", "dc", "rack", "id",
                 "instance_type"}
        unknown = sorted(set(cluster_config) - known)
        if unknown:
            raise exceptions.BadRequest(
                reason="unknown cluster_config keys %s; known: %s"
                % (unknown, sorted(known)))
        settings = {}
        name = cluster_config.get("cluster_name") or cluster_config.get("id")
        if name is not None:
            settings["cluster_name"] = models.check_name("cluster", name,
                                                         128)
        seeds = cluster_config.get("seeds") or []
        if not isinstance(seeds, (list, tuple)) or not all(
                isinstance(s, str) and s and "," not in s
                and s.isprintable() and " " not in s for s in seeds):
            raise exceptions.BadRequest(
                reason="cluster_config seeds must be a list of addresses, "
                "got %r" % (seeds,))
        settings["seeds"] = list(seeds)
        if cluster_config.get("dc"):
            config_mod.render_rackdc(cluster_config["dc"],
                                     cluster_config.get("rack") or "rack1")
            settings["dc"] = cluster_config["dc"]
            settings["rack"] = cluster_config.get("rack") or "rack1"
        self._save_state(cluster=settings)

    # -- process -----------------------------------------------------------

    @property
    def runner(self):
        """The :class:`~trove_guest_base.process.Runner` of the node."""
        if self._runner is None:
            from trove_guest_base import process

            self._runner = process.make_runner(
                self.options, self.child_argv(),
                pid_file=os.path.join(self.state_dir, "cassandra.pid"),
                log_file=os.path.join(self.state_dir,
                                      "cassandra.stdout.log"),
                env=self.child_env())
        return self._runner

    def child_argv(self):
        """The command line of a child-run node (foreground)."""
        argv = [self.options.server_binary, "-f"]
        if os.geteuid() == 0:
            argv.append("-R")
        # cassandra-env.sh sets the JMX port itself; a later -D wins
        argv += ["-Dcassandra.config=file://%s"
                 % os.path.abspath(self.options.config_file),
                 "-Dcassandra-rackdc.properties=file://%s"
                 % self.rackdc_file,
                 "-Dcassandra.jmx.local.port=%d" % self.options.jmx_port]
        return argv

    def child_env(self):
        """The environment of a child-run node (its logs go to the
        guest's state directory)."""
        env = {"JMX_PORT": str(self.options.jmx_port),
               "CASSANDRA_LOG_DIR": os.path.join(self.state_dir, "logs")}
        if self.options.max_heap_size:
            env["MAX_HEAP_SIZE"] = self.options.max_heap_size
            env["HEAP_NEWSIZE"] = "100M"
        return env

    def _native_open(self):
        from trove_guest_base import net

        return net.port_open("127.0.0.1", self.options.port)

    def do_start(self):
        """Start the node and wait until it accepts CQL connections."""
        from trove_guest_base import process

        self.runner.start(timeout=self.options.start_timeout)
        process.wait_ready(self.runner, self._native_open,
                           "cassandra (native transport on port %d)"
                           % self.options.port, self.options.start_timeout,
                           max_interval=2)

    def do_stop(self):
        """Stop the node and wait until it is gone."""
        self.runner.stop(timeout=self.options.start_timeout)

    def probe_status(self):
        """``HEALTHY`` when the node serves CQL, ``RUNNING`` while it
        starts, else ``CRASHED`` or ``SHUTDOWN``."""
        if self.runner.is_running():
            return (ServiceStatus.HEALTHY if self._native_open()
                    else ServiceStatus.RUNNING)
        if self.runner.crashed():
            return ServiceStatus.CRASHED
        return ServiceStatus.SHUTDOWN

    def write_config(self, config_contents):
        """Keep ``config_contents`` as the base configuration and render
        cassandra.yaml from it."""
        from trove_guest_base import files

        config_mod.parse_base(config_contents)
        files.atomic_write(self._base_path(), config_contents or "",
                           mode=0o600)
        self._write_rendered()

    def _prepare_dirs(self):
        mount = self.options.mount_point
        dirs = [self.data_dir] + [os.path.join(mount, d) for d in (
            "commitlog", "saved_caches", "hints", "cdc_raw")]
        for path in dirs + [os.path.dirname(os.path.abspath(
                self.options.config_file))]:
            os.makedirs(path, exist_ok=True)
        # under systemd and as a child alike the node runs as the service
        # user (trove_guest_base.process.make_runner)
        if os.geteuid() == 0:
            import shutil

            for path in [mount] + dirs:
                shutil.chown(path, self.options.service_user,
                             self.options.service_user)

    def do_prepare(self, request):
        """Render, restore when asked, start, and secure the node."""
        from trove_guest_base import files

        config_mod.parse_base(request.config_contents)
        overrides = config_mod.validate_overrides(request.overrides or {})
        self.set_cluster(request.cluster_config)
        self._prepare_dirs()
        files.atomic_write(self._base_path(), request.config_contents or "",
                           mode=0o600)
        self._save_state(overrides=overrides)
        if request.backup_info:
            self.restore_backup(request.backup_info)
            self._reset_admin()
        self._write_rendered()
        if not request.backup_info:
            # a guest killed before _secure leaves the default superuser
            self._save_state(unsecured=True)
        self.do_start()
        if not request.backup_info:
            self._secure()
            self._save_state(unsecured=False)

    # -- sessions ----------------------------------------------------------

    @contextlib.contextmanager
    def session(self, user=None, password=None):
        """A driver session on the local node.

        :param user: the role to log in as (``None``: no authentication,
            for the restore phase).
        """
        factory = self.cluster_factory
        if factory is None:
            from cassandra import cluster as cluster_mod

            factory = cluster_mod.Cluster
        cluster = factory(**cluster_options("127.0.0.1", self.options.port,
                                            user, password))
        try:
            yield cluster.connect()
        finally:
            cluster.shutdown()

    def admin_password(self):
        """The stored password of ``os_admin``.

        :raises DatastoreError: the guest has not been prepared.
        """
        password = self.load_secret(_ADMIN_SECRET)
        if not password:
            raise exceptions.DatastoreError(
                operation="connect", reason="no admin password is stored; "
                "the guest has not been prepared")
        return password

    def _admin(self):
        return self.session(opts_mod.ADMIN_USER, self.admin_password())

    def _secure(self):
        """Create ``os_admin`` as the default superuser, then drop the
        default one. The default superuser appears a moment after the
        node serves, so its first use is retried."""
        from trove_guest_base import net

        password = self.generate_password()

        def create_admin():
            with self.session(opts_mod.DEFAULT_SUPERUSER,
                              _DEFAULT_PASSWORD) as session:
                if self._role(session, opts_mod.ADMIN_USER) is None:
                    cql.execute(session, cql.create_role(
                        opts_mod.ADMIN_USER, password, superuser=True,
                        hashed=self.hashed_passwords))
                else:
                    cql.execute(session, cql.alter_password(
                        opts_mod.ADMIN_USER, password,
                        hashed=self.hashed_passwords))
            return True
        net.wait_until(create_admin, self.options.start_timeout,
                       "the default superuser of cassandra", interval=1,
                       max_interval=5)
        self.store_secret(_ADMIN_SECRET, password)
        with self._admin() as session:
            cql.execute(session, cql.drop_role(opts_mod.DEFAULT_SUPERUSER))

    def _reset_admin(self):
        """Give the restored node a new ``os_admin`` password: start it
        local-only without authentication and write the hash."""
        from trove_guest_base import net

        password = self.generate_password()
        salted = cql.hash_password(opts_mod.ADMIN_USER, password)
        self._write_rendered(restore=True)
        # a guest killed in this phase leaves a node without
        # authentication, which its successor must stop
        self._save_state(unsecured=True)
        try:
            self.do_start()

            def reset():
                with self.session() as session:
                    cql.execute(session, cql.reset_superuser(
                        opts_mod.ADMIN_USER, salted))
                return True
            net.wait_until(reset, self.options.start_timeout,
                           "the restored node to take statements",
                           interval=1, max_interval=5)
            self._nodetool("flush", "system_auth")
        except BaseException:
            # never leave the unauthenticated node running
            with contextlib.suppress(Exception):
                self.do_stop()
                self._save_state(unsecured=False)
            raise
        self.do_stop()
        self._save_state(unsecured=False)
        self.store_secret(_ADMIN_SECRET, password)

    def recover_after_restart(self):
        """Stop a node a killed guest left in an unsecured phase of
        prepare (no authentication, or the default superuser), then
        settle interrupted backups."""
        if self._state.get("unsecured"):
            LOG.warning("a Cassandra node left unsecured by a killed "
                        "prepare is running; stopping it")
            self.do_stop()
            self._save_state(unsecured=False)
        return super().recover_after_restart()

    def _nodetool(self, *args):
        return backup_mod.NodetoolSnapshot(self).nodetool(*args)

    # -- roles -------------------------------------------------------------

    @property
    def hashed_passwords(self):
        """Whether passwords go to the server as bcrypt hashes (``WITH
        HASHED PASSWORD``): when every engine version the descriptor
        declares takes them (Cassandra 4.1+), so no plaintext reaches
        its audit or full query log."""
        from trove_ds_cassandra import plugin

        return cql.takes_hashed_passwords(plugin.DESCRIPTOR.engine_versions)

    @staticmethod
    def _role(session, name):
        for row in cql.execute(session, cql.list_roles()):
            if row.role == name:
                return row
        return None

    def _users(self, session):
        access = {}
        for row in cql.execute(session, cql.list_permissions()):
            if row.permissions:
                access.setdefault(row.role, set()).add(row.resource)
        ignored_dbs = set(self.options.ignore_dbs)
        users = {}
        for row in cql.execute(session, cql.list_roles()):
            if not row.can_login or row.is_superuser:
                continue
            if row.role in self.options.ignore_users:
                continue
            dbs = [models.Database(ks) for ks in cql.keyspaces_of(
                access.get(row.role, ())) if ks not in ignored_dbs]
            users[row.role] = models.User(name=row.role,
                                          databases=tuple(dbs))
        return users

    def _check_user(self, name):
        cql.validate_role(name)
        if name in self.options.ignore_users or name in (
                opts_mod.DEFAULT_SUPERUSER, opts_mod.ROOT_USER):
            raise exceptions.BadRequest(
                reason="user %r is reserved by the system" % name)
        return name

    def _check_keyspace(self, name):
        cql.validate_keyspace(name)
        if name in self.options.ignore_dbs:
            raise exceptions.BadRequest(
                reason="keyspace %r is reserved by the system" % name)
        return name

    def _existing(self, session, name):
        user = self._users(session).get(name)
        if user is None:
            raise exceptions.NotFound(kind="user", name=name)
        return user

    # -- databases (IDatabases) ------------------------------------------

    def create_database(self, databases):
        """Create each keyspace with the configured replication."""
        replication = cql.validate_replication(
            dict(self.options.keyspace_replication))
        built = [cql.create_keyspace(self._check_keyspace(db.name),
                                     replication) for db in databases]
        with self._admin() as session:
            for statement in built:
                cql.execute(session, statement)

    def list_databases(self, limit=None, marker=None, include_marker=False):
        """Return ``(keyspaces, next_marker)``; system ones hidden."""
        with self._admin() as session:
            rows = list(cql.execute(session, cql.list_keyspaces()))
        dbs = [models.Database(r.keyspace_name) for r in rows
               if r.keyspace_name not in self.options.ignore_dbs]
        return models.paginate(dbs, limit, marker, include_marker)

    def delete_database(self, database):
        """Drop one keyspace."""
        built = cql.drop_keyspace(self._check_keyspace(database.name))
        with self._admin() as session:
            cql.execute(session, built)

    # -- users (IUsers, IAccess) -------------------------------------------

    def _check_keyspaces_exist(self, session, names):
        existing = {r.keyspace_name
                    for r in cql.execute(session, cql.list_keyspaces())}
        missing = sorted(set(names) - existing)
        if missing:
            raise exceptions.BadRequest(
                reason="keyspaces %s do not exist; create them first "
                "(create_database)" % missing)

    def create_user(self, users):
        """Create each role (login, not superuser) and grant its
        keyspaces: all of them, or none.

        Every name, password and keyspace (it must exist) is checked
        before the first statement; when a statement fails, the roles
        this call created are dropped again.
        """
        hashed = self.hashed_passwords
        plans, names, keyspaces = [], set(), set()
        for user in users:
            self._check_user(user.name)
            if user.name in names:
                raise exceptions.BadRequest(
                    reason="user %r is given twice" % user.name)
            names.add(user.name)
            statements = [cql.create_role(user.name, user.password,
                                          hashed=hashed)]
            for db in user.databases:
                keyspaces.add(self._check_keyspace(db.name))
                statements += cql.grant_keyspace(user.name, db.name)
            plans.append((user.name, statements))
        with self._admin() as session:
            for name, _statements in plans:
                if self._role(session, name) is not None:
                    raise exceptions.BadRequest(
                        reason="user %r already exists" % name)
            self._check_keyspaces_exist(session, keyspaces)
            created = []
            try:
                for name, statements in plans:
                    cql.execute(session, statements[0])
                    created.append(name)
                    for statement in statements[1:]:
                        cql.execute(session, statement)
            except Exception:
                LOG.warning("create_user failed; dropping the %d role(s) "
                            "it created", len(created))
                for name in reversed(created):
                    with contextlib.suppress(Exception):
                        cql.execute(session, cql.drop_role(name))
                raise
            for name in created:
                LOG.info("created Cassandra role %r", name)

    def get_user(self, username, hostname=None):
        """Return the :class:`~trove_core.models.User` or ``None``."""
        cql.validate_role(username)
        with self._admin() as session:
            return self._users(session).get(username)

    def list_users(self, limit=None, marker=None, include_marker=False):
        """Return ``(users, next_marker)``; superusers and system roles
        hidden."""
        with self._admin() as session:
            users = list(self._users(session).values())
        return models.paginate(users, limit, marker, include_marker)

    def delete_user(self, user):
        """Drop one role."""
        built = cql.drop_role(self._check_user(user.name))
        with self._admin() as session:
            self._existing(session, user.name)
            cql.execute(session, built)

    def change_passwords(self, users):
        """Set the password of each user given."""
        hashed = self.hashed_passwords
        built = [(u.name, cql.alter_password(self._check_user(u.name),
                                             u.password, hashed=hashed))
                 for u in users]
        with self._admin() as session:
            for name, statement in built:
                self._existing(session, name)
                cql.execute(session, statement)

    def update_attributes(self, username, hostname, user_attrs):
        """Rename a role (a new role with the same keyspaces, and the
        same password unless one is given) or change its password.
        Cassandra roles have no host."""
        self._check_user(username)
        attrs = dict(user_attrs or {})
        new_name, password = attrs.get("name"), attrs.get("password")
        if attrs.get("host") not in (None, "%", hostname):
            raise exceptions.BadRequest(
                reason="Cassandra roles have no host; cannot set %r"
                % attrs["host"])
        renamed = bool(new_name) and new_name != username
        if renamed:
            self._check_user(new_name)
        # built (checked, hashed) before anything is sent
        built = None
        if password and renamed:
            built = cql.create_role(new_name, password,
                                    hashed=self.hashed_passwords)
        elif password:
            built = cql.alter_password(username, password,
                                       hashed=self.hashed_passwords)
        with self._admin() as session:
            user = self._existing(session, username)
            if not renamed:
                if built:
                    cql.execute(session, built)
                return
            if self._role(session, new_name) is not None:
                raise exceptions.BadRequest(
                    reason="user %r already exists" % new_name)
            if built is None:
                row = cql.execute(session, cql.role_hash(username)).one()
                built = cql.create_role_hashed(new_name, row.salted_hash)
            cql.execute(session, built)
            try:
                for db in user.databases:
                    for statement in cql.grant_keyspace(new_name, db.name):
                        cql.execute(session, statement)
            except Exception:
                LOG.warning("renaming %r failed; dropping %r again",
                            username, new_name)
                with contextlib.suppress(Exception):
                    cql.execute(session, cql.drop_role(new_name))
                raise
            cql.execute(session, cql.drop_role(username))

    def list_access(self, username, hostname=None):
        """The keyspaces the role holds permissions on."""
        self._check_user(username)
        with self._admin() as session:
            return list(self._existing(session, username).databases)

    def grant_access(self, username, hostname, databases):
        """Grant use of each keyspace (every permission but AUTHORIZE):
        all of them, or none.

        Every keyspace is checked (name, reserved, exists) before the
        first grant; when a grant fails, the keyspaces this call granted
        are revoked again.
        """
        self._check_user(username)
        names = list(dict.fromkeys(self._check_keyspace(n)
                                   for n in databases))
        built = [(n, cql.grant_keyspace(username, n)) for n in names]
        with self._admin() as session:
            held = {db.name for db in
                    self._existing(session, username).databases}
            self._check_keyspaces_exist(session, names)
            granted = []
            try:
                for name, statements in built:
                    if name not in held:
                        granted.append(name)
                    for statement in statements:
                        cql.execute(session, statement)
            except Exception:
                LOG.warning("grant_access failed; revoking the %d "
                            "keyspace(s) it granted", len(granted))
                for name in reversed(granted):
                    with contextlib.suppress(Exception):
                        cql.execute(session,
                                    cql.revoke_keyspace(username, name))
                raise

    def revoke_access(self, username, hostname, database):
        """Revoke every permission on one keyspace."""
        self._check_user(username)
        built = cql.revoke_keyspace(username, self._check_keyspace(database))
        with self._admin() as session:
            self._existing(session, username)
            cql.execute(session, built)

    # -- root (IRoot) ------------------------------------------------------

    def enable_root(self):
        """Enable the ``cassandra`` superuser with a generated
        password."""
        return self.enable_root_with_password(None)

    def enable_root_with_password(self, root_password=None):
        """Create (or reset the password of) the ``cassandra``
        superuser."""
        password = root_password or self.generate_password()
        with self._admin() as session:
            if self._role(session, opts_mod.ROOT_USER) is None:
                cql.execute(session, cql.create_role(
                    opts_mod.ROOT_USER, password, superuser=True,
                    hashed=self.hashed_passwords))
            else:
                cql.execute(session, cql.alter_password(
                    opts_mod.ROOT_USER, password,
                    hashed=self.hashed_passwords))
        self.store_secret(_ROOT_SECRET, password)
        return models.User(name=opts_mod.ROOT_USER, password=password,
                           is_root=True)

    def disable_root(self):
        """Drop the ``cassandra`` superuser."""
        with self._admin() as session:
            cql.execute(session, cql.drop_role(opts_mod.ROOT_USER))
        self.store_secret(_ROOT_SECRET, "")

    def is_root_enabled(self):
        """Whether a superuser besides ``os_admin`` exists."""
        with self._admin() as session:
            rows = list(cql.execute(session, cql.list_roles()))
        return any(r.is_superuser and r.role != opts_mod.ADMIN_USER
                   for r in rows)

    def get_root_password(self):
        """The password last set by ``enable_root``, or ``None``."""
        return self.load_secret(_ROOT_SECRET) or None

    # -- configuration (IConfiguration) ----------------------------------

    def update_overrides(self, overrides, remove=False):
        """Keep ``overrides`` (replacing the previous set), or drop them
        all with ``remove``, and render cassandra.yaml for the next
        start."""
        typed = {} if remove else config_mod.validate_overrides(
            overrides or {})
        self._save_state(overrides=typed)
        self._write_rendered()

    def apply_overrides(self, overrides):
        """Apply the dynamic overrides with nodetool; return the names
        that wait for a restart."""
        typed = config_mod.validate_overrides(overrides or {})
        live, restart = config_mod.dynamic_changes(typed)
        for args in live:
            self._nodetool(*args)
        return restart
