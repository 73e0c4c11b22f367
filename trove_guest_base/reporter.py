"""Status and backup reports to Trove's conductor.

The conductor takes two casts from a guest, both at version 1.0 on the
``[DEFAULT] conductor_queue`` topic::

    heartbeat(instance_id, payload={"service_status": "<status>"}, sent=t)
    update_backup(instance_id, backup_id, sent=t, state=..., size=..., ...)

It drops a message whose ``sent`` is older than the last one it took, so
every message carries ``time.time()``. :class:`ConductorReporter` casts a
heartbeat when the status changes and every ``report_interval`` seconds
from a daemon thread; it also records the progress of long operations so
that the framework's RPC namespace can show it.

Under pressure (a broker that refuses connections, at its limit, or is
gone) a heartbeat gives up after a few reconnection attempts
(:data:`HEARTBEAT_RETRY`): the next one carries the status again, so
nothing queues up in the guest. The first failure is logged as a warning
that says what is wrong, later ones once a minute, and the first
heartbeat that goes out again says after how long. Backup updates are not
superseded by later messages: they keep retrying until sent.
"""

import logging
import threading
import time

from trove_core import rpc
from trove_core.status import NullReporter
from trove_core.status import ServiceStatus

__all__ = ["ConductorReporter", "HEARTBEAT_RETRY", "ProgressBoard",
           "broker_errors"]

LOG = logging.getLogger(__name__)

#: Reconnection attempts of one heartbeat before it is given up.
HEARTBEAT_RETRY = 2
#: Seconds between two warnings that heartbeats still fail.
FAILURE_LOG_INTERVAL = 60


def broker_errors():
    """The exceptions a send or a new connection raises when the broker
    is unreachable or refuses the guest: oslo.messaging's own, and the
    AMQP library's that it lets through (a connection refused at a
    connection limit arrives as ``amqp.exceptions.NotAllowed``)."""
    import oslo_messaging

    errors = (oslo_messaging.MessagingException, OSError)
    try:
        from amqp import exceptions as amqp_exceptions
    except ImportError:  # not the rabbit driver's library
        return errors
    return errors + (amqp_exceptions.AMQPError,)


class ProgressBoard:
    """The latest progress of each long operation, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def update(self, operation, done, total=None, message=""):
        """Record that ``operation`` reached ``done`` of ``total``."""
        with self._lock:
            self._entries[operation] = {
                "done": done, "total": total, "message": message,
                "updated": time.time()}

    def latest(self, since=0.0):
        """Return the most recent entry updated after ``since`` (a
        ``time.time()``), with its ``operation`` name, or ``None``.

        Plugins name progress freely (``backup`` for ``create_backup``),
        so the runtime shows the latest one of the running operation.
        """
        with self._lock:
            recent = [dict(entry, operation=name)
                      for name, entry in self._entries.items()
                      if entry["updated"] >= since]
        return max(recent, key=lambda e: e["updated"]) if recent else None

    def get(self, operation):
        """Return the last progress of ``operation`` as a dict, or
        ``None``."""
        with self._lock:
            entry = self._entries.get(operation)
            return dict(entry) if entry else None


class ConductorReporter(NullReporter):
    """A :class:`~trove_core.status.NullReporter` that tells the
    conductor.

    :param transport: an oslo.messaging RPC transport.
    :param instance_id: this guest's id (Trove's instance id).
    :param topic: the conductor's topic.
    :param interval: seconds between periodic heartbeats.
    :param serializer: the payload serializer (secure RPC) or ``None``.
    :param status_source: a callable returning the current
        :class:`~trove_core.status.ServiceStatus` for periodic heartbeats
        (the manager's ``refresh_status``); set later with
        :meth:`start`.
    """

    def __init__(self, transport, instance_id, topic=rpc.CONDUCTOR_TOPIC,
                 interval=30, serializer=None):
        import oslo_messaging

        self.instance_id = instance_id
        self.interval = interval
        self.progress_board = ProgressBoard()
        self._status = ServiceStatus.NEW
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._status_source = None
        target = oslo_messaging.Target(topic=topic,
                                       version=rpc.CONDUCTOR_VERSION)
        self._client = oslo_messaging.get_rpc_client(
            transport, target, serializer=serializer)
        self._heartbeat_client = self._client.prepare(
            retry=HEARTBEAT_RETRY)
        self._secure = serializer is not None
        self._failing_since = None
        self._failure_logged = 0.0
        #: heartbeats given up since the start (a figure for tests).
        self.heartbeats_failed = 0

    # -- the reporter interface -------------------------------------------

    def status_changed(self, status):
        """Heartbeat at once with the new ``status``."""
        self._status = status
        self.heartbeat(status)

    def progress(self, operation, done, total=None, message=""):
        """Record the progress of a long operation."""
        self.progress_board.update(operation, done, total, message)
        LOG.info("%s progress: %s/%s %s", operation, done,
                 "?" if total is None else total, message)

    def backup_update(self, backup_id, **fields):
        """Cast ``update_backup`` with ``fields`` (``state``, ``size``,
        ``checksum``, ``location``, ``backup_type``...)."""
        self._cast("update_backup", backup_id=backup_id, **fields)
        if "state" in fields:
            self.progress_board.update("create_backup", 0, None,
                                       "backup %s: %s"
                                       % (backup_id, fields["state"]))

    def report_root(self):
        """Cast ``report_root``: Trove then shows root as enabled."""
        self._cast("report_root")

    # -- heartbeats ---------------------------------------------------------

    def heartbeat(self, status=None):
        """Cast one heartbeat carrying ``status`` (the last known one by
        default)."""
        status = status or self._status
        sent = self._cast("heartbeat", self._heartbeat_client,
                          payload={"service_status": status.value})
        now = time.monotonic()
        if sent and self._failing_since is not None:
            LOG.warning("heartbeats to the conductor resumed after %.0f s "
                        "(%d given up meanwhile)",
                        now - self._failing_since, self.heartbeats_failed)
            self._failing_since = None
        elif not sent:
            self.heartbeats_failed += 1
            if self._failing_since is None:
                self._failing_since = now
            elif now - self._failure_logged >= FAILURE_LOG_INTERVAL:
                LOG.warning("heartbeats to the conductor still fail after "
                            "%.0f s (%d given up); the guest keeps serving "
                            "and sends the status once the broker accepts "
                            "it", now - self._failing_since,
                            self.heartbeats_failed)
                self._failure_logged = now

    def _cast(self, method, client=None, **kwargs):
        """Cast ``method`` to the conductor; returns whether it was sent.
        """
        from trove_core import secure_rpc

        # Sealed, the method name travels inside the seal too.
        ctxt = secure_rpc.bind_method({}, method) if self._secure else {}
        with self._lock:
            try:
                (client or self._client).cast(
                    ctxt, method, instance_id=self.instance_id,
                    sent=time.time(), **kwargs)
                return True
            except broker_errors() as exc:
                if method == "heartbeat" and self._failing_since is not None:
                    LOG.debug("heartbeat not sent: %s", exc)
                    return False
                # The next heartbeat carries the status again.
                LOG.warning(
                    "could not send %s to the conductor (topic %s): %s; "
                    "the broker is unreachable or refuses this guest (at "
                    "its connection limit?); check the broker and the "
                    "guest's transport_url and limits", method,
                    self._client.target.topic, exc)
                self._failure_logged = time.monotonic()
                return False

    def start(self, status_source):
        """Heartbeat every ``interval`` seconds from a daemon thread.

        :param status_source: a callable returning the current status.
        """
        self._status_source = status_source
        self._thread = threading.Thread(target=self._loop,
                                        name="heartbeat", daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(self.interval):
            try:
                status = self._status_source()
            except Exception:  # a probe bug must not stop heartbeats
                LOG.exception("probing the datastore status failed")
                status = ServiceStatus.UNKNOWN
            self._status = status
            self.heartbeat(status)

    def stop(self):
        """Stop periodic heartbeats."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
