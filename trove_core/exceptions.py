"""Errors raised by trove-core, one shallow tree under :class:`TroveError`.

Every error builds its message from keyword arguments and keeps them in
``kwargs`` so that oslo.messaging can carry it across RPC and rebuild the
same class on the caller's side (``allowed_remote_exmods``).
"""


class TroveError(Exception):
    """Base of every trove-core error."""

    msg_fmt = "an unknown trove-core error occurred"

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError, ValueError):
                message = "%s: %r" % (self.msg_fmt, kwargs)
        self.message = message
        super().__init__(message)


class InvalidTier(TroveError, ValueError):
    """A maturity tier name is not one of the known tiers."""

    msg_fmt = "unknown maturity tier %(value)r; valid tiers are %(valid)s"


class PluginError(TroveError):
    """A datastore plugin cannot be used."""

    msg_fmt = "datastore plugin %(name)r cannot be used: %(reason)s"


class PluginNotFound(PluginError):
    """No installed plugin has the requested name."""

    msg_fmt = ("no datastore plugin named %(name)r is installed "
               "(installed: %(installed)s); install it with %(command)s")


class PluginLoadError(PluginError):
    """A plugin's entry point failed to import."""


class IncompatiblePlugin(PluginError):
    """A plugin targets a plugin API the core does not provide."""


class InvalidDescriptor(PluginError):
    """A plugin's descriptor is malformed."""


class DuplicatePlugin(PluginError):
    """Two distributions register the same datastore name."""


class PluginValidationError(PluginError):
    """A manager does not implement what it declares."""


class InvalidParameterSchema(PluginError):
    """A plugin's configuration parameter schema file is malformed."""

    msg_fmt = ("configuration parameter schema %(path)s is invalid: "
               "%(reason)s (fix the file; its format is in the module "
               "doc of trove_core.configuration)")


class DriverNotInstalled(PluginError):
    """The datastore driver of a plugin's ``[guest]`` extra is missing."""

    msg_fmt = ("datastore plugin %(name)r needs the Python module "
               "%(module)r, which is not installed; run %(command)s")


class TierNotAllowed(TroveError):
    """The tier policy refuses a datastore or strategy."""

    msg_fmt = ("%(kind)s %(name)r is %(tier)s; allowed tiers are "
               "%(allowed)s (set [DEFAULT] allowed_tiers to run it)")


class OperationNotSupported(TroveError):
    """The datastore does not declare the requested operation."""

    msg_fmt = ("datastore %(datastore)r does not support operation "
               "%(operation)r")


class NotClusterMember(TroveError):
    """A cluster operation reached a guest not prepared as a member."""

    msg_fmt = ("datastore %(datastore)r on this guest is not a cluster "
               "member, so %(operation)r is refused; a guest becomes a "
               "member when prepare receives a cluster_config (create it "
               "as part of a cluster)")


class UnknownOperation(TroveError):
    """The requested operation is not part of the guest API."""

    msg_fmt = "%(operation)r is not an operation of the guest API"


class BadRequest(TroveError, ValueError):
    """A request's arguments are malformed; nothing was changed."""

    msg_fmt = "bad request: %(reason)s"


class InvalidIdentifier(BadRequest):
    """A database, user or host name is not acceptable."""

    msg_fmt = "invalid %(kind)s name %(value)r: %(reason)s"


class InvalidConfiguration(BadRequest):
    """A configuration override is unknown or out of range."""

    msg_fmt = "invalid configuration parameter %(name)r: %(reason)s"


class NotFound(TroveError):
    """A named database, user or backup does not exist."""

    msg_fmt = "%(kind)s %(name)r was not found"


class GuestBusy(TroveError):
    """Another mutating operation is already running on this guest."""

    msg_fmt = ("guest is busy with %(running)r (started %(since)s); "
               "%(operation)r was not started, retry when it finishes")


class DatastoreError(TroveError):
    """The datastore failed to carry out an operation."""

    msg_fmt = "datastore operation %(operation)r failed: %(reason)s"


class ClusterError(DatastoreError):
    """A cluster operation failed; the member reports ``failed``."""

    msg_fmt = "cluster operation %(operation)r failed: %(reason)s"


class BackupError(DatastoreError):
    """A backup or restore did not complete; nothing was reported done."""

    msg_fmt = "backup %(backup_id)r failed: %(reason)s"


class BackupKeyError(BackupError, BadRequest):
    """The configured backup encryption key is unreadable or malformed."""

    msg_fmt = "backup %(backup_id)r: %(reason)s"


class SecureRPCError(TroveError):
    """A sealed RPC message was refused; its content is never shown."""

    msg_fmt = ("secure RPC message refused: %(reason)s (instance "
               "%(instance_id)s); check that both sides share the guest's "
               "key and that [secure_rpc] enabled matches on both")


class PlaintextRefused(SecureRPCError):
    """A message arrived without a seal while secure RPC is enabled."""


class MessageAuthenticationFailed(SecureRPCError):
    """A seal did not verify: tampered, or sealed with another key."""


class MessageReplayed(SecureRPCError):
    """A sealed message was seen before or is outside the replay window."""


class WrongInstance(SecureRPCError):
    """A sealed message speaks for an instance other than its sender."""


class SecureRPCKeyError(SecureRPCError):
    """A guest's secure RPC key is missing, unreadable or malformed."""

    msg_fmt = "secure RPC key for instance %(instance_id)s: %(reason)s"


class GuestUnreachable(TroveError):
    """A guest did not answer a call in time."""

    msg_fmt = ("guest %(guest_id)r did not answer %(operation)r within "
               "%(timeout)s s; check that its trove-guestagent runs and "
               "reaches the message broker")


class UnsupportedVersion(TroveError):
    """A guest API version is above the caller's cap or the guest's."""

    msg_fmt = ("%(operation)r needs guest API %(version)s but only "
               "%(cap)s is allowed (raise [upgrade_levels] guestagent, or "
               "upgrade the guest)")


class BrokerError(TroveError):
    """Provisioning a guest's message-bus identity failed."""

    msg_fmt = ("broker command %(command)r failed for guest %(guest_id)r: "
               "%(reason)s")
