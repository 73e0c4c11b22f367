"""Options, split by the process that reads them.

Each datastore has one option group (``[mysql]``) read by two kinds of
process: the control plane (API, taskmanager) reads its *server* options,
the guest reads its *guest* options. A process registers only its side.

Options every datastore has are defined here once; a plugin's
``options.py`` asks for them with its own defaults and adds its own::

    GUEST_OPTS = options.guest_opts(mount_point="/var/lib/mysql") + [...]

The guest options of a datastore that runs a server process (``port``,
``runner``, ``systemd_unit``, ``server_binary``, ``config_file``,
``start_timeout``...) are common too, but a plugin gets only those it
names: by keyword with its own default, or by position with the core's::

    options.guest_opts("start_timeout", port=3306, runner="child")

A plugin that called one of them otherwise before keeps the old name
readable in configuration files with :class:`Renamed`.

and exports both sides to ``oslo.config.opts`` as
``trove.datastore.<name>.server`` and ``trove.datastore.<name>.guest``.
"""

import copy

from oslo_config import cfg

from trove_core import tiers

__all__ = ["CORE_OPTS", "Renamed", "guest_opts", "list_core_opts",
           "load_side", "namespace", "register_side", "server_opts"]

SIDES = ("server", "guest")

CORE_OPTS = [
    cfg.ListOpt(
        "allowed_tiers", default=list(tiers.DEFAULT_ALLOWED_TIERS),
        item_type=cfg.types.String(choices=[t.label for t in tiers.Tier]),
        help="Maturity tiers of datastores and strategies this process "
             "may run (experimental, technical-preview, stable). Shared by "
             "the guest and the control plane."),
]


def list_core_opts():
    """``oslo.config.opts`` hook for the options of ``trove.core``."""
    return [(None, copy.deepcopy(CORE_OPTS))]


def _ignore_list(name, what):
    return lambda default: cfg.ListOpt(
        name, default=default,
        help="System %s: hidden by the guest and refused by the API." % what)


def _port_list(name, help_):
    return lambda default: cfg.ListOpt(name, default=default, help=help_)


class Renamed:
    """A plugin's default for a common option it used to call otherwise.

    The option keeps being read under ``old_name`` in configuration files
    (oslo.config's ``deprecated_name``; a warning is logged).

    :param default: the plugin's default.
    :param old_name: the name the plugin's option had before.
    """

    def __init__(self, default, old_name):
        self.default = default
        self.old_name = old_name

    def __repr__(self):
        return "Renamed(%r, %r)" % (self.default, self.old_name)


def _opt(cls, name, help_, **fixed):
    return lambda default, **extra: cls(name, default=default, help=help_,
                                        **fixed, **extra)


def _mount_point(default):
    # one definition for both sides: an all-in-one process registers both
    return cfg.StrOpt(
        "mount_point", default=default,
        help="Where the data volume is mounted on the guest.")


# name -> (factory(default), default when the plugin gives none)
_SERVER = {
    # the control plane reads it too: Trove's taskmanager sends it to the
    # guest with prepare and when it attaches a volume
    "mount_point": (_mount_point, "/var/lib/trove/data"),
    "tcp_ports": (_port_list(
        "tcp_ports", "TCP ports (or ranges a-b) opened in the instance's "
        "security group."), []),
    "udp_ports": (_port_list(
        "udp_ports", "UDP ports (or ranges a-b) opened in the instance's "
        "security group."), []),
    "root_on_create": (lambda d: cfg.BoolOpt(
        "root_on_create", default=d,
        help="Enable the superuser when an instance is created and return "
             "its password in the create response."), False),
    "usage_timeout": (lambda d: cfg.IntOpt(
        "usage_timeout", default=d, min=1,
        help="Seconds to wait for a new guest to become active."), 400),
    "volume_support": (lambda d: cfg.BoolOpt(
        "volume_support", default=d,
        help="Whether instances get a block storage volume."), True),
    "device_path": (lambda d: cfg.StrOpt(
        "device_path", default=d,
        help="Device path of the volume on the instance."), "/dev/vdb"),
    "ignore_users": (_ignore_list("ignore_users", "users"), []),
    "ignore_dbs": (_ignore_list("ignore_dbs", "databases"), []),
}

_GUEST = {
    "mount_point": (_mount_point, "/var/lib/trove/data"),
    "backup_strategy": (lambda d: cfg.StrOpt(
        "backup_strategy", default=d,
        help="Backup strategy used by create_backup (an entry name in "
             "trove.guestagent.backup_strategies)."), None),
    "replication_strategy": (lambda d: cfg.StrOpt(
        "replication_strategy", default=d,
        help="Replication strategy (an entry name in "
             "trove.guestagent.replication_strategies)."), None),
    "backup_storage": (lambda d: cfg.StrOpt(
        "backup_storage", default=d,
        help="Backup storage driver (an entry name in "
             "trove.backup.storage)."), "file"),
    "backup_storage_root": (lambda d: cfg.StrOpt(
        "backup_storage_root", default=d,
        help="Root directory of the 'file' backup storage."),
        "/var/lib/trove/backups"),
    "backup_encryption_key_file": (lambda d: cfg.StrOpt(
        "backup_encryption_key_file", default=d,
        help="A file (mode 0600) holding the key backups are encrypted "
             "with (AES-256-GCM): 32 bytes, or 64 hex digits. Unset: "
             "backups are not encrypted. Restores need the same key."),
        None),
    "backup_stall_timeout": (lambda d: cfg.IntOpt(
        "backup_stall_timeout", default=d, min=1,
        help="Seconds a backup or restore tool may go without moving a "
             "byte before it is stopped and the backup fails (a lock "
             "held by another session stalls a dump)."), 300),
    "guest_log_exposed_logs": (lambda d: cfg.ListOpt(
        "guest_log_exposed_logs", default=d,
        help="Datastore logs users may list and publish."), []),
    "ignore_users": (_ignore_list("ignore_users", "users"), []),
    "ignore_dbs": (_ignore_list("ignore_dbs", "databases"), []),
    "default_password_length": (lambda d: cfg.IntOpt(
        "default_password_length", default=d, min=16, max=255,
        help="Length of passwords the guest generates."), 36),
    # -- the server process (only for plugins that name them) ------------
    "port": (_opt(
        cfg.PortOpt, "port",
        "Port the server listens on for clients."), None),
    # a datastore on a guest serves clients from other hosts by design
    "bind_address": (_opt(
        cfg.StrOpt, "bind_address",
        "Address the server listens on for clients."),
        "0.0.0.0"),  # noqa: S104
    "runner": (_opt(
        cfg.StrOpt, "runner",
        "How the guest supervises the server.",
        choices=[("systemd", "drive systemd_unit (VM images)"),
                 ("child", "run server_binary as a child process of the "
                  "guest (containers, tests)")]), "systemd"),
    "systemd_unit": (_opt(
        cfg.StrOpt, "systemd_unit",
        "The server's systemd unit, started and stopped when runner is "
        "'systemd'; it must run the server on config_file."), None),
    "server_binary": (_opt(
        cfg.StrOpt, "server_binary",
        "The server program (a name on PATH or a path); started by the "
        "guest when runner is 'child'."), None),
    "client_binary": (_opt(
        cfg.StrOpt, "client_binary",
        "The server's command-line client program."), None),
    "config_file": (_opt(
        cfg.StrOpt, "config_file",
        "The server configuration file the guest renders (the one "
        "systemd_unit must read)."), None),
    "data_dir": (_opt(
        cfg.StrOpt, "data_dir",
        "The server's data directory; when unset, the datastore's place "
        "on the data volume (mount_point, or a directory in it)."), None),
    "log_file": (_opt(
        cfg.StrOpt, "log_file",
        "The server's own log file (a server run with runner 'child' may "
        "log to the guest's state directory instead)."), None),
    "service_user": (_opt(
        cfg.StrOpt, "service_user",
        "The OS account the server runs as; the guest hands the server's "
        "directories to it ('root' only in throw-away test "
        "environments)."), None),
    "start_timeout": (_opt(
        cfg.IntOpt, "start_timeout",
        "Seconds to wait for the server to accept connections after a "
        "start (loading a large data set takes time).", min=1), 120),
}

#: Common server options a plugin gets only when it names them.
_SERVER_OPT_IN = frozenset(("mount_point",))

#: Common guest options a plugin gets only when it names them.
_GUEST_OPT_IN = frozenset((
    "port", "bind_address", "runner", "systemd_unit", "server_binary",
    "client_binary", "config_file", "data_dir", "log_file", "service_user",
    "start_timeout"))


def _build(table, side, defaults, wanted=(), opt_in=frozenset()):
    unknown = sorted((set(defaults) | set(wanted)) - set(table))
    if unknown:
        raise TypeError("no common %s option named %s; common ones are %s"
                        % (side, unknown, sorted(table)))
    opts = []
    for name, (factory, default) in table.items():
        if name in opt_in and name not in defaults and name not in wanted:
            continue
        value = defaults.get(name, default)
        if isinstance(value, Renamed):
            opts.append(factory(value.default,
                                deprecated_name=value.old_name))
        else:
            opts.append(factory(value))
    return opts


def server_opts(*wanted, **defaults):
    """Return the common server-side options with these defaults.

    ``mount_point`` (which Trove's control plane sends to the guest) is
    included only when named, by keyword with the same default as the
    guest side.

    :param wanted: names of opt-in options to include with the core's
        default.
    :param defaults: option name -> this datastore's default.
    :raises TypeError: a name is not a common server option.
    """
    return _build(_SERVER, "server", defaults, wanted, _SERVER_OPT_IN)


def guest_opts(*wanted, **defaults):
    """Return the common guest-side options with these defaults.

    The options of a server process (``port``, ``bind_address``,
    ``runner``, ``systemd_unit``, ``server_binary``, ``client_binary``,
    ``config_file``, ``data_dir``, ``log_file``, ``service_user``,
    ``start_timeout``) are included only when named here.

    :param wanted: names of server process options to include with the
        core's default.
    :param defaults: option name -> this datastore's default, or a
        :class:`Renamed` default when the plugin called it otherwise.
    :raises TypeError: a name is not a common guest option.
    """
    return _build(_GUEST, "guest", defaults, wanted, _GUEST_OPT_IN)


def namespace(datastore, side):
    """The ``oslo.config.opts`` namespace of one side of a datastore."""
    if side not in SIDES:
        raise ValueError("side must be one of %s, got %r" % (SIDES, side))
    return "trove.datastore.%s.%s" % (datastore, side)


def load_side(datastore, side):
    """Return the ``[(group, opts)]`` a datastore exports for one side.

    Loads exactly one ``oslo.config.opts`` entry point.

    :raises PluginNotFound: the datastore exports no options for ``side``.
    """
    from stevedore import driver

    from trove_core import exceptions

    name = namespace(datastore, side)
    try:
        mgr = driver.DriverManager("oslo.config.opts", name,
                                   invoke_on_load=True)
    except Exception as exc:  # stevedore raises several unrelated types
        raise exceptions.PluginNotFound(
            "datastore %r exports no %s options (%s): %s"
            % (datastore, side, name, exc),
            name=datastore, installed=[]) from exc
    return list(mgr.driver)


def register_side(conf, datastore, side):
    """Register one side of a datastore's options on ``conf``.

    Each registration gets its own ``OptGroup``: oslo.config keeps the
    options registered in a group inside the group object, so sharing a
    plugin's module-level group between two ``ConfigOpts`` would leak one
    process's options into another.

    :returns: the names of the groups registered.
    """
    groups = []
    for group, opts in load_side(datastore, side):
        if isinstance(group, cfg.OptGroup):
            group = cfg.OptGroup(group.name, title=group.title,
                                 help=group.help)
        conf.register_opts(opts, group=group)
        groups.append(getattr(group, "name", group) or "DEFAULT")
    return groups
