"""Service status as Trove's conductor understands it, and the reporter
interface a manager reports status and progress through."""

import enum

__all__ = ["NullReporter", "ServiceStatus"]


class ServiceStatus(enum.Enum):
    """A datastore's status; values are the descriptions Trove's conductor
    parses from a heartbeat's ``service_status``."""

    NEW = "new"
    BUILDING = "building"
    RUNNING = "running"
    HEALTHY = "healthy"
    BLOCKED = "blocked"
    SHUTDOWN = "shutdown"
    CRASHED = "crashed"
    FAILED = "failed to spawn"
    RESTART_REQUIRED = "restart required"
    #: a cluster member whose datastore runs, waiting for the control
    #: plane's ``cluster_complete`` (Trove's ``INSTANCE_READY``, 0x19).
    INSTANCE_READY = "instance ready"
    UNKNOWN = "unknown"

    @property
    def is_running(self):
        """Whether the datastore process is up."""
        return self in (ServiceStatus.RUNNING, ServiceStatus.HEALTHY,
                        ServiceStatus.BLOCKED,
                        ServiceStatus.RESTART_REQUIRED,
                        ServiceStatus.INSTANCE_READY)


class NullReporter:
    """A reporter that drops everything; the guest runtime supplies a real
    one that heartbeats to the conductor."""

    def status_changed(self, status):
        """The datastore's status changed to ``status``."""

    def progress(self, operation, done, total=None, message=""):
        """A long operation advanced: ``done`` of ``total`` units."""

    def backup_update(self, backup_id, **fields):
        """A backup changed state (``state``, ``size``, ``checksum``,
        ``location``, ...), as Trove's ``update_backup`` carries it."""
