"""Options of the PostgreSQL datastore, split into server and guest
sides."""

from oslo_config import cfg

from trove_core import options

GROUP = cfg.OptGroup("postgresql", title="PostgreSQL datastore",
                     help="Options of the PostgreSQL datastore.")

SERVER_OPTS = options.server_opts(tcp_ports=["5432"])

GUEST_OPTS = options.guest_opts(
    mount_point="/var/lib/trove/postgresql",
    ignore_dbs=["postgres", "template0", "template1"],
    port=5432,
    bind_address="127.0.0.1",
    runner="child",
    server_binary="/usr/lib/postgresql/15/bin/postgres",
    client_binary="/usr/lib/postgresql/15/bin/psql",
    service_user="postgres",
    start_timeout=60)


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.postgresql.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.postgresql.guest``."""
    return [(GROUP, GUEST_OPTS)]
