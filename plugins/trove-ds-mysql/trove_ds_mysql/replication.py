"""GTID replication between MariaDB servers (strategy ``mysql-gtid``).

A primary hands out a *snapshot* in the shape Trove's guests use
(``dataset``, ``master``, ``replica_conf.replication_user``): a physical
backup (``mariabackup``), its address, and a replication account. A
replica is prepared from that backup, then follows the primary from the
GTID position recorded in the backup (``MASTER_USE_GTID=slave_pos``),
read-only; that position is used once. Any later attach (to the new
primary of a promote or an eject, in Trove's taskmanager order) follows
from the server's own position (``MASTER_USE_GTID=current_pos``), so
nothing is applied twice. ``get_last_txn`` answers Trove's
``[master_server_id, sequence]``.

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


def _replication_account(replica_info):
    """The replication account in a snapshot or context: Trove's
    ``replica_conf.replication_user`` (earlier trove-core guests put it
    under ``log_position``).

    :raises BadRequest: there is none.
    """
    for key in ("replica_conf", "log_position"):
        account = (replica_info.get(key) or {}).get("replication_user")
        if account:
            return account
    raise exceptions.BadRequest(
        reason="the replication snapshot or context has no "
        "'replica_conf.replication_user'; take it from the primary's "
        "get_replica_context")


def last_sequence(position, master_id=None):
    """The sequence number of the last GTID in ``position`` (a MariaDB
    GTID list ``domain-server-seq,...``): the one ``master_id``
    originated, else the highest.

    :returns: an ``int``, ``0`` for an empty position.
    """
    best = mine = 0
    for item in (p.strip() for p in position.split(",") if p.strip()):
        _domain, server, seq = item.split("-")
        best = max(best, int(seq))
        if master_id is not None and int(server) == int(master_id):
            mine = max(mine, int(seq))
    return mine or best


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
        """What a replica needs to follow this server, in Trove's shape:
        ``{"master": {"host", "port"}, "replica_conf": {"log_position":
        {"gtid_pos"}, "replication_user": {"name", "password"}}}``."""
        with self.server.admin() as cur:
            cur.execute("SELECT @@global.gtid_binlog_pos")
            gtid_pos = cur.fetchone()[0]
        return {"master": self.master_ref(),
                "replica_conf": {"log_position": {"gtid_pos": gtid_pos},
                                 "replication_user":
                                 self.replication_user()}}

    def snapshot(self, snapshot_info, replica_source_config=None):
        """Take a physical backup for a new replica; return the snapshot
        in the shape Trove's guest returns it (``dataset``, ``master``,
        ``replica_conf``, ``replication_strategy``).

        :param snapshot_info: Trove's: ``id``, and ``parent``,
            ``storage_driver``, ``swift_url``... as for a backup.
        """
        context = self.context()
        info = dict(snapshot_info or {}, type="mariabackup")
        result = self.manager.create_backup(info)
        stats = self.manager.get_filesystem_stats(None)
        return {
            "dataset": {"datastore_manager": self.manager.name,
                        "dataset_size": stats.get("used", 0.0),
                        "volume_size": stats.get("total", 0.0),
                        "snapshot_id": info.get("id"),
                        "location": result.location,
                        "checksum": result.checksum,
                        "type": "mariabackup"},
            "replication_strategy": self.name,
            "master": context["master"],
            "replica_conf": context["replica_conf"],
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
            (``master`` and ``replica_conf.replication_user``, as Trove's
            guests send them). Only a snapshot (it has a ``dataset``)
            starts from the GTID of the backup this server was restored
            from; any later attach (to a new primary after a promote or
            an eject) continues from this server's own position.
        :raises DatastoreError: replication did not start; the server's
            own error is quoted.
        """
        master = replica_info["master"]
        account = _replication_account(replica_info)
        gtid = None
        if "dataset" in replica_info:
            gtid = self.manager.restored_gtid()
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
        # The backup's position served once: a later attach must never
        # rewind to it.
        self.manager.remember(replica_of=master, restored_gtid=None)
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

        :returns: ``{"replication_user", "master", "gtid"}``: the account
            it replicated with (Trove's key), the primary and the GTID
            position. Outside a failover the server also leaves
            read-only mode.
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
        return {"replication_user": status["Master_User"] if status
                else None, "master": master, "gtid": gtid}

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
        """``[master_server_id, sequence]`` as Trove's taskmanager reads
        it to pick the most current replica: the server id of the
        primary this server replicates from (``None`` when it is not a
        replica) and the sequence number of the last transaction it
        applied (``0`` when none)."""
        with self.server.admin() as cur:
            status = self._slave_status(cur)
            cur.execute("SELECT @@global.gtid_slave_pos")
            position = cur.fetchone()[0] or ""
        master_id = int(status["Master_Server_Id"]) if status else None
        return [master_id, last_sequence(position, master_id)]

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
