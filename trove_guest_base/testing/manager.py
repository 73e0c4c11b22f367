"""The fake datastore's guest manager: every capability it can honestly
implement on top of :mod:`trove_guest_base.testing.backend`.

It is written the way a real plugin's manager is: it talks to its server
through the server's own client as an internal admin account whose
password is a 0600 secret, validates identifiers before use, hides system
users and databases, streams backups through the shared pipeline and
reports through the reporter. Read it as the worked example of the author
guide.
"""

import contextlib
import json
import logging
import os
import time

from zope.interface import implementer

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import manager
from trove_core import models
from trove_core.status import ServiceStatus
from trove_guest_base.testing import backend
from trove_guest_base import backup as backup_mod

__all__ = ["FakeManager", "Manager"]

LOG = logging.getLogger(__name__)

ADMIN_SECRET = "admin_password"  # noqa: S105 (a secret file name)
ROOT_SECRET = "root_password"  # noqa: S105 (a secret file name)
ROOT_USER = "root"
REPLICATION_STRATEGY = "fake-follow"


def _log_status(enabled, pending, published):
    if pending:
        return "Ready"
    if published:
        return "Published"
    return "Enabled" if enabled else "Disabled"


@implementer(caps.IDatabases, caps.IUsers, caps.IAccess, caps.IRoot,
             caps.IBackup, caps.IReplication, caps.IConfiguration,
             caps.IGuestLogs)
class FakeManager(backup_mod.BackupOperations,
                  manager.BaseDatastoreManager):
    """Guest manager of the fake datastore."""

    # -- helpers -------------------------------------------------------

    @property
    def server(self):
        """The :class:`~.backend.FakeServer` managed."""
        return backend.FakeServer(self.options.mount_point)

    def _admin(self, database=None):
        password = self.load_secret(ADMIN_SECRET)
        if password is None:
            raise exceptions.DatastoreError(
                operation="connect", reason="the guest has no admin "
                "password; prepare the guest first")
        return self.server.client(backend.ADMIN_USER, password,
                                  database=database)

    def _storage(self):
        return self.backup_storage()

    def _check_db(self, name):
        models.check_name("database", name)
        if name in self.options.ignore_dbs:
            raise exceptions.InvalidIdentifier(
                kind="database", value=name,
                reason="it is a system database")
        return name

    def _check_user(self, name, host, allow_root=False):
        models.check_name("user", name)
        models.check_name("host", host)
        if name in self.options.ignore_users or (
                name == ROOT_USER and not allow_root):
            raise exceptions.InvalidIdentifier(
                kind="user", value=name, reason="it is a reserved user")
        return name, host

    # -- lifecycle hooks -----------------------------------------------

    def do_prepare(self, request):
        """Initialize the data directory (from a backup or a replication
        snapshot when given), write the configuration and start."""
        server = self.server
        admin_password = self.generate_password()
        if request.backup_info:
            self.restore_backup(request.backup_info)
            server.reset_admin(admin_password)
        elif not server.initialized:
            server.initialize(admin_password)
        else:
            server.reset_admin(admin_password)
        self.store_secret(ADMIN_SECRET, admin_password)
        if request.config_contents:
            self.write_config(request.config_contents)
        if request.overrides:
            self.update_overrides(request.overrides)
        self.do_start()
        if request.snapshot:
            self.attach_replica(request.snapshot, None)

    def do_start(self):
        """Start the fake server."""
        self.server.start()

    def do_stop(self):
        """Stop the fake server."""
        self.server.stop()

    def probe_status(self):
        """Running when the server answers its admin account."""
        server = self.server
        if not server.running:
            return ServiceStatus.SHUTDOWN
        try:
            self._admin().status()
        except exceptions.DatastoreError:
            return ServiceStatus.BLOCKED
        return ServiceStatus.HEALTHY

    def write_config(self, config_contents):
        """Validate ``key value`` lines against the schema and write them."""
        from trove_guest_base import configfile
        from trove_guest_base import files

        parsed = configfile.KeyValueConfig.parse(config_contents)
        backend.check_overrides(dict(parsed.items))
        files.atomic_write(self.server.config_path, parsed.render(),
                           mode=0o600)

    # -- databases -----------------------------------------------------

    def create_database(self, databases):
        """See :meth:`trove_core.capabilities.IDatabases.create_database`."""
        checked = [self._check_db(db.name) and db for db in databases]
        client = self._admin()
        for db in checked:
            client.create_database(db.name, db.character_set, db.collate)

    def list_databases(self, limit=None, marker=None, include_marker=False):
        """See :meth:`trove_core.capabilities.IDatabases.list_databases`."""
        found = [models.Database(name, meta.get("character_set"),
                                 meta.get("collate"))
                 for name, meta in self._admin().databases().items()
                 if name not in self.options.ignore_dbs]
        return models.paginate(found, limit, marker, include_marker)

    def delete_database(self, database):
        """See :meth:`trove_core.capabilities.IDatabases.delete_database`."""
        self._admin().drop_database(self._check_db(database.name))

    # -- users ---------------------------------------------------------

    def create_user(self, users):
        """See :meth:`trove_core.capabilities.IUsers.create_user`."""
        for user in users:
            self._check_user(user.name, user.host)
            for db in user.databases:
                self._check_db(db.name)
            if not user.password:
                raise exceptions.BadRequest(
                    reason="user %r has no password" % user.name)
        client = self._admin()
        for user in users:
            client.create_user(user.name, user.host, user.password)
            for db in user.databases:
                client.grant(user.name, user.host, db.name)

    def _user(self, client, record):
        name, host = record["name"], record["host"]
        dbs = tuple(models.Database(d) for d in client.grants(name, host))
        return models.User(name=name, host=host, databases=dbs,
                           is_root=record["is_root"])

    def get_user(self, username, hostname):
        """See :meth:`trove_core.capabilities.IUsers.get_user`."""
        self._check_user(username, hostname, allow_root=True)
        client = self._admin()
        for record in client.users():
            if (record["name"], record["host"]) == (username, hostname):
                return self._user(client, record)
        return None

    def list_users(self, limit=None, marker=None, include_marker=False):
        """See :meth:`trove_core.capabilities.IUsers.list_users`."""
        client = self._admin()
        found = [self._user(client, r) for r in client.users()
                 if r["name"] not in self.options.ignore_users
                 and not r["is_root"]]
        return models.paginate(found, limit, marker, include_marker,
                               key=lambda u: u.key)

    def delete_user(self, user):
        """See :meth:`trove_core.capabilities.IUsers.delete_user`."""
        self._check_user(user.name, user.host)
        self._admin().drop_user(user.name, user.host)

    def change_passwords(self, users):
        """See :meth:`trove_core.capabilities.IUsers.change_passwords`."""
        for user in users:
            self._check_user(user.name, user.host)
            if not user.password:
                raise exceptions.BadRequest(
                    reason="user %r has no password" % user.name)
        client = self._admin()
        for user in users:
            client.set_password(user.name, user.host, user.password)

    def update_attributes(self, username, hostname, user_attrs):
        """See :meth:`trove_core.capabilities.IUsers.update_attributes`."""
        self._check_user(username, hostname)
        unknown = set(user_attrs) - {"name", "host", "password"}
        if unknown:
            raise exceptions.BadRequest(
                reason="unknown user attributes %s" % sorted(unknown))
        new_name = user_attrs.get("name")
        new_name = username if new_name is None else new_name
        new_host = user_attrs.get("host")
        new_host = hostname if new_host is None else new_host
        self._check_user(new_name, new_host)
        client = self._admin()
        if (new_name, new_host) != (username, hostname):
            client.rename_user(username, hostname, new_name, new_host)
        if user_attrs.get("password"):
            client.set_password(new_name, new_host, user_attrs["password"])

    # -- access --------------------------------------------------------

    def list_access(self, username, hostname):
        """See :meth:`trove_core.capabilities.IAccess.list_access`."""
        self._check_user(username, hostname)
        return [models.Database(d)
                for d in self._admin().grants(username, hostname)]

    def grant_access(self, username, hostname, databases):
        """See :meth:`trove_core.capabilities.IAccess.grant_access`."""
        self._check_user(username, hostname)
        names = [self._check_db(getattr(d, "name", d)) for d in databases]
        client = self._admin()
        for name in names:
            client.grant(username, hostname, name)

    def revoke_access(self, username, hostname, database):
        """See :meth:`trove_core.capabilities.IAccess.revoke_access`."""
        self._check_user(username, hostname)
        self._admin().revoke(username, hostname,
                             self._check_db(getattr(database, "name",
                                                    database)))

    # -- root ----------------------------------------------------------

    def enable_root(self):
        """See :meth:`trove_core.capabilities.IRoot.enable_root`."""
        return self.enable_root_with_password()

    def enable_root_with_password(self, root_password=None):
        """See :meth:`trove_core.capabilities.IRoot.enable_root_with_password`.
        """
        password = root_password or self.generate_password()
        client = self._admin()
        if any(u["name"] == ROOT_USER and u["host"] == "%"
               for u in client.users()):
            client.set_password(ROOT_USER, "%", password)
        else:
            client.create_user(ROOT_USER, "%", password, is_root=True)
        self.store_secret(ROOT_SECRET, password)
        self._save_state(root_enabled=True)
        return models.User(name=ROOT_USER, host="%", password=password,
                           is_root=True)

    def disable_root(self):
        """See :meth:`trove_core.capabilities.IRoot.disable_root`."""
        client = self._admin()
        if any(u["name"] == ROOT_USER for u in client.users()):
            client.drop_user(ROOT_USER, "%")
        self._save_state(root_enabled=False)

    def is_root_enabled(self):
        """See :meth:`trove_core.capabilities.IRoot.is_root_enabled`."""
        return any(u["name"] == ROOT_USER and u["is_root"]
                   for u in self._admin().users())

    def get_root_password(self):
        """See :meth:`trove_core.capabilities.IRoot.get_root_password`."""
        return self.load_secret(ROOT_SECRET)

    # -- backup: create_backup and the restore are BackupOperations' ---

    def pre_create_backup(self):
        """See :meth:`trove_core.capabilities.IBackup.pre_create_backup`."""
        self._admin().set_server(read_only=True)

    def post_create_backup(self):
        """See :meth:`trove_core.capabilities.IBackup.post_create_backup`."""
        self._admin().set_server(read_only=False)

    # -- replication ---------------------------------------------------

    def backup_required_for_replication(self):
        """The fake replica copies its primary directly: no backup."""
        return False

    def get_replica_context(self):
        """See :meth:`trove_core.capabilities.IReplication.
        get_replica_context`."""
        status = self._admin().status()
        return {"master": {"data_dir": self.server.data_dir,
                           "server_id": status["server_id"]},
                "replication_strategy": REPLICATION_STRATEGY,
                "log_position": status["txn"]}

    def get_replication_snapshot(self, snapshot_info,
                                 replica_source_config=None):
        """See :meth:`trove_core.capabilities.IReplication.
        get_replication_snapshot`."""
        self._save_state(role="primary")
        context = self.get_replica_context()
        context.update(snapshot_id=(snapshot_info or {}).get("id"),
                       dataset={})
        return context

    def attach_replica(self, replica_info, slave_config, restart=False):
        """Follow the primary named in ``replica_info["master"]``."""
        try:
            source = replica_info["master"]["data_dir"]
        except (KeyError, TypeError):
            raise exceptions.BadRequest(
                reason="replica_info needs master.data_dir") from None
        if not backend.FakeServer(source).initialized:
            raise exceptions.DatastoreError(
                operation="attach_replica",
                reason="no fake server at %r" % (source,))
        self._admin().set_server(source=source, read_only=True)
        self._save_state(role="replica")
        self._admin().status()  # pulls the primary's data at once

    def detach_replica(self, for_failover=False):
        """Stop following; return the replication context."""
        client = self._admin()
        status = client.status()
        client.set_server(source=None, read_only=False)
        self._save_state(role=None)
        return {"master": {"data_dir": status["source"],
                           "server_id": status["source_id"]},
                "log_position": status["txn"]}

    def make_read_only(self, read_only):
        """See :meth:`trove_core.capabilities.IReplication.make_read_only`."""
        self._admin().set_server(read_only=bool(read_only))

    def enable_as_master(self, replica_source_config):
        """Accept writes and act as a primary."""
        self._admin().set_server(source=None, read_only=False)
        self._save_state(role="primary")

    def get_last_txn(self):
        """Return ``(source_id, txn)`` of the last applied write."""
        status = self._admin().status()
        return (status["source_id"] or status["server_id"], status["txn"])

    def get_latest_txn_id(self):
        """Return the transaction counter of this server."""
        return self._admin().status()["txn"]

    def wait_for_txn(self, txn, timeout=30):
        """Block until transaction ``txn`` is applied here."""
        deadline = time.monotonic() + timeout
        while self._admin().status()["txn"] < txn:
            if time.monotonic() > deadline:
                raise exceptions.DatastoreError(
                    operation="wait_for_txn",
                    reason="transaction %r not applied after %ss"
                    % (txn, timeout))
            time.sleep(0.05)

    def demote_replication_master(self):
        """Stop acting as a primary; refuse writes."""
        self._admin().set_server(read_only=True)
        self._save_state(role=None)

    # -- configuration -------------------------------------------------

    def update_overrides(self, overrides, remove=False):
        """See :meth:`trove_core.capabilities.IConfiguration.
        update_overrides`."""
        from trove_guest_base import files

        path = self.server.overrides_path
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        checked = backend.check_overrides(overrides)
        files.atomic_write(path, json.dumps(checked, sort_keys=True),
                           mode=0o600)

    def apply_overrides(self, overrides):
        """Set the dynamic ``overrides`` now; return the names that need a
        restart."""
        checked = backend.check_overrides(overrides)
        client = self._admin()
        restart = []
        for name, value in sorted(checked.items()):
            if backend.load_schema()[name].dynamic:
                client.set_variable(name, value)
            else:
                restart.append(name)
        if restart:
            self.set_status(ServiceStatus.RESTART_REQUIRED)
        return restart

    # -- guest logs ----------------------------------------------------

    def _log_location(self, name):
        return "guest-logs/%s/%s.log" % (self.name, name)

    def _log_info(self, name):
        storage = self._storage()
        location = self._log_location(name)
        published = (storage.metadata(location)["size"]
                     if storage.exists(location) else 0)
        try:
            size = os.path.getsize(self.server.log_path)
        except FileNotFoundError:
            size = 0
        enabled = bool(self._admin().status()["general_log"])
        return {"name": name, "type": "USER",
                "status": _log_status(enabled, size - published > 0,
                                      published),
                "published": published,
                "pending": max(size - published, 0),
                "container": self.options.backup_storage_root,
                "prefix": location, "metafile": location + ".meta.json"}

    def _check_log(self, log_name):
        models.check_name("log", log_name)
        if log_name not in self.options.guest_log_exposed_logs:
            raise exceptions.InvalidIdentifier(
                kind="log", value=log_name, reason="exposed logs are %s"
                % self.options.guest_log_exposed_logs)
        return log_name

    def guest_log_list(self):
        """See :meth:`trove_core.capabilities.IGuestLogs.guest_log_list`."""
        return [self._log_info(name)
                for name in self.options.guest_log_exposed_logs]

    def guest_log_action(self, log_name, enable, disable, publish, discard):
        """See :meth:`trove_core.capabilities.IGuestLogs.guest_log_action`.
        """
        name = self._check_log(log_name)
        if enable and disable:
            raise exceptions.BadRequest(
                reason="enable and disable are mutually exclusive")
        client = self._admin()
        if enable:
            client.set_server(general_log=True)
        if disable:
            client.set_server(general_log=False)
        storage = self._storage()
        location = self._log_location(name)
        if discard:
            storage.delete(location)
        if publish:
            writer = storage.open_writer(location)
            try:
                with open(self.server.log_path, "rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                data = b""
            try:
                writer.write(data)
                writer.commit({"size": len(data), "log": name})
            except BaseException:
                writer.abort()
                raise
        return self._log_info(name)


#: The entry-point target (``trove.guestagent.managers``: ``fake``).
Manager = FakeManager
