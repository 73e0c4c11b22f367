"""``trove-guest-credentials``: a guest's own broker identity.

::

    trove-guest-credentials create GUEST_ID [--output FILE]
        [--password-file FILE | --password-stdin] [--rpc-key-dir DIR]
    trove-guest-credentials delete GUEST_ID [--missing-ok] [--rpc-key-dir DIR]
    trove-guest-credentials expire-queues [--after SECONDS]
        [--max-length N] [--vhost VHOST] [--node NODE]

``create`` adds the RabbitMQ user ``trove-guest-<id>`` limited to the
guest's own queues (see :mod:`trove_core.tools.credentials.broker`) and
prints the guest's ``transport_url`` on stdout, or writes it to a 0600
file. The password is generated with :mod:`secrets` unless given
through a file or stdin; it never appears on a command line or in a
log. Run it as root (or the rabbitmq user) on a broker node.

``expire-queues`` sets the operator policy that deletes the queues of
guests gone for good (unused for ``--after`` seconds, one day by
default); it is set once per virtual host, not per guest.
"""

import argparse
import logging
import os
import secrets
import stat
import sys

from trove_core import exceptions
from trove_core.tools.credentials import broker
from trove_core.security import keys

__all__ = ["build_parser", "main"]

LOG = logging.getLogger(__name__)


def build_parser():
    """Return the command's argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--node", help="RabbitMQ node (rabbitmqctl -n).")
    common.add_argument("--vhost", default="/",
                        help="virtual host of the control plane "
                             "(default: /)")
    common.add_argument("--exchange", default="trove",
                        help="control exchange (default: trove)")
    common.add_argument("--conductor-topic", default="trove-conductor",
                        help="conductor topic (default: trove-conductor)")
    common.add_argument("--rpc-key-dir",
                        help="also create (or, on delete, remove) the "
                             "guest's secure RPC key <dir>/<id>.key")
    common.add_argument("--max-connections", type=int, default=16,
                        help="broker connections the guest may open "
                             "(default: 16)")
    common.add_argument("--max-channels", type=int, default=64,
                        help="channels the guest may open (default: 64)")
    common.add_argument("-v", "--verbose", action="store_true")
    parser = argparse.ArgumentParser(
        prog="trove-guest-credentials",
        description="Provision or remove a guest's own RabbitMQ identity.")
    sub = parser.add_subparsers(dest="action", required=True)

    create = sub.add_parser("create", parents=[common],
                            help="create the guest's user")
    create.add_argument("guest_id")
    source = create.add_mutually_exclusive_group()
    source.add_argument("--password-file",
                        help="read the password from this file (it must "
                             "not be readable by group or others)")
    source.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of "
                             "stdin")
    create.add_argument("--host", default="127.0.0.1",
                        help="broker host as the guest reaches it")
    create.add_argument("--port", type=int, default=5672,
                        help="broker AMQP port (default: 5672)")
    create.add_argument("--output",
                        help="write the transport_url to this new file "
                             "(mode 0600) instead of stdout")

    delete = sub.add_parser("delete", parents=[common],
                            help="delete the guest's user")
    delete.add_argument("guest_id")
    delete.add_argument("--missing-ok", action="store_true",
                        help="succeed when the user does not exist")

    expire = sub.add_parser(
        "expire-queues",
        help="delete guest queues nobody used for a while (an operator "
             "policy on guestagent.* queues)")
    expire.add_argument("--node", help="RabbitMQ node (rabbitmqctl -n).")
    expire.add_argument("--vhost", default="/",
                        help="virtual host of the control plane "
                             "(default: /)")
    expire.add_argument("--after", type=int, default=86400,
                        help="seconds without a consumer before a guest's "
                             "queue is deleted (default: 86400)")
    expire.add_argument("--max-length", type=int,
                        help="also keep at most this many messages in "
                             "each guest queue")
    expire.add_argument("-v", "--verbose", action="store_true")
    return parser


def _read_password(args):
    if args.password_file:
        mode = os.stat(args.password_file).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise exceptions.BadRequest(
                reason="password file %r has mode %o; run 'chmod 600' on it"
                       % (args.password_file, stat.S_IMODE(mode)))
        with open(args.password_file, encoding="utf-8") as handle:
            password = handle.readline().rstrip("\r\n")
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        return secrets.token_urlsafe(32)
    if len(password) < 16:
        raise exceptions.BadRequest(
            reason="the password must have at least 16 characters; omit "
                   "--password-file/--password-stdin to generate one")
    return password


def _write_new_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def _create(args, ctl, policy):
    password = _read_password(args)
    if args.output and os.path.exists(args.output):
        raise exceptions.BadRequest(
            reason="output file %r exists; remove it or choose another"
                   % args.output)
    key_file = None
    if args.rpc_key_dir:
        key_file = keys.key_path(args.rpc_key_dir, policy.guest_id)
        if os.path.exists(key_file):
            raise exceptions.BadRequest(
                reason="secure RPC key %r exists; delete the guest first"
                       % key_file)
    ctl.create(policy, password)
    url = policy.transport_url(password, host=args.host, port=args.port)
    if key_file:
        keys.write_key(key_file, keys.generate_key())
        print("secure RPC key: %s (copy it to the guest as "
              "[secure_rpc] key_file)" % key_file, file=sys.stderr)
    if args.output:
        _write_new_secret(args.output, url)
        print("transport_url written to %s" % args.output, file=sys.stderr)
    else:
        print(url)
    print("guest config: [DEFAULT] control_exchange = %s; "
          "[DEFAULT] transport_url from above" % policy.exchange,
          file=sys.stderr)


def _delete(args, ctl, policy):
    deleted = ctl.delete(policy, missing_ok=args.missing_ok)
    if args.rpc_key_dir:
        key_file = keys.key_path(args.rpc_key_dir, policy.guest_id)
        try:
            os.unlink(key_file)
        except FileNotFoundError:
            pass
    print("deleted %s" % policy.username if deleted
          else "no user %s" % policy.username, file=sys.stderr)


def main(argv=None):
    """Run ``trove-guest-credentials``.

    :param argv: arguments (default: ``sys.argv[1:]``).
    :returns: the exit status: 0 on success, 1 on a refused or failed
        request, with the reason on stderr.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose
                        else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.action == "expire-queues":
            definition = broker.Rabbitmqctl(node=args.node).set_queue_expiry(
                args.vhost, args.after, args.max_length)
            print("operator policy %s on vhost %s: %s"
                  % (broker.QUEUE_POLICY, args.vhost, definition),
                  file=sys.stderr)
            return 0
        policy = broker.GuestBrokerPolicy(
            args.guest_id, vhost=args.vhost, exchange=args.exchange,
            conductor_topic=args.conductor_topic,
            max_connections=args.max_connections,
            max_channels=args.max_channels)
        ctl = broker.Rabbitmqctl(node=args.node)
        if args.action == "create":
            _create(args, ctl, policy)
        else:
            _delete(args, ctl, policy)
    except (exceptions.TroveError, OSError) as exc:
        print("trove-guest-credentials: error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
