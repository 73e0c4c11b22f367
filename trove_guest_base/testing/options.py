"""Options of the fake datastore, split into server and guest sides."""

from oslo_config import cfg

from trove_core import options
from trove_guest_base.testing import backend

GROUP = cfg.OptGroup("fake", title="Fake datastore",
                     help="Options of the in-memory fake datastore used by "
                          "tests and the author guide.")

SERVER_OPTS = options.server_opts(tcp_ports=["4711"], volume_support=False)

GUEST_OPTS = options.guest_opts(
    mount_point="/var/lib/trove/fake", backup_strategy="fake-copy",
    guest_log_exposed_logs=["general"],
    ignore_users=[backend.ADMIN_USER],
    ignore_dbs=[backend.SYSTEM_DATABASE])


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.fake.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.fake.guest``."""
    return [(GROUP, GUEST_OPTS)]
