"""A guest's own identity on RabbitMQ, limited to its own queues.

In Trove every guest carries the control plane's broker credentials, so a
tenant who takes over one guest can read every other guest's commands and
speak for any of them. Here each guest gets a user ``trove-guest-<id>``
whose permissions (regular expressions on the virtual host) reach only:

* its own queues and fanout exchange: ``guestagent.<id>``,
  ``guestagent.<id>.<server>``, ``guestagent.<id>_fanout`` and
  ``guestagent.<id>_fanout_<hex>`` (configure, write, read);
* the control exchange (``trove``): oslo.messaging declares it before it
  consumes or publishes, the guest binds its queues to it and casts to the
  conductor through it. RabbitMQ *topic permissions* on that exchange
  limit the routing keys: the guest may publish only with the conductor's
  topic and bind only keys of its own topic;
* ``amq.default`` (write): oslo.messaging sends replies through the
  default exchange to the caller's ``reply_<uuid>`` queue.

What the broker cannot limit (a guest may publish through the default
exchange to any queue it can name, and may delete the control exchange
it must be able to declare) is covered in ``docs/security.rst``.
"""

import base64
import concurrent.futures
import hashlib
import json
import logging
import os
import re
import subprocess
import urllib.parse

from trove_core import exceptions
from trove_core.security import keys

__all__ = ["GUEST_QUEUE_PATTERN", "GuestBrokerPolicy", "QUEUE_POLICY",
           "Rabbitmqctl", "USER_PREFIX", "password_hash"]

LOG = logging.getLogger(__name__)

USER_PREFIX = "trove-guest-"
_EX_NOUSER = 67
#: The operator policy that expires the queues of guests gone for good.
QUEUE_POLICY = "trove-guest-queues"
#: Every guest's queues (topic, server and fanout queues).
GUEST_QUEUE_PATTERN = r"^guestagent\."


def password_hash(password):
    """RabbitMQ's salted SHA-256 hash of ``password``
    (``rabbit_password_hashing_sha256``), for definitions: the broker
    stores only this, and the password itself never leaves the caller.
    """
    salt = os.urandom(4)
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _literal(text):
    """Escape a validated name for a RabbitMQ (PCRE) regex."""
    return re.sub(r"([.\-])", r"\\\1", text)


class GuestBrokerPolicy:
    """The broker identity and permissions of one guest.

    :param guest_id: the guest's instance id (letters, digits, dashes).
    :param vhost: the virtual host the control plane uses.
    :param exchange: the control exchange (``[DEFAULT] control_exchange``).
    :param conductor_topic: the conductor's topic (``[DEFAULT]
        conductor_queue`` in Trove).
    :param max_connections: broker connections the user may open.
    :param max_channels: channels the user may open in all.
    :raises InvalidIdentifier: when a name is not acceptable.
    """

    def __init__(self, guest_id, vhost="/", exchange="trove",
                 conductor_topic="trove-conductor", max_connections=16,
                 max_channels=64):
        self.guest_id = keys.check_instance_id(guest_id)
        for kind, value in (("exchange", exchange),
                            ("conductor topic", conductor_topic)):
            if not _NAME_RE.match(value):
                raise exceptions.InvalidIdentifier(
                    kind=kind, value=value,
                    reason="use letters, digits, '.', '_' or '-'")
        if not vhost or any(c in vhost for c in "\r\n\0"):
            raise exceptions.InvalidIdentifier(
                kind="vhost", value=vhost, reason="empty or control chars")
        self.vhost = vhost
        self.exchange = exchange
        self.conductor_topic = conductor_topic
        self.max_connections = int(max_connections)
        self.max_channels = int(max_channels)

    @property
    def username(self):
        """The broker user name, ``trove-guest-<id>``."""
        return USER_PREFIX + self.guest_id

    @property
    def _own(self):
        gid = _literal(self.guest_id)
        return r"guestagent\.%s(\..+|_fanout(_[0-9a-f]+)?)?" % gid

    def permissions(self):
        """Return the vhost permissions as ``(configure, write, read)``."""
        exch = _literal(self.exchange)
        own = self._own
        return ("^(%s|%s)$" % (exch, own),
                r"^(%s|%s|amq\.default)$" % (exch, own),
                "^(%s|%s)$" % (exch, own))

    def topic_permissions(self):
        """Return ``(exchange, write, read)`` routing-key limits."""
        return (self.exchange,
                "^%s$" % _literal(self.conductor_topic),
                r"^guestagent\.%s(\..+)?$" % _literal(self.guest_id))

    def user_limits(self):
        """Return the user limits as ``rabbitmqctl set_user_limits`` JSON."""
        return json.dumps({"max-connections": self.max_connections,
                           "max-channels": self.max_channels})

    def definitions(self, password):
        """This guest's user, permissions, topic permissions and limits
        as RabbitMQ definitions (``import_definitions``), the password
        hashed (:func:`password_hash`).

        :returns: ``{"users": [...], "permissions": [...],
            "topic_permissions": [...]}``, one entry each.
        """
        configure, write, read = self.permissions()
        exchange, topic_write, topic_read = self.topic_permissions()
        return {
            "users": [{
                "name": self.username,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
                "limits": {"max-connections": self.max_connections,
                           "max-channels": self.max_channels}}],
            "permissions": [{
                "user": self.username, "vhost": self.vhost,
                "configure": configure, "write": write, "read": read}],
            "topic_permissions": [{
                "user": self.username, "vhost": self.vhost,
                "exchange": exchange, "write": topic_write,
                "read": topic_read}],
        }

    def transport_url(self, password, host="127.0.0.1", port=5672,
                      scheme="rabbit"):
        """Build the guest's ``transport_url``.

        :param password: the guest's broker password.
        :param host: the broker's host as the guest reaches it.
        :param port: the broker's AMQP port.
        :param scheme: the oslo.messaging driver (``rabbit``); TLS is
            set with ``[oslo_messaging_rabbit] ssl`` on the guest.
        :returns: ``rabbit://user:password@host:port/vhost``.
        """
        quote = urllib.parse.quote
        vhost = "" if self.vhost == "/" else quote(self.vhost, safe="")
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        return "%s://%s:%s@%s:%d/%s" % (
            scheme, quote(self.username, safe=""), quote(password, safe=""),
            host, port, vhost)


class Rabbitmqctl:
    """Run ``rabbitmqctl`` with argv lists; passwords go through stdin.

    :param node: the RabbitMQ node (``-n``), or ``None`` for the default.
    :param binary: the ``rabbitmqctl`` executable.
    :param timeout: seconds per command.
    :param env: the environment of the commands (this process's by
        default); a private node's ``HOME`` holds its Erlang cookie.
    """

    def __init__(self, node=None, binary="rabbitmqctl", timeout=60,
                 env=None):
        self.node = node
        self.binary = binary
        self.timeout = timeout
        self.env = env

    def _run(self, guest_id, args, stdin=None):
        argv = [self.binary]
        if self.node:
            argv += ["-n", self.node]
        argv += ["-q"] + list(args)
        LOG.debug("running %s", " ".join(argv))
        try:
            proc = subprocess.run(
                argv, input=stdin, capture_output=True, text=True,
                timeout=self.timeout, check=False, env=self.env)
        except FileNotFoundError:
            raise exceptions.BrokerError(
                command=args[0], guest_id=guest_id,
                reason="%r not found; run this on a RabbitMQ node as root "
                       "(or the rabbitmq user)" % self.binary) from None
        except subprocess.TimeoutExpired:
            raise exceptions.BrokerError(
                command=args[0], guest_id=guest_id,
                reason="no answer within %ss; is the node running?"
                       % self.timeout) from None
        if proc.returncode != 0:
            # rabbitmqctl never echoes a password read from stdin, so its
            # error output is safe to show.
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise exceptions.BrokerError(
                command=args[0], guest_id=guest_id,
                reason=detail[-1] if detail else "exit %d" % proc.returncode,
                returncode=proc.returncode)
        return proc.stdout

    def user_exists(self, policy):
        """Return whether the guest's user exists."""
        out = self._run(policy.guest_id, ["list_users", "--no-table-headers"])
        return any(line.split("\t", 1)[0] == policy.username
                   for line in out.splitlines())

    def create(self, policy, password):
        """Create the user and set its permissions; undo on failure.

        :param policy: a :class:`GuestBrokerPolicy`.
        :param password: the password, passed on stdin only.
        :raises BrokerError: when a command fails (the user is removed).
        """
        # Without the password argument, rabbitmqctl (3.10+) reads it from
        # stdin, which keeps it off every process list.
        try:
            self._run(policy.guest_id, ["add_user", policy.username],
                      stdin=password + "\n")
        except exceptions.BrokerError as exc:
            if "already exists" in exc.reason:
                raise exceptions.BrokerError(
                    command="add_user", guest_id=policy.guest_id,
                    reason="user %r already exists; remove it with "
                           "'trove-guest-credentials delete %s' first"
                           % (policy.username, policy.guest_id)) from None
            raise
        try:
            self._run(policy.guest_id,
                      ["set_permissions", "-p", policy.vhost,
                       policy.username, *policy.permissions()])
            self._run(policy.guest_id,
                      ["set_topic_permissions", "-p", policy.vhost,
                       policy.username, *policy.topic_permissions()])
            self._run(policy.guest_id,
                      ["set_user_limits", policy.username,
                       policy.user_limits()])
        except exceptions.BrokerError:
            self._run(policy.guest_id, ["delete_user", policy.username])
            raise
        LOG.info("created broker user %s for guest %s on vhost %s",
                 policy.username, policy.guest_id, policy.vhost)

    def delete(self, policy, missing_ok=False):
        """Delete the guest's user (its permissions go with it).

        :param policy: a :class:`GuestBrokerPolicy`.
        :param missing_ok: do not fail when the user does not exist.
        :returns: whether a user was deleted.
        :raises BrokerError: when the command fails.
        """
        try:
            self._run(policy.guest_id, ["delete_user", policy.username])
        except exceptions.BrokerError as exc:
            # rabbitmqctl exits with 67 (EX_NOUSER) for an unknown user.
            if missing_ok and exc.kwargs.get("returncode") == _EX_NOUSER:
                return False
            raise
        LOG.info("deleted broker user %s", policy.username)
        return True

    def list_usernames(self):
        """The names of every user of the broker."""
        out = self._run("-", ["list_users", "--no-table-headers"])
        return {line.split("\t", 1)[0] for line in out.splitlines()
                if line.strip()}

    def create_many(self, pairs):
        """Create many guests' users at once, with one
        ``import_definitions`` read from stdin (a fleet's worth in about
        a second, where :meth:`create` runs four commands per guest).

        Nothing is changed when one of the users exists already.

        :param pairs: ``(policy, password)`` tuples.
        :returns: the number of users created.
        :raises BrokerError: a user exists, the import failed, or a user
            is missing after it.
        """
        pairs = list(pairs)
        if not pairs:
            return 0
        names = [policy.username for policy, _password in pairs]
        if len(set(names)) != len(names):
            raise exceptions.BrokerError(
                command="import_definitions", guest_id="-",
                reason="the same guest is listed twice; list each once")
        existing = sorted(self.list_usernames() & set(names))
        if existing:
            raise exceptions.BrokerError(
                command="import_definitions", guest_id=existing[0],
                reason="%d user(s) exist already (first: %r); remove them "
                       "with 'trove-guest-credentials delete' first; "
                       "nothing was changed" % (len(existing), existing[0]))
        merged = {"users": [], "permissions": [], "topic_permissions": []}
        for policy, password in pairs:
            for key, entries in policy.definitions(password).items():
                merged[key].extend(entries)
        self._run("-", ["import_definitions"], stdin=json.dumps(merged))
        missing = set(names) - self.list_usernames()
        if missing:
            raise exceptions.BrokerError(
                command="import_definitions", guest_id=sorted(missing)[0],
                reason="the import succeeded but %d user(s) are missing; "
                       "check the broker's log" % len(missing))
        LOG.info("created %d guest broker users", len(pairs))
        return len(pairs)

    def delete_many(self, policies, missing_ok=False, workers=4):
        """Delete many guests' users.

        One ``rabbitmqctl eval`` deletes them all through the broker's
        own ``rabbit_auth_backend_internal:delete_user/2`` (what
        ``delete_user`` runs; the names are validated guest user names,
        so they embed safely); users still there afterwards (another
        RabbitMQ version, say) are deleted one ``delete_user`` at a time,
        ``workers`` at once. The broker's user list is checked at the end.

        :param missing_ok: do not fail when a user does not exist;
            otherwise nothing is deleted when one is missing.
        :returns: the number of users deleted.
        :raises BrokerError: a user is missing (without ``missing_ok``)
            or still exists at the end.
        """
        policies = list(policies)
        names = {policy.username for policy in policies}
        present = self.list_usernames() & names
        if not missing_ok and names - present:
            missing = sorted(names - present)
            raise exceptions.BrokerError(
                command="delete_user", guest_id=missing[0],
                reason="%d user(s) do not exist (first: %r); pass "
                       "missing_ok to delete the others; nothing was "
                       "deleted" % (len(missing), missing[0]))
        if not present:
            return 0
        users = ", ".join('<<"%s">>' % name for name in sorted(present))
        try:
            self._run("-", ["eval", "[catch rabbit_auth_backend_internal:"
                            "delete_user(U, <<\"trove-guest-credentials\">>)"
                            " || U <- [%s]], ok." % users])
        except exceptions.BrokerError as exc:
            LOG.warning("bulk user deletion failed (%s); deleting one by "
                        "one", exc.reason)
        remaining = self.list_usernames() & present
        left = [p for p in policies if p.username in remaining]
        if left:
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                futures = [pool.submit(self.delete, policy, True)
                           for policy in left]
            for future in futures:
                future.result()
        still = sorted(self.list_usernames() & present)
        if still:
            raise exceptions.BrokerError(
                command="delete_user", guest_id=still[0],
                reason="%d user(s) still exist after deletion; check the "
                       "broker's log" % len(still))
        LOG.info("deleted %d guest broker users", len(present))
        return len(present)

    def set_queue_expiry(self, vhost="/", expires=86400,
                         max_length=None):
        """Expire the queues of guests gone for good.

        Sets the operator policy :data:`QUEUE_POLICY` on every
        ``guestagent.*`` queue of ``vhost``: a queue nobody consumed
        from, declared or read for ``expires`` seconds is deleted (with
        the casts waiting in it). A live guest consumes, so its queues
        never expire. Operator policies combine with the deployment's own
        policies (HA, quorum settings) instead of replacing them.

        :param expires: seconds of disuse before a queue is deleted.
        :param max_length: also cap each guest queue at this many
            messages (the oldest are dropped), or ``None``.
        :raises BadRequest: a value is not a positive integer.
        :raises BrokerError: the command failed.
        """
        definition = {}
        for key, value in (("expires", expires),
                           ("max-length", max_length)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value < 1:
                raise exceptions.BadRequest(
                    reason="queue %s must be a positive number of %s, "
                           "not %r" % (key, "seconds" if key == "expires"
                                       else "messages", value))
            definition[key] = value * 1000 if key == "expires" else value
        self._run("-", ["set_operator_policy", "-p", vhost, "--apply-to",
                        "queues", QUEUE_POLICY, GUEST_QUEUE_PATTERN,
                        json.dumps(definition, sort_keys=True)])
        LOG.info("guest queues on vhost %s: %s", vhost, definition)
        return definition

    def clear_queue_expiry(self, vhost="/"):
        """Remove the :data:`QUEUE_POLICY` operator policy."""
        self._run("-", ["clear_operator_policy", "-p", vhost,
                        QUEUE_POLICY])
