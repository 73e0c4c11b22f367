"""The MongoDB guest manager.

``prepare`` runs mongod twice: first bound to 127.0.0.1 without
authorization (the *bootstrap* phase, where a backup is restored and the
admin account ``admin.os_admin`` is created or reset), then with the
final configuration, authorization on. The admin password lives in a
0600 secret file of the guest, never in the configuration.

mongod is supervised by :class:`~trove_guest_base.process.SystemdRunner`
or, with ``runner = child``, :class:`~trove_guest_base.process.ChildRunner`.
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
from trove_ds_mongodb import admin as admin_mod
from trove_ds_mongodb import backup as backup_mod
from trove_ds_mongodb import cluster as cluster_mod
from trove_ds_mongodb import config as config_mod
from trove_ds_mongodb import options as opts_mod
from trove_ds_mongodb import replication as replication_mod

__all__ = ["Manager"]

LOG = logging.getLogger(__name__)

_ADMIN_DB, _ADMIN_NAME = admin_mod.split_user(opts_mod.ADMIN_USER)
_ROOT_ROLES = [{"role": "root", "db": "admin"}]
_ADMIN_SECRET = admin_mod.ADMIN_SECRET
_ROOT_SECRET = admin_mod.ROOT_SECRET
# a mongod listening on every interface is configured, not opened, here
_ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104


@implementer(caps.IDatabases, caps.IUsers, caps.IAccess, caps.IRoot,
             caps.IBackup, caps.IConfiguration, caps.IReplication,
             caps.IMongoDBCluster)
class Manager(cluster_mod.MongoClusterMember, backup_mod.BackupOperations,
              replication_mod.ReplicationOperations,
              manager.BaseDatastoreManager):
    """Guest manager of the mongodb datastore; its backup and replication
    operations are in :mod:`.backup` and :mod:`.replication`.

    :param client_factory: builds the driver client from
        ``pymongo.MongoClient`` keyword arguments; tests pass another
        compatible factory.
    """

    def __init__(self, name, conf, state_dir, reporter=None,
                 client_factory=None):
        super().__init__(name, conf, state_dir, reporter)
        self.client_factory = client_factory
        self._runner = None

    # -- paths and settings ------------------------------------------------

    @property
    def data_dir(self):
        """mongod's ``storage.dbPath``."""
        return self.options.data_dir or self.options.mount_point

    @property
    def key_file(self):
        """Where the replica set key is written for mongod."""
        return os.path.join(os.path.dirname(
            os.path.abspath(self.options.config_file)), "mongod.keyfile")

    @property
    def replica_set_name(self):
        """The replica set this server belongs to, or ``None``."""
        return self._state.get("replica_set") or self.options.replica_set_name

    @property
    def host(self):
        """``address:port`` other members reach this server at."""
        address = self.options.bind_address
        if not address or address in _ANY_ADDRESS:
            address = socket.gethostbyname(socket.gethostname())
        return "%s:%d" % (address, self.options.port)

    def _base_path(self):
        return os.path.join(self.state_dir, "mongod.base.yaml")

    def system_settings(self, bootstrap=False):
        """The settings the guest owns, as dotted names.

        :param bootstrap: the first phase of ``prepare``: local only, no
            authorization, no replica set.
        """
        bind = self.options.bind_address
        if bootstrap:
            bind_ip = "127.0.0.1"
        elif bind in _ANY_ADDRESS:
            bind_ip = bind
        else:
            bind_ip = ",".join(dict.fromkeys(["127.0.0.1", bind]))
        replica_set = None if bootstrap else self.replica_set_name
        cluster = {} if bootstrap else self.cluster_settings()
        return {
            **cluster,
            "net.port": self.options.port,
            "net.bindIp": bind_ip,
            "net.ipv6": True if ":" in bind_ip else None,
            "storage.dbPath": self.data_dir,
            "systemLog.destination": "file",
            "systemLog.path": self.options.log_file,
            "systemLog.logAppend": True,
            "processManagement.fork": False,
            "security.authorization": ("disabled" if bootstrap
                                       else "enabled"),
            "replication.replSetName": replica_set,
            "security.keyFile": self.key_file if replica_set else None,
        }

    def render_config(self, bootstrap=False):
        """Return mongod.conf from the base, the overrides and the
        system settings."""
        from trove_guest_base import files

        if self.cluster_role == "query_router":
            return config_mod.render({}, {}, self.mongos_settings())
        base_text = files.read_secret(self._base_path())
        return config_mod.render(config_mod.parse_base(base_text),
                                 self._state.get("overrides") or {},
                                 self.system_settings(bootstrap))

    def _write_rendered(self, bootstrap=False):
        from trove_guest_base import files

        files.atomic_write(self.options.config_file,
                           self.render_config(bootstrap), mode=0o644)

    # -- process -----------------------------------------------------------

    @property
    def runner(self):
        """The :class:`~trove_guest_base.process.Runner` of mongod."""
        if self._runner is None:
            from trove_guest_base import process

            argv = ([self.options.server_binary, "--config",
                     self.options.config_file]
                    if self.cluster_role != "query_router"
                    else self.mongos_argv())
            self._runner = process.make_runner(
                self.options, argv,
                pid_file=os.path.join(self.state_dir, "mongod.pid"),
                log_file=os.path.join(self.state_dir, "mongod.stdout.log"))
        return self._runner

    def _hello(self):
        with contextlib.closing(self._client(authenticated=False)) as c:
            return bool(c.admin.command("hello").get("ok"))

    def do_start(self):
        """Start mongod and wait until it answers."""
        from trove_guest_base import process

        self.runner.start(timeout=self.options.start_timeout)
        process.wait_ready(self.runner, self._hello,
                           "mongod on port %d" % self.options.port,
                           self.options.start_timeout,
                           log_file=[self.options.log_file,
                                     getattr(self.runner, "log_file", None)])

    def do_stop(self):
        """Stop mongod and wait until it is gone."""
        self.runner.stop(timeout=self.options.start_timeout)

    def _restart_with_config(self):
        """Stop mongod, render mongod.conf and start it again."""
        self.do_stop()
        self._write_rendered()
        self.do_start()

    def probe_status(self):
        """``HEALTHY`` when mongod answers, ``RUNNING`` when its process
        is up but silent, else ``CRASHED`` or ``SHUTDOWN``."""
        if self.cluster_role == "query_router" and not self._state.get(
                "config_db"):
            # mongos waits for add_config_servers
            return ServiceStatus.INSTANCE_READY
        if self.runner.is_running():
            try:
                return (ServiceStatus.HEALTHY if self._hello()
                        else ServiceStatus.RUNNING)
            except Exception as exc:  # the driver raises many kinds
                LOG.debug("mongod does not answer: %s", exc)
                return ServiceStatus.RUNNING
        if self.runner.crashed():
            return ServiceStatus.CRASHED
        return ServiceStatus.SHUTDOWN

    def write_config(self, config_contents):
        """Keep ``config_contents`` (YAML) as the base configuration and
        render mongod.conf from it."""
        from trove_guest_base import files

        config_mod.parse_base(config_contents)
        files.atomic_write(self._base_path(), config_contents or "",
                           mode=0o600)
        self._write_rendered()

    def _prepare_dirs(self):
        for path in (self.data_dir,
                     os.path.dirname(self.options.log_file),
                     os.path.dirname(os.path.abspath(
                         self.options.config_file))):
            os.makedirs(path, exist_ok=True)
        # under systemd and as a child alike the server runs as the
        # service user (trove_guest_base.process.make_runner)
        if os.geteuid() == 0:
            import shutil

            for path in (self.data_dir,
                         os.path.dirname(self.options.log_file)):
                shutil.chown(path, self.options.service_user,
                             self.options.service_user)

    def do_prepare(self, request):
        """Render, start for bootstrap, restore, secure, restart."""
        from trove_guest_base import files

        self._prepare_dirs()
        config_mod.parse_base(request.config_contents)
        files.atomic_write(self._base_path(),
                           request.config_contents or "", mode=0o600)
        overrides = config_mod.validate_overrides(request.overrides or {})
        self._save_state(overrides=overrides)
        if request.cluster_config:
            self.prepare_cluster(request.cluster_config)
            if self.cluster_role == "query_router":
                return  # mongos starts with add_config_servers
        self._write_rendered(bootstrap=True)
        # noted first: a guest killed in this phase leaves a server
        # without authorization, which its successor must stop
        self._save_state(unsecured=True)
        self.do_start()
        try:
            if request.backup_info:
                self.restore_backup(request.backup_info)
            password = self.generate_password()
            with self._admin(authenticated=False) as adm:
                if adm.find_user(opts_mod.ADMIN_USER):
                    adm.update_user(opts_mod.ADMIN_USER, password,
                                    _ROOT_ROLES)
                else:
                    adm.create_user(opts_mod.ADMIN_USER, password,
                                    _ROOT_ROLES)
            self.store_secret(_ADMIN_SECRET, password)
        except BaseException:
            # never leave the unauthenticated bootstrap server running
            with contextlib.suppress(Exception):
                self.do_stop()
                self._save_state(unsecured=False)
            raise
        self._restart_with_config()
        self._save_state(unsecured=False)
        if request.snapshot:
            self.attach_replica(request.snapshot, None)

    def recover_after_restart(self):
        """Stop a mongod a killed guest left in prepare's bootstrap phase
        (no authorization), then settle interrupted backups."""
        if self._state.get("unsecured"):
            LOG.warning("a mongod without authorization was left by a "
                        "killed prepare; stopping it")
            self.do_stop()
            self._save_state(unsecured=False)
        return super().recover_after_restart()

    # -- clients -----------------------------------------------------------

    def admin_credentials(self):
        """``(user, password)`` of the guest's admin account.

        :raises DatastoreError: the guest has no admin password yet.
        """
        password = self.load_secret(_ADMIN_SECRET)
        if not password:
            raise exceptions.DatastoreError(
                operation="connect", reason="no admin password is stored; "
                "the guest has not been prepared")
        return _ADMIN_NAME, password

    def _client(self, authenticated=True, host="127.0.0.1", port=None,
                credentials=None):
        kwargs = dict(host=host, port=port or self.options.port,
                      directConnection=True, serverSelectionTimeoutMS=5000,
                      connectTimeoutMS=5000)
        if authenticated:
            user, password = credentials or self.admin_credentials()
            kwargs.update(username=user, password=password,
                          authSource=_ADMIN_DB)
        factory = self.client_factory
        if factory is None:
            import pymongo

            factory = pymongo.MongoClient
        return factory(**kwargs)

    @contextlib.contextmanager
    def _admin(self, authenticated=True):
        client = self._client(authenticated)
        try:
            yield admin_mod.MongoAdmin(client)
        finally:
            client.close()

    # -- databases (IDatabases) ------------------------------------------

    def _check_database(self, name):
        admin_mod.validate_database(name)
        if name in self.options.ignore_dbs:
            raise exceptions.BadRequest(
                reason="database %r is reserved by the system" % name)
        return name

    def create_database(self, databases):
        """Create each database (writes its marker collection)."""
        names = [self._check_database(db.name) for db in databases]
        with self._admin() as adm:
            for name in names:
                adm.create_database(name)

    def list_databases(self, limit=None, marker=None, include_marker=False):
        """Return ``(databases, next_marker)``; system ones hidden."""
        with self._admin() as adm:
            names = adm.database_names()
        dbs = [models.Database(n) for n in names
               if n not in self.options.ignore_dbs]
        return models.paginate(dbs, limit, marker, include_marker)

    def delete_database(self, database):
        """Drop one database."""
        name = self._check_database(database.name)
        with self._admin() as adm:
            adm.drop_database(name)

    # -- users (IUsers, IAccess) -------------------------------------------

    def _ignored_user(self, name):
        return any(admin_mod.same_user(name, ignored)
                   for ignored in self.options.ignore_users)

    def _check_user(self, name):
        admin_mod.split_user(name)
        if self._ignored_user(name):
            raise exceptions.BadRequest(
                reason="user %r is reserved by the system" % name)
        return name

    @staticmethod
    def _as_user(record):
        name = admin_mod.user_name(record["db"], record["user"])
        return models.User(name=name, databases=tuple(
            models.Database(db) for db in admin_mod.databases_of(
                record.get("roles", ()))))

    def _record(self, adm, name):
        record = adm.find_user(name)
        if record is None:
            raise exceptions.NotFound(kind="user", name=name)
        return record

    def create_user(self, users):
        """Create each user with ``readWrite`` on its databases: all of
        them, or none.

        Every name, password and database is checked before the first
        command; a user's roles go in its one ``createUser`` (the server
        applies them together); when the server refuses a user, the
        users this call created are dropped again.
        """
        plans, names = [], set()
        for user in users:
            self._check_user(user.name)
            key = admin_mod.split_user(user.name)
            if key in names:
                raise exceptions.BadRequest(
                    reason="user %r is given twice" % user.name)
            names.add(key)
            admin_mod.check_password(user.name, user.password)
            roles = admin_mod.access_roles(
                self._check_database(db.name) for db in user.databases)
            plans.append((user, roles))
        with self._admin() as adm:
            for user, _roles in plans:
                if adm.find_user(user.name) is not None:
                    raise exceptions.BadRequest(
                        reason="user %r already exists" % user.name)
            created = []
            try:
                for user, roles in plans:
                    adm.create_user(user.name, user.password, roles)
                    created.append(user.name)
            except Exception:
                LOG.warning("create_user failed; dropping the %d user(s) "
                            "it created", len(created))
                for name in reversed(created):
                    with contextlib.suppress(Exception):
                        adm.drop_user(name)
                raise

    def get_user(self, username, hostname=None):
        """Return the :class:`~trove_core.models.User` or ``None``."""
        admin_mod.split_user(username)
        if self._ignored_user(username):
            return None
        with self._admin() as adm:
            record = adm.find_user(username)
        return self._as_user(record) if record else None

    def list_users(self, limit=None, marker=None, include_marker=False):
        """Return ``(users, next_marker)``; system users hidden."""
        with self._admin() as adm:
            records = adm.users()
        users = [self._as_user(r) for r in records]
        users = [u for u in users if not self._ignored_user(u.name)]
        return models.paginate(users, limit, marker, include_marker)

    def delete_user(self, user):
        """Drop one user."""
        self._check_user(user.name)
        with self._admin() as adm:
            self._record(adm, user.name)
            adm.drop_user(user.name)

    def change_passwords(self, users):
        """Set the password of each user given."""
        for user in users:
            self._check_user(user.name)
            admin_mod.check_password(user.name, user.password)
        with self._admin() as adm:
            for user in users:
                self._record(adm, user.name)
                adm.update_user(user.name, password=user.password)

    def update_attributes(self, username, hostname, user_attrs):
        """Rename a user (a new account with the same roles, and the
        same password unless one is given) or change its password.
        MongoDB users have no host."""
        self._check_user(username)
        attrs = dict(user_attrs or {})
        new_name = attrs.get("name")
        password = attrs.get("password")
        if attrs.get("host") not in (None, "%", hostname):
            raise exceptions.BadRequest(
                reason="MongoDB users have no host; cannot set %r"
                % attrs["host"])
        if password:
            admin_mod.check_password(new_name or username, password)
        if new_name:
            self._check_user(new_name)
        with self._admin() as adm:
            record = self._record(adm, username)
            if new_name and not admin_mod.same_user(new_name, username):
                self._check_user(new_name)
                if adm.find_user(new_name) is not None:
                    raise exceptions.BadRequest(
                        reason="user %r already exists" % new_name)
                if password:
                    adm.create_user(new_name, password,
                                    record.get("roles", []))
                else:
                    adm.copy_user(username, new_name)
                adm.drop_user(username)
            elif password:
                adm.update_user(username, password=password)

    def list_access(self, username, hostname=None):
        """The databases the user has ``readWrite`` on."""
        self._check_user(username)
        with self._admin() as adm:
            record = self._record(adm, username)
        return [models.Database(n)
                for n in admin_mod.databases_of(record.get("roles", ()))]

    def grant_access(self, username, hostname, databases):
        """Grant ``readWrite`` on each database name."""
        self._check_user(username)
        roles = admin_mod.access_roles(
            self._check_database(n) for n in databases)
        with self._admin() as adm:
            self._record(adm, username)
            adm.grant(username, roles)

    def revoke_access(self, username, hostname, database):
        """Revoke ``readWrite`` on one database."""
        self._check_user(username)
        roles = admin_mod.access_roles([self._check_database(database)])
        with self._admin() as adm:
            self._record(adm, username)
            adm.revoke(username, roles)

    # -- root (IRoot) ------------------------------------------------------

    def enable_root(self):
        """Enable ``admin.root`` with a generated password."""
        return self.enable_root_with_password(None)

    def enable_root_with_password(self, root_password=None):
        """Create (or reset) ``admin.root`` with the ``root`` role."""
        password = root_password or self.generate_password()
        with self._admin() as adm:
            if adm.find_user(opts_mod.ROOT_USER) is None:
                adm.create_user(opts_mod.ROOT_USER, password, _ROOT_ROLES)
            else:
                adm.update_user(opts_mod.ROOT_USER, password, _ROOT_ROLES)
        self.store_secret(_ROOT_SECRET, password)
        return models.User(name=opts_mod.ROOT_USER, password=password,
                           is_root=True)

    def disable_root(self):
        """Drop ``admin.root``."""
        with self._admin() as adm:
            if adm.find_user(opts_mod.ROOT_USER) is not None:
                adm.drop_user(opts_mod.ROOT_USER)
        self.store_secret(_ROOT_SECRET, "")

    def is_root_enabled(self):
        """Whether an account besides the guest's admin has ``root``."""
        with self._admin() as adm:
            records = adm.users()
        return any(
            not admin_mod.same_user(admin_mod.user_name(r["db"], r["user"]),
                                    opts_mod.ADMIN_USER)
            and any(role.get("role") == "root"
                    for role in r.get("roles", ()))
            for r in records)

    def get_root_password(self):
        """The password last set by ``enable_root``, or ``None``."""
        return self.load_secret(_ROOT_SECRET) or None

    # -- configuration (IConfiguration) ----------------------------------

    def update_overrides(self, overrides, remove=False):
        """Keep ``overrides`` (replacing the previous set), or drop them
        all with ``remove``, and render mongod.conf for the next start."""
        typed = {} if remove else config_mod.validate_overrides(
            overrides or {})
        self._save_state(overrides=typed)
        self._write_rendered()

    def apply_overrides(self, overrides):
        """Apply the dynamic overrides now; return the names that wait
        for a restart."""
        typed = config_mod.validate_overrides(overrides or {})
        live, restart = config_mod.dynamic_changes(typed)
        with self._admin() as adm:
            adm.set_parameters(live)
        return restart
