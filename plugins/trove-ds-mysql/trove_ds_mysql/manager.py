"""The MySQL/MariaDB guest manager.

It composes the plugin's parts: :class:`~trove_ds_mysql.service.MySQLServer`
(files and process), :class:`~trove_ds_mysql.admin.MySQLAdmin` (databases,
users, access, root), the parameter schema
(:mod:`trove_ds_mysql.configuration`), backup and replication strategies
loaded from their entry-point groups, and the guest logs.

``prepare`` (see :meth:`Manager.do_prepare`)::

    data dir  <- restore physical backup | mariadb-install-db
    maintenance mode (no grants, no network): secure, admin account
    [logical backup: start, restore, stop, secure again]
    start, wait until the admin account connects
    [snapshot: attach as a replica]

A failure stops whatever was started and leaves the status ``failed``.
"""

import logging
import os

from zope.interface import implementer

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import manager
from trove_core import models
from trove_core.status import ServiceStatus
from trove_guest_base import backup as backup_base
from trove_guest_base import files

from trove_ds_mysql import admin as admin_mod
from trove_ds_mysql import backup as backup_mod
from trove_ds_mysql import configuration
from trove_ds_mysql import galera
from trove_ds_mysql import guestlog
from trove_ds_mysql import service

__all__ = ["Manager"]

LOG = logging.getLogger(__name__)

ADMIN_SECRET = "admin_password"  # noqa: S105 - a secret file name
ROOT_SECRET = "root_password"  # noqa: S105 - a secret file name


def _database(item):
    if isinstance(item, models.Database):
        return item
    return models.Database.from_trove(item)


def _user(item):
    if isinstance(item, models.User):
        return item
    return models.User.from_trove(item)


@implementer(caps.ILifecycle, caps.IDatabases, caps.IUsers, caps.IAccess,
             caps.IRoot, caps.IBackup, caps.IReplication,
             caps.IConfiguration, caps.IGuestLogs, caps.IGaleraCluster)
class Manager(galera.GaleraMember, backup_base.BackupOperations,
              manager.BaseDatastoreManager):
    """Guest manager of the mysql datastore (MariaDB 10.6+); a Galera
    member when prepared with a ``cluster_config`` (see
    :mod:`trove_ds_mysql.galera`)."""

    backup_type_aliases = backup_mod.TROVE_TYPES

    def __init__(self, name, conf, state_dir, reporter=None):
        super().__init__(name, conf, state_dir, reporter)
        self.server = service.MySQLServer(self.options, self.state_dir,
                                          self.secret_path)
        self.admin = admin_mod.MySQLAdmin(self.server, self.options)
        self.schema = configuration.load_schema()
        self.logs = guestlog.GuestLogs(self)
        self._replication = None
        self._read_lock = None
        self.server.cluster = self.galera_installed

    # -- state helpers ------------------------------------------------------

    def remember(self, **changes):
        """Persist facts in the guest's state file."""
        self._save_state(**changes)

    def recall(self, key, default=None):
        """Read a fact persisted with :meth:`remember`."""
        value = self._state.get(key)
        return default if value is None else value

    def restored_gtid(self):
        """The GTID position of the physical backup this server was
        prepared from, if any."""
        return self._state.get("restored_gtid")

    def tool_config(self, with_server=False):
        """The 0600 option file command-line tools log in with."""
        return self.server.tool_config(self.options.admin_user,
                                       self.load_secret(ADMIN_SECRET),
                                       with_server=with_server)

    def scratch_dir(self):
        """Scratch space for physical backups and restores."""
        return self.options.backup_tmp_dir or os.path.join(
            self.options.mount_point, "restore")

    @property
    def replication(self):
        """The configured replication strategy."""
        if self._replication is None:
            self._replication = backup_base.load_strategy(
                self, "replication")
        return self._replication

    # -- configuration files ------------------------------------------------

    def _base_config_path(self):
        return os.path.join(self.state_dir, "config", "base.cnf")

    def _render(self):
        try:
            with open(self._base_config_path(), encoding="utf-8") as handle:
                base = handle.read()
        except FileNotFoundError:
            base = None
        overrides = dict(self.recall("overrides", {}))
        overrides.update(self.log_overrides())
        self.server.write_config(self.server.render_config(
            base, overrides, self.recall("memory_mb"),
            cluster=self.cluster_section()))

    def write_config(self, config_contents):
        """Keep ``config_contents`` as the base configuration and render
        ``my.cnf`` from it (used on the next start)."""
        files.atomic_write(self._base_config_path(), config_contents or "",
                           mode=0o600)
        self._render()

    def log_overrides(self):
        """The overrides the guest-log actions set."""
        return dict(self.recall("log_overrides", {}))

    def set_log_overrides(self, values):
        """Persist and apply overrides switching a guest log."""
        checked = self.schema.validate(values)
        current = self.log_overrides()
        current.update(checked)
        self.remember(log_overrides=current)
        self._render()
        if self.server.runner.is_running():
            self._set_global(checked)

    # -- lifecycle ----------------------------------------------------------

    def do_prepare(self, request):
        """Initialize, secure and start the server; see the module doc.

        :raises DatastoreError: a step failed; nothing is left running.
        """
        overrides = self.schema.validate(request.overrides or {})
        self.remember(memory_mb=request.memory_mb, overrides=overrides)
        files.atomic_write(self._base_config_path(),
                           request.config_contents or "", mode=0o600)
        self.server.prepare_dirs()
        self._render()
        password = self.load_secret(ADMIN_SECRET)
        if not password:
            password = self.generate_password()
            self.store_secret(ADMIN_SECRET, password)
        backup_info = request.backup_info
        if not backup_info and request.snapshot:
            dataset = request.snapshot.get("dataset", {})
            backup_info = {"id": dataset.get("snapshot_id"),
                           "location": dataset.get("location"),
                           "checksum": dataset.get("checksum"),
                           "type": dataset.get("type", "mariabackup")}
        try:
            self._init_data(backup_info, password)
            self.server.start()
            if request.snapshot:
                self.replication.attach(request.snapshot,
                                        request.snapshot.get("config"))
        except BaseException:
            LOG.error("prepare failed; stopping the server it started")
            self._stop_quietly()
            raise

    def _stop_quietly(self):
        try:
            self.server.stop()
        except Exception as exc:  # report the prepare error, not this one
            LOG.warning("could not stop the server after a failed "
                        "prepare: %s", exc)

    def _init_data(self, backup_info, password):
        if self.server.runner.is_running():
            self.server.stop()
        if not self.server.is_empty():
            if not self.recall("data_dir_owned"):
                raise exceptions.DatastoreError(
                    operation="prepare", reason="data directory %r holds "
                    "files this guest did not create; empty it or point "
                    "[mysql] data_dir elsewhere" % self.server.data_dir)
            LOG.warning("removing the data of an earlier failed prepare "
                        "in %s", self.server.data_dir)
            self.server.wipe_data()
        self.remember(data_dir_owned=True)
        strategy = location = None
        if backup_info:
            strategy, location = self.backup_for_restore(backup_info)
        if strategy is not None and not strategy.restore_online:
            facts = self.restore_backup(backup_info, strategy, location)
            self.remember(restored_gtid=facts.get("gtid"))
        else:
            self.server.install_db()
        with self.server.maintenance() as conn:
            self.server.secure(conn, password)
        if strategy is not None and strategy.restore_online:
            self.server.start()
            self.restore_backup(backup_info, strategy, location)

    def reset_admin(self):
        """Restart through maintenance mode to re-secure the server and
        reset the admin account to this guest's password (after a restore
        brought in another server's accounts); leaves it running."""
        self.server.stop()
        with self.server.maintenance() as conn:
            self.server.secure(conn, self.load_secret(ADMIN_SECRET))
        self.server.start()

    def do_start(self):
        """Render ``my.cnf`` and start the server."""
        self._render()
        self.server.start()
        if self.galera_installed:
            self.wait_synced()
        self.remember(restart_required=False)

    def do_stop(self):
        """Stop the server."""
        self.server.stop()

    def probe_status(self):
        """The server's status, from its process and a query."""
        runner = self.server.runner
        if runner.is_running():
            try:
                with self.server.admin() as cur:
                    cur.execute("SELECT 1")
            except exceptions.DatastoreError:
                return ServiceStatus.RUNNING
            if self.recall("restart_required"):
                return ServiceStatus.RESTART_REQUIRED
            if self.galera_installed:
                try:
                    ready = self.wsrep_status().get("wsrep_ready") == "ON"
                except exceptions.DatastoreError:
                    ready = False
                if not ready:  # out of the primary component
                    return ServiceStatus.RUNNING
            return ServiceStatus.HEALTHY
        if runner.crashed():
            return ServiceStatus.CRASHED
        return ServiceStatus.SHUTDOWN

    # -- databases, users, access ------------------------------------------

    def create_database(self, databases):
        """See :meth:`trove_core.capabilities.IDatabases.create_database`."""
        self.admin.create_databases([_database(d) for d in databases])

    def list_databases(self, limit=None, marker=None, include_marker=False):
        """See :meth:`trove_core.capabilities.IDatabases.list_databases`."""
        return self.admin.list_databases(limit, marker, include_marker)

    def delete_database(self, database):
        """See :meth:`trove_core.capabilities.IDatabases.delete_database`."""
        self.admin.delete_database(_database(database))

    def create_user(self, users):
        """See :meth:`trove_core.capabilities.IUsers.create_user`."""
        self.admin.create_users([_user(u) for u in users])

    def get_user(self, username, hostname):
        """See :meth:`trove_core.capabilities.IUsers.get_user`."""
        return self.admin.get_user(username, hostname)

    def list_users(self, limit=None, marker=None, include_marker=False):
        """See :meth:`trove_core.capabilities.IUsers.list_users`."""
        return self.admin.list_users(limit, marker, include_marker)

    def delete_user(self, user):
        """See :meth:`trove_core.capabilities.IUsers.delete_user`."""
        self.admin.delete_user(_user(user))

    def change_passwords(self, users):
        """See :meth:`trove_core.capabilities.IUsers.change_passwords`."""
        self.admin.change_passwords([_user(u) for u in users])

    def update_attributes(self, username, hostname, user_attrs):
        """See :meth:`trove_core.capabilities.IUsers.update_attributes`."""
        self.admin.update_attributes(username, hostname, user_attrs)

    def list_access(self, username, hostname):
        """See :meth:`trove_core.capabilities.IAccess.list_access`."""
        return self.admin.list_access(username, hostname)

    def grant_access(self, username, hostname, databases):
        """See :meth:`trove_core.capabilities.IAccess.grant_access`."""
        self.admin.grant_access(username, hostname, databases)

    def revoke_access(self, username, hostname, database):
        """See :meth:`trove_core.capabilities.IAccess.revoke_access`."""
        self.admin.revoke_access(username, hostname, database)

    # -- root ---------------------------------------------------------------

    def enable_root(self):
        """See :meth:`trove_core.capabilities.IRoot.enable_root`."""
        return self.enable_root_with_password()

    def enable_root_with_password(self, root_password=None):
        """See :meth:`trove_core.capabilities.IRoot.enable_root_with_password`.
        """
        password = root_password or self.generate_password()
        user = self.admin.enable_root(password)
        self.store_secret(ROOT_SECRET, password)
        self.remember(root_enabled=True)
        return user

    def disable_root(self):
        """See :meth:`trove_core.capabilities.IRoot.disable_root`."""
        self.admin.disable_root()
        path = self.secret_path(ROOT_SECRET)
        if os.path.exists(path):
            os.unlink(path)
        self.remember(root_enabled=False)

    def is_root_enabled(self):
        """See :meth:`trove_core.capabilities.IRoot.is_root_enabled`."""
        return self.admin.is_root_enabled()

    def get_root_password(self):
        """See :meth:`trove_core.capabilities.IRoot.get_root_password`."""
        return self.load_secret(ROOT_SECRET)

    # -- backups ------------------------------------------------------------

    def pre_create_backup(self):
        """Hold a global read lock until :meth:`post_create_backup`."""
        if self._read_lock is None:
            conn = self.server._admin_connect()
            with conn.cursor() as cur:
                cur.execute("FLUSH TABLES WITH READ LOCK")
            self._read_lock = conn
        return {}

    def post_create_backup(self):
        """Release the lock :meth:`pre_create_backup` took."""
        conn, self._read_lock = self._read_lock, None
        if conn is not None:
            try:
                with conn.cursor() as cur:
                    cur.execute("UNLOCK TABLES")
            finally:
                conn.close()

    # -- configuration ------------------------------------------------------

    def update_overrides(self, overrides, remove=False):
        """Persist the configuration group's overrides in ``my.cnf``
        (replacing the previous group; ``remove`` drops it).

        :raises InvalidConfiguration: a name or value is not acceptable.
        """
        checked = {} if remove else self.schema.validate(overrides or {})
        self.remember(overrides=checked)
        self._render()

    def apply_overrides(self, overrides):
        """Apply dynamic overrides live; static ones need a restart.

        :returns: the sorted names that need a restart (the status is then
            ``restart required``).
        :raises InvalidConfiguration: nothing was applied.
        """
        checked = self.schema.validate(overrides or {})
        dynamic, static = self.schema.split(checked)
        self._set_global(dynamic)
        if static:
            self.remember(restart_required=True)
            self.set_status(ServiceStatus.RESTART_REQUIRED)
        return sorted(static)

    def _set_global(self, values):
        with self.server.admin() as cur:
            for name, value in values.items():
                if name not in self.schema:
                    continue
                cur.execute("SET GLOBAL %s = %%s" % name, (value,))

    # -- replication ----------------------------------------------------------

    def backup_required_for_replication(self):
        """A replica is seeded from a physical backup: always ``True``."""
        return True

    def get_replication_snapshot(self, snapshot_info,
                                 replica_source_config=None):
        """See :class:`trove_core.capabilities.IReplication`."""
        return self.replication.snapshot(snapshot_info,
                                         replica_source_config)

    def attach_replica(self, replica_info, slave_config, restart=False):
        """See :class:`trove_core.capabilities.IReplication`."""
        self.replication.attach(replica_info, slave_config, restart)

    def detach_replica(self, for_failover=False):
        """See :class:`trove_core.capabilities.IReplication`."""
        return self.replication.detach(for_failover)

    def get_replica_context(self):
        """See :class:`trove_core.capabilities.IReplication`."""
        return self.replication.context()

    def make_read_only(self, read_only):
        """See :class:`trove_core.capabilities.IReplication`."""
        self.replication.make_read_only(read_only)

    def enable_as_master(self, replica_source_config):
        """See :class:`trove_core.capabilities.IReplication`."""
        self.replication.enable_as_master(replica_source_config)

    def get_last_txn(self):
        """See :class:`trove_core.capabilities.IReplication`."""
        return self.replication.last_txn()

    def get_latest_txn_id(self):
        """See :class:`trove_core.capabilities.IReplication`."""
        return self.replication.latest_txn_id()

    def wait_for_txn(self, txn):
        """See :class:`trove_core.capabilities.IReplication`."""
        self.replication.wait_for_txn(txn)

    def demote_replication_master(self):
        """See :class:`trove_core.capabilities.IReplication`."""
        self.replication.demote()

    # -- guest logs -----------------------------------------------------------

    def guest_log_list(self):
        """See :class:`trove_core.capabilities.IGuestLogs`."""
        return self.logs.list()

    def guest_log_action(self, log_name, enable, disable, publish, discard):
        """See :class:`trove_core.capabilities.IGuestLogs`."""
        return self.logs.action(log_name, enable=enable, disable=disable,
                                publish=publish, discard=discard)

