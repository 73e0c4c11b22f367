"""Capability contracts: one ``zope.interface`` interface per capability.

The docstrings here are the specification of each guest operation. A
manager declares the capabilities it implements with
``@zope.interface.implementer(...)``; the framework verifies the
declaration at load, derives the capability set from it, and exposes over
RPC only the operations of declared interfaces.

Operation names and keyword arguments are those of Trove's guest API 1.x,
so an existing Trove control plane can drive a guest. Managers receive the
typed models of :mod:`trove_core.models`, never raw RPC dicts: the RPC
layer converts and validates them first.

Each operation carries tagged values read by the RPC layer:

``kind``
    ``call`` (the caller waits for a result) or ``cast`` (fire and forget).
``since``
    the guest API version that introduced it.
``mutating``
    whether it changes the datastore; mutating operations on one guest are
    serialized, reads are never blocked by them.
``long``
    whether it reports progress while it runs.
"""

import dataclasses

from zope.interface import Interface

__all__ = [
    "CAPABILITIES", "CLUSTER_FAMILIES", "IAccess", "IBackup",
    "ICassandraCluster", "ICluster", "IConfiguration", "IDatabases",
    "IDiagnostics", "IGaleraCluster", "IGuestLogs", "ILifecycle",
    "IModules", "IMongoDBCluster", "IRedisCluster", "IReplication",
    "IRoot", "ISSL",
    "IUpgrade", "IUsers", "IVolume", "OPERATIONS", "OperationSpec",
    "capabilities_of", "cluster_families", "interfaces_of",
    "is_cluster_operation",
]


@dataclasses.dataclass(frozen=True)
class OperationSpec:
    """How the guest API carries one operation."""

    name: str
    capability: str
    kind: str
    since: str
    mutating: bool
    long: bool = False


class ILifecycle(Interface):
    """Install, start, stop and configure the datastore process."""

    def prepare(memory_mb, packages, databases, users, device_path=None,
                mount_point=None, backup_info=None, config_contents=None,
                root_password=None, overrides=None, cluster_config=None,
                snapshot=None, modules=None, ds_version=None):
        """Bring a fresh guest to a running, secured datastore.

        Initializes storage, restores ``backup_info`` first when given,
        renders the configuration from the guest options plus
        ``config_contents`` and ``overrides``, starts the datastore, then
        creates ``databases`` and ``users`` and sets ``root_password``.
        Idempotent: a prepared guest returns at once. On failure the status
        is ``failed`` and the datastore is never claimed healthy.
        """

    def restart():
        """Stop then start the datastore with its current configuration."""

    def stop_db(do_not_start_on_reboot=False):
        """Stop the datastore; optionally keep it down across reboots."""

    def start_db_with_conf_changes(config_contents, ds_version=None):
        """Write ``config_contents`` as the base configuration and start."""

    def reset_configuration(configuration):
        """Replace the base configuration without restarting."""

    def get_filesystem_stats(fs_path):
        """Return ``{"block_size", "total_blocks", "free_blocks", "total",
        "free", "used"}`` (sizes in GiB) for the data volume."""


class IDatabases(Interface):
    """Logical databases (schemas, keyspaces, numbered databases)."""

    def create_database(databases):
        """Create each :class:`~trove_core.models.Database` given."""

    def list_databases(limit=None, marker=None, include_marker=False):
        """Return ``(databases, next_marker)``, paged by name; system
        databases are hidden."""

    def delete_database(database):
        """Drop one :class:`~trove_core.models.Database`."""


class IUsers(Interface):
    """Datastore accounts."""

    def create_user(users):
        """Create each :class:`~trove_core.models.User`, granting its
        databases."""

    def get_user(username, hostname):
        """Return the :class:`~trove_core.models.User` or ``None``."""

    def list_users(limit=None, marker=None, include_marker=False):
        """Return ``(users, next_marker)``, paged by ``name@host``; system
        users are hidden."""

    def delete_user(user):
        """Drop one :class:`~trove_core.models.User`."""

    def change_passwords(users):
        """Set the password of each user given."""

    def update_attributes(username, hostname, user_attrs):
        """Rename a user, change its host or password (``user_attrs`` keys
        ``name``, ``host``, ``password``); all or nothing."""


class IAccess(Interface):
    """Which databases a user may reach."""

    def list_access(username, hostname):
        """Return the :class:`~trove_core.models.Database` list the user
        may reach."""

    def grant_access(username, hostname, databases):
        """Grant the user full access to each database name given."""

    def revoke_access(username, hostname, database):
        """Revoke the user's access to one database name."""


class IRoot(Interface):
    """The datastore's superuser."""

    def enable_root():
        """Enable the superuser with a generated password; return it as a
        :class:`~trove_core.models.User`."""

    def enable_root_with_password(root_password=None):
        """Enable the superuser with ``root_password`` (generated when
        ``None``); return it as a :class:`~trove_core.models.User`."""

    def disable_root():
        """Disable remote superuser access."""

    def is_root_enabled():
        """Whether superuser access has been enabled."""

    def get_root_password():
        """Return the superuser password last set through the guest, or
        ``None``."""


class IBackup(Interface):
    """Backups streamed to backup storage, restored through ``prepare``."""

    def create_backup(backup_info):
        """Stream a backup described by ``backup_info`` (``id``,
        ``location``, ``type``, ``parent``, ``datastore``) to storage and
        report its progress and result with ``update_backup``."""

    def pre_create_backup():
        """Quiesce the datastore before a storage snapshot."""

    def post_create_backup():
        """Undo :meth:`pre_create_backup`."""


class IReplication(Interface):
    """One primary and its replicas."""

    def backup_required_for_replication():
        """Whether a replica must be seeded from a backup."""

    def get_replication_snapshot(snapshot_info, replica_source_config=None):
        """Prepare this guest as a primary and return the snapshot a
        replica attaches with."""

    def attach_replica(replica_info, slave_config, restart=False):
        """Follow the primary described by ``replica_info``."""

    def detach_replica(for_failover=False):
        """Stop following; return the replication context."""

    def get_replica_context():
        """Return what a replica needs to follow this primary."""

    def make_read_only(read_only):
        """Refuse (or again accept) client writes."""

    def enable_as_master(replica_source_config):
        """Start acting as a primary."""

    def get_last_txn():
        """Return ``(source_id, txn_id)`` of the last applied
        transaction."""

    def get_latest_txn_id():
        """Return the id of the latest transaction of this server."""

    def wait_for_txn(txn):
        """Block until transaction ``txn`` has been applied here."""

    def demote_replication_master():
        """Stop acting as a primary."""


class IConfiguration(Interface):
    """Configuration overrides checked against the plugin's schema."""

    def update_overrides(overrides, remove=False):
        """Persist ``overrides`` (or remove them) for the next start."""

    def apply_overrides(overrides):
        """Apply dynamic ``overrides`` to the running datastore; return the
        names that need a restart."""


class IGuestLogs(Interface):
    """Datastore logs the user may see."""

    def guest_log_list():
        """Return the exposed logs with their type, status and size."""

    def guest_log_action(log_name, enable, disable, publish, discard):
        """Enable, disable, publish or discard one log."""


class ICluster(Interface):
    """Membership in a cluster the control plane builds.

    The common protocol of every cluster family (Trove's cluster
    strategies): a guest becomes a *member* when ``prepare`` receives a
    ``cluster_config`` (``{"id": <cluster id>, "instance_type":
    "member"}``; MongoDB adds ``shard_id``, ``replica_set_name``,
    ``key``). A member reports ``instance ready``, never active, until
    :meth:`cluster_complete`; its cluster identity and role are kept in
    the guest's state and survive a guest restart. Every operation of a
    cluster capability is refused with
    :class:`~trove_core.exceptions.NotClusterMember` on a guest that is
    not a member, before anything touches the datastore. A family's
    operations are declared by the interfaces that extend this one.
    """

    def cluster_complete():
        """Called once every member of the cluster is ready: from now on
        the member reports its real status (``running``/``healthy``)."""


class IGaleraCluster(ICluster):
    """A Galera member (Trove's ``galera_common``: MariaDB, PXC).

    Trove creates a cluster by calling, on each member in order,
    :meth:`reset_admin_password` then :meth:`install_cluster`
    (``bootstrap`` true only for the first), then ``cluster_complete``
    on all of them.
    """

    def reset_admin_password(admin_password):
        """Store ``admin_password`` as the guest's admin account password
        (the same on every member, since the accounts replicate)."""

    def install_cluster(replication_user, cluster_configuration,
                        bootstrap=False):
        """Join (or, with ``bootstrap``, start) the cluster.

        ``replication_user`` is ``{"name", "password"}``, the account the
        state transfer uses; ``cluster_configuration`` is the fragment
        Trove renders from its ``cluster.config.template``. The guest
        grants the account, stops the server, writes the fragment (with
        host paths and ports corrected) as an override and starts a new
        cluster or joins the existing one.
        """

    def get_cluster_context():
        """Return ``{"replication_user": {"name", "password"},
        "cluster_name", "admin_password"}`` for growing the cluster."""

    def write_cluster_configuration_overrides(cluster_configuration):
        """Replace the stored fragment (a new member address list) for
        the next start, without restarting."""


class IMongoDBCluster(ICluster):
    """A MongoDB sharded-cluster member: shard replica-set member,
    config server or query router (``mongos``)."""

    def add_shard(replica_set_name, replica_set_member):
        """On a query router: add shard ``replica_set_name`` reached
        through ``replica_set_member`` (an address)."""

    def add_members(members):
        """On a replica set's primary: initiate the set and add the
        ``members`` addresses."""

    def add_config_servers(config_servers):
        """On a query router: point ``mongos`` at ``config_servers``."""

    def get_key():
        """Return the cluster's internal-authentication key."""

    def prep_primary():
        """Make this member the replica set's primary-to-be."""

    def create_admin_user(password):
        """Create the cluster's admin user with ``password``."""

    def store_admin_password(password):
        """Store the cluster's admin password on this member."""

    def get_replica_set_name():
        """Return the replica set this member belongs to."""

    def get_admin_password():
        """Return the stored cluster admin password."""

    def is_shard_active(replica_set_name):
        """Whether shard ``replica_set_name`` is part of the cluster."""


class ICassandraCluster(ICluster):
    """A Cassandra ring node."""

    def get_data_center():
        """Return this node's data center name."""

    def get_rack():
        """Return this node's rack name."""

    def set_seeds(seeds):
        """Use ``seeds`` (addresses) as the ring's seed nodes."""

    def get_seeds():
        """Return the seed addresses this node uses."""

    def set_auto_bootstrap(enabled):
        """Whether the node streams its data range when it joins."""

    def node_cleanup_begin():
        """Prepare for :meth:`node_cleanup` (status while it runs)."""

    def node_cleanup():
        """Drop the data this node no longer owns (runs in the
        background)."""

    def node_decommission():
        """Stream this node's data away and leave the ring (runs in the
        background)."""

    def cluster_secure(password):
        """Replace the default superuser with an admin account whose
        password is ``password``; return its credentials."""

    def get_admin_credentials():
        """Return the stored admin credentials."""

    def store_admin_credentials(admin_credentials):
        """Store admin credentials another node created."""


class IRedisCluster(ICluster):
    """A Redis Cluster master (Trove's ``redis`` cluster strategy).

    Trove creates a cluster with :meth:`cluster_meet` on every member but
    the first (pointing at the first), :meth:`cluster_addslots` on each
    member (together covering slots 0-16383), then ``cluster_complete``
    on all. It grows one with :meth:`get_node_ip` on an existing member
    and :meth:`cluster_meet` on the new ones, and shrinks one with
    :meth:`get_node_id_for_removal` on the leaving members and
    :meth:`remove_nodes` on the others.
    """

    def cluster_meet(ip, port):
        """Join the cluster of the member at ``ip`` and client ``port``
        (an int or a decimal string); return once the handshake is done."""

    def cluster_addslots(first_slot, last_slot):
        """Serve hash slots ``first_slot`` to ``last_slot`` inclusive
        (whole numbers, possibly sent as floats; none served elsewhere)."""

    def get_node_ip():
        """Return ``[ip, port]`` at which other members meet this one."""

    def get_node_id_for_removal():
        """Return this member's node id, or ``None`` while it still serves
        slots (the control plane then refuses the shrink)."""

    def remove_nodes(node_ids):
        """Forget the nodes ``node_ids`` that leave the cluster (called on
        each member that stays); refused for a node serving slots."""


class IVolume(Interface):
    """Block storage handled on the guest."""

    def mount_volume(device_path=None, mount_point=None):
        """Mount ``device_path`` on ``mount_point``."""

    def unmount_volume(device_path=None, mount_point=None):
        """Unmount ``mount_point``."""

    def resize_fs(device_path=None, mount_point=None, online=False):
        """Grow the filesystem to the size of its device."""


class IUpgrade(Interface):
    """In-place datastore version upgrades."""

    def pre_upgrade():
        """Save what survives an upgrade; return it."""

    def post_upgrade(upgrade_info):
        """Restore what :meth:`pre_upgrade` saved."""

    def upgrade(upgrade_info):
        """Upgrade the datastore in place."""

    def rebuild(ds_version, config_contents=None, config_overrides=None):
        """Rebuild the datastore from its persisted data."""


class IModules(Interface):
    """Trove modules applied to the guest."""

    def module_list(include_contents=False):
        """Return the applied modules."""

    def module_apply(modules=None):
        """Apply modules."""

    def module_remove(module=None):
        """Remove one module."""


class ISSL(Interface):
    """TLS for the datastore's clients, with a certificate the control
    plane sends (Trove guest API 1.3)."""

    def ssl_show():
        """Return the TLS status: ``{"status": "on"|"off", ...}``."""

    def ssl_action(mode=None, container=None, enable=False, disable=False):
        """Switch TLS on (``enable``, the certificate and key in
        ``container``) or off (``disable``); ``mode`` is Trove's
        ssl_mode."""

    def ssl_rollback():
        """Undo the last :meth:`ssl_action`."""


class IDiagnostics(Interface):
    """The guest's own diagnostics (process, memory, threads)."""

    def get_diagnostics():
        """Return Trove's diagnostics dict."""


CALL, CAST = "call", "cast"

# name: (kind, since, mutating, long) for every guest API operation.
_TAGS = {
    ILifecycle: dict(
        prepare=(CAST, "1.0", True, True),
        restart=(CALL, "1.0", True, False),
        stop_db=(CALL, "1.0", True, False),
        start_db_with_conf_changes=(CALL, "1.0", True, False),
        reset_configuration=(CALL, "1.0", True, False),
        get_filesystem_stats=(CALL, "1.0", False, False)),
    IDatabases: dict(
        create_database=(CAST, "1.0", True, False),
        list_databases=(CALL, "1.0", False, False),
        delete_database=(CAST, "1.0", True, False)),
    IUsers: dict(
        create_user=(CAST, "1.0", True, False),
        get_user=(CALL, "1.0", False, False),
        list_users=(CALL, "1.0", False, False),
        delete_user=(CAST, "1.0", True, False),
        change_passwords=(CAST, "1.0", True, False),
        update_attributes=(CAST, "1.0", True, False)),
    IAccess: dict(
        list_access=(CALL, "1.0", False, False),
        grant_access=(CALL, "1.0", True, False),
        revoke_access=(CALL, "1.0", True, False)),
    IRoot: dict(
        enable_root=(CALL, "1.0", True, False),
        enable_root_with_password=(CALL, "1.0", True, False),
        disable_root=(CALL, "1.0", True, False),
        is_root_enabled=(CALL, "1.0", False, False),
        get_root_password=(CALL, "1.0", False, False)),
    IBackup: dict(
        create_backup=(CAST, "1.0", True, True),
        pre_create_backup=(CALL, "1.2", True, False),
        post_create_backup=(CALL, "1.2", True, False)),
    IReplication: dict(
        backup_required_for_replication=(CALL, "1.0", False, False),
        get_replication_snapshot=(CALL, "1.0", True, True),
        attach_replica=(CALL, "1.0", True, False),
        detach_replica=(CALL, "1.0", True, False),
        get_replica_context=(CALL, "1.0", False, False),
        make_read_only=(CALL, "1.0", True, False),
        enable_as_master=(CALL, "1.0", True, False),
        get_last_txn=(CALL, "1.0", False, False),
        get_latest_txn_id=(CALL, "1.0", False, False),
        wait_for_txn=(CALL, "1.0", False, False),
        demote_replication_master=(CALL, "1.0", True, False)),
    IConfiguration: dict(
        update_overrides=(CALL, "1.0", True, False),
        apply_overrides=(CALL, "1.0", True, False)),
    IGuestLogs: dict(
        guest_log_list=(CALL, "1.0", False, False),
        guest_log_action=(CALL, "1.0", True, False)),
    ICluster: dict(
        cluster_complete=(CALL, "1.0", True, False)),
    IGaleraCluster: dict(
        reset_admin_password=(CALL, "1.0", True, False),
        install_cluster=(CALL, "1.0", True, True),
        get_cluster_context=(CALL, "1.0", False, False),
        write_cluster_configuration_overrides=(CALL, "1.0", True, False)),
    IMongoDBCluster: dict(
        add_shard=(CALL, "1.0", True, False),
        add_members=(CALL, "1.0", True, True),
        add_config_servers=(CALL, "1.0", True, False),
        get_key=(CALL, "1.0", False, False),
        prep_primary=(CALL, "1.0", True, False),
        create_admin_user=(CALL, "1.0", True, False),
        store_admin_password=(CALL, "1.0", True, False),
        get_replica_set_name=(CALL, "1.0", False, False),
        get_admin_password=(CALL, "1.0", False, False),
        is_shard_active=(CALL, "1.0", False, False)),
    ICassandraCluster: dict(
        get_data_center=(CALL, "1.0", False, False),
        get_rack=(CALL, "1.0", False, False),
        set_seeds=(CALL, "1.0", True, False),
        get_seeds=(CALL, "1.0", False, False),
        set_auto_bootstrap=(CALL, "1.0", True, False),
        node_cleanup_begin=(CALL, "1.0", True, False),
        node_cleanup=(CAST, "1.0", True, True),
        node_decommission=(CAST, "1.0", True, True),
        cluster_secure=(CALL, "1.0", True, False),
        get_admin_credentials=(CALL, "1.0", False, False),
        store_admin_credentials=(CALL, "1.0", True, False)),
    IRedisCluster: dict(
        cluster_meet=(CALL, "1.0", True, False),
        cluster_addslots=(CALL, "1.0", True, False),
        get_node_ip=(CALL, "1.0", False, False),
        get_node_id_for_removal=(CALL, "1.0", False, False),
        remove_nodes=(CALL, "1.0", True, False)),
    IVolume: dict(
        mount_volume=(CALL, "1.0", True, False),
        unmount_volume=(CALL, "1.0", True, False),
        resize_fs=(CALL, "1.1", True, False)),
    IUpgrade: dict(
        pre_upgrade=(CALL, "1.0", True, False),
        post_upgrade=(CALL, "1.0", True, False),
        upgrade=(CAST, "1.0", True, True),
        rebuild=(CAST, "1.0", True, True)),
    IModules: dict(
        module_list=(CALL, "1.0", False, False),
        module_apply=(CALL, "1.0", True, False),
        module_remove=(CALL, "1.0", True, False)),
    ISSL: dict(
        ssl_show=(CALL, "1.3", False, False),
        ssl_action=(CALL, "1.3", True, False),
        ssl_rollback=(CALL, "1.3", True, False)),
    IDiagnostics: dict(
        get_diagnostics=(CALL, "1.0", False, False)),
}

_NAMES = {
    ILifecycle: "lifecycle", IDatabases: "databases", IUsers: "users",
    IAccess: "access", IRoot: "root", IBackup: "backup",
    IReplication: "replication", IConfiguration: "configuration",
    IGuestLogs: "guest_logs", ICluster: "cluster", IVolume: "volume",
    IUpgrade: "upgrade", IModules: "modules", ISSL: "ssl",
    IDiagnostics: "diagnostics",
    IGaleraCluster: "cluster_galera", IMongoDBCluster: "cluster_mongodb",
    ICassandraCluster: "cluster_cassandra", IRedisCluster: "cluster_redis",
}

#: cluster family name -> its capability name. A family's interface
#: extends :class:`ICluster`, so declaring it also declares ``cluster``.
CLUSTER_FAMILIES = {
    "galera": "cluster_galera",
    "mongodb": "cluster_mongodb",
    "cassandra": "cluster_cassandra",
    "redis": "cluster_redis",
}

#: capability name -> interface, in a stable order.
CAPABILITIES = {}
#: operation name -> :class:`OperationSpec`, for every guest operation.
OPERATIONS = {}


def _register():
    for iface, tags in _TAGS.items():
        capability = _NAMES[iface]
        iface.setTaggedValue("capability", capability)
        CAPABILITIES[capability] = iface
        if set(tags) != set(iface.names()):
            raise AssertionError(
                "%s: operations and tags differ: %s"
                % (iface.__name__, set(tags) ^ set(iface.names())))
        for name, (kind, since, mutating, long_) in tags.items():
            spec = OperationSpec(name, capability, kind, since, mutating,
                                 long_)
            iface[name].setTaggedValue("spec", spec)
            OPERATIONS[name] = spec


_register()


def interfaces_of(manager_cls):
    """Return the capability interfaces ``manager_cls`` declares."""
    from zope.interface import implementedBy

    return [iface for iface in implementedBy(manager_cls).flattened()
            if iface.queryTaggedValue("capability") in CAPABILITIES]


def capabilities_of(manager_cls):
    """Return the sorted capability names ``manager_cls`` declares."""
    return sorted(iface.getTaggedValue("capability")
                  for iface in interfaces_of(manager_cls))


def is_cluster_operation(name):
    """Whether guest operation ``name`` belongs to ``cluster`` or to a
    cluster family (and so needs a guest prepared as a member)."""
    spec = OPERATIONS.get(name)
    if spec is None:
        return False
    return CAPABILITIES[spec.capability].isOrExtends(ICluster)


def cluster_families(capabilities):
    """The cluster family names among ``capabilities`` (names), sorted."""
    have = set(capabilities)
    return sorted(family for family, cap in CLUSTER_FAMILIES.items()
                  if cap in have)
