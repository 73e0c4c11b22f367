"""``[DEFAULT]`` options of the guest runtime (``trove-guestagent``).

Trove splits a guest's configuration in two files: ``guest_info.conf``
(written per instance by the taskmanager: ``guest_id``,
``datastore_manager``) and ``trove-guestagent.conf`` (the image's:
``transport_url``, ``control_exchange``, logging). Both are read with
``--config-file``/``--config-dir``. ``transport_url`` and
``control_exchange`` are oslo.messaging's own options.
"""

import copy

from oslo_config import cfg

from trove_core import rpc

__all__ = ["GUEST_OPTS", "list_opts", "register_opts"]

GUEST_OPTS = [
    cfg.StrOpt(
        "guest_id",
        help="This guest's instance id; names its RPC topic "
             "guestagent.<guest_id>. Written to guest_info.conf by the "
             "control plane."),
    cfg.StrOpt(
        "datastore_manager",
        help="The datastore plugin this guest runs (an entry name in "
             "trove.guestagent.managers, e.g. 'mysql'). Written to "
             "guest_info.conf by the control plane."),
    cfg.StrOpt(
        "state_path", default="/var/lib/trove-guestagent",
        help="Private directory (0700) for the guest's persisted state "
             "and secrets."),
    cfg.IntOpt(
        "report_interval", default=30, min=1,
        help="Seconds between two heartbeats to the conductor; a change "
             "of status is reported at once."),
    cfg.StrOpt(
        "conductor_queue", default=rpc.CONDUCTOR_TOPIC,
        help="Topic of the conductor that receives heartbeats and "
             "backup updates."),
    cfg.IntOpt(
        "graceful_shutdown_timeout", default=300, min=0,
        help="Seconds SIGTERM waits for the operation in flight to "
             "finish before the guest exits anyway."),
    cfg.BoolOpt(
        "debug", default=False,
        help="Log at DEBUG level."),
    cfg.StrOpt(
        "log_file",
        help="Log to this file instead of standard error."),
]


def register_opts(conf):
    """Register the guest runtime's options on ``conf``."""
    conf.register_opts(GUEST_OPTS)


def list_opts():
    """``oslo.config.opts`` hook for namespace ``trove.guestagent``."""
    return [(None, copy.deepcopy(GUEST_OPTS))]
