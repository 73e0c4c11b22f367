"""Databases, users, access and root of a running MySQL server.

Every statement goes through :meth:`MySQLServer.admin`: database names are
validated and backtick-quoted, user names, hosts, passwords, character
sets and collations are PyMySQL parameters. System databases and users
(the ``ignore_dbs`` / ``ignore_users`` options) are hidden from listings
and refused by every mutating operation.
"""

import logging

from trove_core import exceptions
from trove_core import models

from trove_ds_mysql import sql

__all__ = ["MySQLAdmin"]

LOG = logging.getLogger(__name__)

ROOT_HOST = "%"


class MySQLAdmin:
    """Account and schema management.

    :param server: the :class:`~trove_ds_mysql.service.MySQLServer`.
    :param options: the guest's ``[mysql]`` option group.
    """

    def __init__(self, server, options):
        self.server = server
        self.options = options

    # -- checks -------------------------------------------------------------

    def _db(self, name, for_change=True):
        sql.check_database(name)
        if for_change and name in self.options.ignore_dbs:
            raise exceptions.InvalidIdentifier(
                kind="database", value=name,
                reason="it is a system database")
        return name

    def _user(self, name, host, for_change=True):
        sql.check_user(name, self.server.is_mariadb)
        sql.check_host(host)
        if for_change and name in self.options.ignore_users:
            raise exceptions.InvalidIdentifier(
                kind="user", value=name, reason="it is a system user")
        return name, host

    @staticmethod
    def _exists(cur, name, host):
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE User = %s "
                    "AND Host = %s", (name, host))
        return bool(cur.fetchone()[0])

    def _require(self, cur, name, host):
        if not self._exists(cur, name, host):
            raise exceptions.NotFound(kind="user", name="%s@%s"
                                      % (name, host))

    def _check_charset(self, cur, database):
        charset, collate = database.character_set, database.collate
        if charset:
            cur.execute("SELECT DEFAULT_COLLATE_NAME FROM "
                        "information_schema.CHARACTER_SETS WHERE "
                        "CHARACTER_SET_NAME = %s", (charset,))
            if cur.fetchone() is None:
                raise exceptions.BadRequest(
                    reason="database %r: unknown character set %r; see "
                    "SHOW CHARACTER SET for the ones this server has"
                    % (database.name, charset))
        if collate:
            cur.execute("SELECT CHARACTER_SET_NAME FROM "
                        "information_schema.COLLATIONS WHERE "
                        "COLLATION_NAME = %s", (collate,))
            row = cur.fetchone()
            if row is None:
                raise exceptions.BadRequest(
                    reason="database %r: unknown collation %r; see SHOW "
                    "COLLATION" % (database.name, collate))
            if charset and row[0] != charset:
                raise exceptions.BadRequest(
                    reason="database %r: collation %r belongs to character"
                    " set %r, not %r" % (database.name, collate, row[0],
                                         charset))

    # -- databases ----------------------------------------------------------

    def create_databases(self, databases):
        """Create each :class:`~trove_core.models.Database` (existing ones
        are kept); all are validated before any is created."""
        with self.server.admin() as cur:
            for database in databases:
                sql.check_grantable(self._db(database.name))
                self._check_charset(cur, database)
            for database in databases:
                stmt = "CREATE DATABASE IF NOT EXISTS %s" % sql.literal(
                    sql.quote(database.name))
                args = []
                if database.character_set:
                    stmt += " CHARACTER SET %s"
                    args.append(database.character_set)
                if database.collate:
                    stmt += " COLLATE %s"
                    args.append(database.collate)
                cur.execute(stmt, tuple(args))
                LOG.info("created database %s", database.name)

    def list_databases(self, limit=None, marker=None,
                       include_marker=False):
        """Return ``(databases, next_marker)``, system databases hidden."""
        with self.server.admin() as cur:
            cur.execute("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, "
                        "DEFAULT_COLLATION_NAME FROM "
                        "information_schema.SCHEMATA")
            rows = cur.fetchall()
        items = [models.Database(name, charset, collate)
                 for name, charset, collate in rows
                 if name not in self.options.ignore_dbs]
        return models.paginate(items, limit, marker, include_marker)

    def delete_database(self, database):
        """Drop one database (absent ones are ignored)."""
        self._db(database.name)
        with self.server.admin() as cur:
            cur.execute("DROP DATABASE IF EXISTS %s"
                        % sql.quote(database.name))
        LOG.info("dropped database %s", database.name)

    # -- users --------------------------------------------------------------

    def create_users(self, users):
        """Create each user with its password and databases.

        All are validated first; an existing user is refused.
        """
        with self.server.admin() as cur:
            for user in users:
                self._user(user.name, user.host)
                if not user.password:
                    raise exceptions.BadRequest(
                        reason="user %r has no password" % user.key)
                for database in user.databases:
                    sql.check_grantable(self._db(database.name))
                if self._exists(cur, user.name, user.host):
                    raise exceptions.BadRequest(
                        reason="user %r already exists" % user.key)
            created = []
            try:
                for user in users:
                    clause, secret = self._identified(user.password)
                    cur.execute("CREATE USER %%s@%%s %s" % clause,
                                (user.name, user.host, secret))
                    created.append(user)
                    for database in user.databases:
                        self._grant(cur, user.name, user.host,
                                    database.name)
                    LOG.info("created user %s@%s", user.name, user.host)
            except BaseException:
                # all or nothing: no user stays without its grants
                for user in created:
                    cur.execute("DROP USER IF EXISTS %s@%s",
                                (user.name, user.host))
                raise

    def _identified(self, password):
        return sql.identified(password, self.server.is_mariadb)

    def _grant(self, cur, name, host, database):
        cur.execute("GRANT ALL PRIVILEGES ON %s.* TO %%s@%%s"
                    % sql.literal(sql.grant_pattern(database)),
                    (name, host))

    def _access(self, cur, name, host):
        cur.execute("SELECT Db FROM mysql.db WHERE User = %s AND "
                    "Host = %s", (name, host))
        names = sorted({sql.unescape_pattern(db) for (db,)
                        in cur.fetchall()})
        return tuple(models.Database(n) for n in names
                     if n not in self.options.ignore_dbs)

    def get_user(self, username, hostname):
        """Return the :class:`~trove_core.models.User` or ``None``."""
        hostname = hostname or "%"
        self._user(username, hostname, for_change=False)
        if username in self.options.ignore_users:
            return None
        with self.server.admin() as cur:
            if not self._exists(cur, username, hostname):
                return None
            return models.User(username, hostname,
                               databases=self._access(cur, username,
                                                      hostname))

    def list_users(self, limit=None, marker=None, include_marker=False):
        """Return ``(users, next_marker)`` paged by ``name@host``."""
        with self.server.admin() as cur:
            cur.execute("SELECT User, Host FROM mysql.user WHERE "
                        "User != '' AND is_role = 'N'")
            rows = [r for r in cur.fetchall()
                    if r[0] not in self.options.ignore_users]
            items = [models.User(name, host,
                                 databases=self._access(cur, name, host))
                     for name, host in rows]
        return models.paginate(items, limit, marker, include_marker,
                               key=lambda u: u.key)

    def delete_user(self, user):
        """Drop one user.

        :raises NotFound: it does not exist.
        """
        self._user(user.name, user.host)
        with self.server.admin() as cur:
            self._require(cur, user.name, user.host)
            cur.execute("DROP USER %s@%s", (user.name, user.host))
        LOG.info("dropped user %s@%s", user.name, user.host)

    def change_passwords(self, users):
        """Set each user's password; all must exist before any changes."""
        with self.server.admin() as cur:
            for user in users:
                self._user(user.name, user.host)
                if not user.password:
                    raise exceptions.BadRequest(
                        reason="user %r has no new password" % user.key)
                self._require(cur, user.name, user.host)
            for user in users:
                clause, secret = self._identified(user.password)
                cur.execute("ALTER USER %%s@%%s %s" % clause,
                            (user.name, user.host, secret))

    def update_attributes(self, username, hostname, user_attrs):
        """Rename a user, move it to another host, set its password.

        All or nothing: everything is checked first, the rename is undone
        when the password change then fails.

        :param user_attrs: ``{"name", "host", "password"}``, any subset.
        :raises NotFound: the user does not exist.
        :raises BadRequest: the new identity is taken or invalid.
        """
        hostname = hostname or "%"
        attrs = dict(user_attrs or {})
        unknown = sorted(set(attrs) - {"name", "host", "password"})
        if unknown:
            raise exceptions.BadRequest(
                reason="unknown user attributes %s; use name, host, "
                "password" % unknown)
        self._user(username, hostname)
        new_name = username if attrs.get("name") is None else attrs["name"]
        new_host = hostname if attrs.get("host") is None else attrs["host"]
        self._user(new_name, new_host)
        password = attrs.get("password")
        if password is not None and not password:
            raise exceptions.BadRequest(reason="the new password is empty")
        with self.server.admin() as cur:
            self._require(cur, username, hostname)
            moved = (new_name, new_host) != (username, hostname)
            if moved and self._exists(cur, new_name, new_host):
                raise exceptions.BadRequest(
                    reason="user %s@%s already exists"
                    % (new_name, new_host))
            if moved:
                cur.execute("RENAME USER %s@%s TO %s@%s",
                            (username, hostname, new_name, new_host))
            if password:
                try:
                    clause, secret = self._identified(password)
                    cur.execute("ALTER USER %%s@%%s %s" % clause,
                                (new_name, new_host, secret))
                except Exception:
                    if moved:
                        cur.execute("RENAME USER %s@%s TO %s@%s",
                                    (new_name, new_host, username,
                                     hostname))
                    raise

    # -- access -------------------------------------------------------------

    def list_access(self, username, hostname):
        """Return the databases the user may reach."""
        hostname = hostname or "%"
        self._user(username, hostname, for_change=False)
        with self.server.admin() as cur:
            self._require(cur, username, hostname)
            return list(self._access(cur, username, hostname))

    def grant_access(self, username, hostname, databases):
        """Grant full access to each database name given."""
        hostname = hostname or "%"
        self._user(username, hostname)
        names = [d.name if isinstance(d, models.Database) else d
                 for d in databases]
        for name in names:
            sql.check_grantable(self._db(name))
        with self.server.admin() as cur:
            self._require(cur, username, hostname)
            for name in names:
                self._grant(cur, username, hostname, name)

    def revoke_access(self, username, hostname, database):
        """Revoke the user's access to one database."""
        hostname = hostname or "%"
        name = (database.name if isinstance(database, models.Database)
                else database)
        self._user(username, hostname)
        self._db(name)
        with self.server.admin() as cur:
            self._require(cur, username, hostname)
            if name not in {d.name for d in self._access(cur, username,
                                                         hostname)}:
                return
            cur.execute("REVOKE ALL PRIVILEGES ON %s.* FROM %%s@%%s"
                        % sql.literal(sql.grant_pattern(name)),
                        (username, hostname))

    # -- root ---------------------------------------------------------------

    def enable_root(self, password):
        """Create or reset ``root@'%'`` with every privilege.

        :returns: the root :class:`~trove_core.models.User`.
        """
        with self.server.admin() as cur:
            clause, secret = self._identified(password)
            cur.execute("CREATE USER IF NOT EXISTS 'root'@%%s %s" % clause,
                        (ROOT_HOST, secret))
            cur.execute("ALTER USER 'root'@%%s %s" % clause,
                        (ROOT_HOST, secret))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@%s "
                        "WITH GRANT OPTION", (ROOT_HOST,))
        LOG.info("enabled root@%s", ROOT_HOST)
        return models.User("root", ROOT_HOST, password=password,
                           is_root=True)

    def disable_root(self):
        """Drop remote root accounts (``root@localhost`` stays, reachable
        only by the OS superuser)."""
        with self.server.admin() as cur:
            cur.execute("SELECT Host FROM mysql.user WHERE User = 'root' "
                        "AND Host != 'localhost'")
            for (host,) in cur.fetchall():
                cur.execute("DROP USER 'root'@%s", (host,))
        LOG.info("disabled remote root")

    def is_root_enabled(self):
        """Whether a remote root account exists."""
        with self.server.admin() as cur:
            cur.execute("SELECT COUNT(*) FROM mysql.user WHERE "
                        "User = 'root' AND Host != 'localhost'")
            return bool(cur.fetchone()[0])
