"""GTID replication between MariaDB servers (strategy ``mysql-gtid``).

A primary hands out a *snapshot*: a physical backup (``mariabackup``),
its address, and a replication account. A replica is prepared from that
backup, then follows the primary from the GTID position recorded in the
backup (``MASTER_USE_GTID=slave_pos``), read-only. Failover detaches a
replica and enables it as a primary; the old primary is demoted
(read-only) and can follow the new one from its own position
(``MASTER_USE_GTID=current_pos``).

The strategy is registered in ``trove.guestagent.replication_strategies``
and loaded with :func:`trove_guest_base.backup.load_strategy`.
"""

import logging
import socket
import time

from trove_core import exceptions
from trove_guest_base import backup

from trove_ds_mysql import sql

__all__ = ["MySQLGTIDReplication"]

LOG = logging.getLogger(__name__)

REPL_USER = "os_repl"
REPL_SECRET = "replication_password"  # noqa: S105 - a file name


class MySQLGTIDReplication(backup.ReplicationStrategy):
    """Primary/replica replication with MariaDB GTIDs.

    :param manager: the :class:`~trove_ds_mysql.manager.Manager`.
    """

    name = "mysql-gtid"

    def __init__(self, manager):
        super().__init__(manager)
        self.server = manager.server

    # -- the primary side --------------------------------------------------

    def master_ref(self):
        """``{"host", "port"}`` replicas connect to."""
        host = self.server.options.bind_address
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard check
            host = socket.gethostbyname(socket.gethostname())
        return {"host": host, "port": self.server.options.port}

    def replication_user(self):
        """Create (once) and return the replication account."""
        password = self.manager.load_secret(REPL_SECRET)
        if not password:
            password = self.manager.generate_password()
            self.manager.store_secret(REPL_SECRET, password)
        with self.server.admin() as cur:
            clause, secret = sql.identified(password,
                                            self.server.is_mariadb)
            cur.execute("CREATE USER IF NOT EXISTS %%s@'%%%%' %s" % clause,
                        (REPL_USER, secret))
            cur.execute("ALTER USER %%s@'%%%%' %s" % clause,
                        (REPL_USER, secret))
            cur.execute("GRANT REPLICATION SLAVE, SLAVE MONITOR ON *.* TO "
                        "%s@'%%'", (REPL_USER,))
        return {"name": REPL_USER, "password": password}

    def context(self):
        """What a replica needs to follow this server."""
        return {"master": self.master_ref(),
                "log_position": {"replication_user":
                                 self.replication_user()}}

    def snapshot(self, snapshot_info, replica_source_config=None):
        """Take a physical backup for a new replica; return the snapshot.

        :param snapshot_info: ``{"id", "location"?}`` of the backup.
        """
        context = self.context()
        info = dict(snapshot_info or {}, type="mariabackup")
        result = self.manager.create_backup(info)
        return {
            "dataset": {"datastore_manager": self.manager.name,
                        "dataset_size": round(result.size / 1024.0 ** 3,
                                              3),
                        "snapshot_id": info.get("id"),
                        "location": result.location,
                        "checksum": result.checksum,
                        "type": "mariabackup"},
            "replication_strategy": self.name,
            "master": context["master"],
            "log_position": context["log_position"],
        }

    def enable_as_master(self, replica_source_config=None):
        """Accept writes and make sure replicas can log in."""
        self.make_read_only(False)
        self.replication_user()

    def demote(self):
        """Stop taking writes as a primary (``read_only``)."""
        self.make_read_only(True)

    # -- the replica side --------------------------------------------------

    def attach(self, replica_info, slave_config=None, restart=False):
        """Follow the primary described by ``replica_info``.

        :param replica_info: a snapshot or :meth:`context` of the primary
            (``master`` and ``log_position.replication_user``; an optional
            ``log_position.gtid`` to start from).
        :raises DatastoreError: replication did not start; the server's
            own error is quoted.
        """
        master = replica_info["master"]
        position = replica_info.get("log_position") or {}
        account = position["replication_user"]
        gtid = position.get("gtid") or self.manager.restored_gtid()
        with self.server.admin() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("RESET SLAVE ALL")
            if gtid:
                cur.execute("SET GLOBAL gtid_slave_pos = %s", (gtid,))
            cur.execute(
                "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, "
                "MASTER_USER = %s, MASTER_PASSWORD = %s, "
                "MASTER_CONNECT_RETRY = 5, MASTER_USE_GTID = "
                + ("slave_pos" if gtid else "current_pos"),
                (master["host"], int(master["port"]), account["name"],
                 account["password"]))
            cur.execute("SET GLOBAL read_only = ON")
            cur.execute("START SLAVE")
        self._wait_running()
        self.manager.remember(replica_of=master)
        LOG.info("replicating from %s:%s", master["host"], master["port"])

    def _slave_status(self, cur):
        import pymysql

        cur = cur.connection.cursor(pymysql.cursors.DictCursor)
        cur.execute("SHOW SLAVE STATUS")
        return cur.fetchone()

    def _wait_running(self, timeout=60):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            with self.server.admin() as cur:
                status = self._slave_status(cur)
            if status and status["Slave_IO_Running"] == "Yes" and status[
                    "Slave_SQL_Running"] == "Yes":
                return
            if status and status["Last_SQL_Error"]:
                break
            time.sleep(0.2)
        reason = ("no replication configured" if not status else
                  "IO %s (%s), SQL %s (%s)" % (
                      status["Slave_IO_Running"], status["Last_IO_Error"],
                      status["Slave_SQL_Running"],
                      status["Last_SQL_Error"]))
        raise exceptions.DatastoreError(
            operation="attach_replica", reason="replication did not start: "
            "%s" % reason)

    def detach(self, for_failover=False):
        """Stop following the primary; return where replication stood.

        Outside a failover the server also leaves read-only mode.
        """
        with self.server.admin() as cur:
            status = self._slave_status(cur)
            cur.execute("STOP SLAVE")
            cur.execute("RESET SLAVE ALL")
            cur.execute("SELECT @@global.gtid_slave_pos")
            gtid = cur.fetchone()[0]
        if not for_failover:
            self.make_read_only(False)
        self.manager.remember(replica_of=None)
        master = ({"host": status["Master_Host"],
                   "port": status["Master_Port"]} if status else None)
        return {"master": master, "gtid": gtid}

    def make_read_only(self, read_only):
        """Refuse (``True``) or accept client writes."""
        with self.server.admin() as cur:
            cur.execute("SET GLOBAL read_only = %s",
                        ("ON" if read_only else "OFF",))

    # -- transactions --------------------------------------------------------

    def latest_txn_id(self):
        """The GTID position of the latest transaction this server
        binlogged."""
        with self.server.admin() as cur:
            cur.execute("SELECT @@global.gtid_binlog_pos")
            return cur.fetchone()[0]

    def last_txn(self):
        """``(server_id, gtid_position)`` of what this server has
        applied."""
        with self.server.admin() as cur:
            cur.execute("SELECT @@global.server_id, "
                        "@@global.gtid_current_pos")
            server_id, position = cur.fetchone()
        return str(server_id), position

    def wait_for_txn(self, txn, timeout=120):
        """Block until GTID position ``txn`` is applied here.

        :raises DatastoreError: not applied within ``timeout`` seconds.
        """
        with self.server.admin() as cur:
            cur.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (txn, timeout))
            if cur.fetchone()[0] != 0:
                raise exceptions.DatastoreError(
                    operation="wait_for_txn", reason="GTID position %r was "
                    "not applied within %d s" % (txn, timeout))
