"""``trove-guestagent``: one datastore's guest agent process.

Start-up, in order, each step refusing with one line that names the
reason and the option or command that fixes it (exit status 2):

1. read ``--config-file``/``--config-dir`` (Trove's ``guest_info.conf``
   and ``trove-guestagent.conf``); register only guest-side options;
2. find the ``datastore_manager`` plugin and apply the tier policy
   (``[DEFAULT] allowed_tiers``) before importing any of its code;
3. check its driver modules, load and verify its manager (exactly
   one), and register that datastore's guest options;
4. serve RPC on ``guestagent.<guest_id>`` (oslo.messaging picks its threading
   executor: nothing is monkey-patched) and
   heartbeat to the conductor.

SIGTERM (or SIGINT) stops consuming, lets the mutating operation in
flight finish (up to ``graceful_shutdown_timeout``), drops queued casts
with a log line, and exits 0.
"""

import logging
import os
import signal
import sys
import threading
import time
import warnings

from oslo_config import cfg

from trove_core import exceptions
from trove_core import options as core_options
from trove_core import rpc
from trove_core import secure_rpc
from trove_guest_base import options

__all__ = ["BoundedLogFilter", "GuestService", "StartupError",
           "load_plugin", "main", "parse_config"]

LOG = logging.getLogger(__name__)

#: Where Trove's images keep the two files, used when no --config-file
#: or --config-dir is given.
DEFAULT_CONFIG_FILES = ("/etc/trove/conf.d/guest_info.conf",
                        "/etc/trove/conf.d/trove-guestagent.conf")

EXIT_REFUSED = 2

#: Connections a guest's sending pool may hold (replies to calls and casts
#: to the conductor). oslo.messaging's default (30) is sized for API
#: servers; a guest is one small endpoint among hundreds on the broker.
#: ``[oslo_messaging_rabbit] rpc_conn_pool_size`` still overrides it.
GUEST_CONN_POOL_SIZE = 2
#: Longest wait (s) between two attempts to consume while the broker
#: refuses the guest's connection.
START_RETRY_MAX = 30


class StartupError(Exception):
    """The guest cannot start; the message says why and what to do."""


def parse_config(argv, conf=None):
    """Register the guest-side options and parse the command line.

    :param argv: arguments after the program name.
    :param conf: the ``ConfigOpts`` to fill (the global ``cfg.CONF`` by
        default, which oslo.messaging needs).
    :returns: ``conf``.
    """
    conf = cfg.CONF if conf is None else conf
    conf.register_opts(core_options.CORE_OPTS)
    options.register_opts(conf)
    defaults = [p for p in DEFAULT_CONFIG_FILES if os.path.exists(p)]
    conf(argv, project="trove", prog="trove-guestagent",
         default_config_files=defaults)
    return conf


#: the longest log message the guest writes (a user value can be huge).
LOG_LINE_LIMIT = 4000


class BoundedLogFilter(logging.Filter):
    """Keeps every log line bounded, whoever logs it.

    A message longer than :data:`LOG_LINE_LIMIT` is cut (saying so); an
    RPC naming a method the guest does not have, or one the guest refused
    with a typed error (an unsealed message...), which oslo.messaging
    logs as an ERROR with a traceback, becomes one WARNING line.
    """

    def filter(self, record):
        """Rewrite ``record`` in place; never drop it."""
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and (type(exc).__name__ in (
                "NoSuchMethod", "UnsupportedVersion") or (
                record.name.startswith("oslo_messaging")
                and isinstance(exc, exceptions.TroveError))):
            record.msg = "refused an RPC call: %s: %s"
            record.args = (type(exc).__name__,
                           exceptions.bounded(str(exc)))
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        try:
            text = record.getMessage()
        except Exception:  # a bad format string: leave it to logging
            return True
        if len(text) > LOG_LINE_LIMIT:
            record.msg = "%s... (%d characters cut)" % (
                text[:LOG_LINE_LIMIT], len(text) - LOG_LINE_LIMIT)
            record.args = ()
        return True


def _setup_logging(conf):
    handler = (logging.FileHandler(conf.log_file) if conf.log_file
               else logging.StreamHandler(sys.stderr))
    handler.addFilter(BoundedLogFilter())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if conf.debug else logging.INFO)
    if not conf.debug:
        for noisy in ("oslo_messaging", "oslo_service", "amqp", "kombu",
                      "stevedore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def load_plugin(conf):
    """Find, tier-check and load the configured datastore's manager.

    :returns: ``(record, manager_cls)``.
    :raises StartupError: the configuration is incomplete, the plugin is
        missing, unusable or refused by the tier policy, or its driver is
        not installed.
    """
    from trove_core import discovery
    from trove_core import tiers

    if not conf.guest_id:
        raise StartupError(
            "no guest id configured; set [DEFAULT] guest_id in "
            "guest_info.conf (the instance id)")
    try:
        rpc.check_guest_id(conf.guest_id)
    except exceptions.InvalidIdentifier as exc:
        raise StartupError(str(exc)) from None
    name = conf.datastore_manager
    if not name:
        raise StartupError(
            "no datastore configured; set [DEFAULT] datastore_manager in "
            "guest_info.conf (e.g. 'mysql'); list plugins with "
            "'trove-datastores list'")
    try:
        record = discovery.find(name)
        tiers.TierPolicy.from_conf(conf).check(name,
                                               record.descriptor.tier)
        record, manager_cls = discovery.load_manager_class(
            name, records=[record])
        core_options.register_side(conf, name, "guest")
    except (exceptions.PluginError, exceptions.TierNotAllowed) as exc:
        raise StartupError(str(exc)) from None
    return record, manager_cls


def _messaging_defaults(conf):
    """Give the guest's broker options the guest's own defaults (see
    :data:`GUEST_CONN_POOL_SIZE`)."""
    from oslo_messaging import opts as messaging_opts

    for group, group_opts in messaging_opts.list_opts():
        if group == "oslo_messaging_rabbit":
            conf.register_opts(group_opts, group=group)
            conf.set_default("rpc_conn_pool_size", GUEST_CONN_POOL_SIZE,
                             group=group)


class GuestService:
    """The running guest: manager, RPC server and reporter.

    :param conf: the parsed configuration.
    :param record: the plugin's record.
    :param manager_cls: its manager class.
    :param transport: an RPC transport (built from ``conf`` by default).
    """

    def __init__(self, conf, record, manager_cls, transport=None):
        import oslo_messaging

        from trove_guest_base import endpoint
        from trove_guest_base import reporter

        self.conf = conf
        self.guest_id = conf.guest_id
        if transport is None:
            _messaging_defaults(conf)
            try:
                transport = rpc.get_transport(conf)
            except (oslo_messaging.InvalidTransportURL,
                    oslo_messaging.DriverLoadFailure) as exc:
                raise StartupError(
                    "invalid [DEFAULT] transport_url: %s; use "
                    "rabbit://user:password@host:5672/" % exc) from None
            self._own_transport = True
        else:
            self._own_transport = False
        self.transport = transport
        self.stopping = threading.Event()
        self.reporter = reporter.ConductorReporter(
            self.transport, self.guest_id, topic=conf.conductor_queue,
            interval=conf.report_interval,
            serializer=secure_rpc.build_serializer(conf, self.guest_id,
                                                   "guest"))
        state_dir = os.path.join(conf.state_path, record.name)
        self.manager = manager_cls(record.name, conf, state_dir,
                                   reporter=self.reporter)
        self.runtime = endpoint.GuestRuntime(
            self.manager, record, self.guest_id,
            progress_board=self.reporter.progress_board)
        self.server = self._make_server()
        self._consuming = False

    def _make_server(self):
        import oslo_messaging

        from trove_guest_base import endpoint

        return oslo_messaging.get_rpc_server(
            self.transport,
            rpc.guest_target(self.guest_id, server=self.guest_id),
            [endpoint.GuestAPIEndpoint(self.runtime),
             endpoint.FrameworkEndpoint(self.runtime)],
            serializer=secure_rpc.build_serializer(self.conf,
                                                   self.guest_id, "guest"),
            access_policy=endpoint.ExposedOnly)

    def _start_consuming(self):
        """Start the RPC server; while the broker refuses the connection
        (at its connection limit, or this guest's), say so and try again
        with a growing delay (up to :data:`START_RETRY_MAX` s) instead
        of dying.

        :returns: whether it consumes (``False``: stopped meanwhile).
        """
        from trove_guest_base import reporter

        delay = 1.0
        refused_since = None
        while not self.stopping.is_set():
            try:
                self.server.start()
            except reporter.broker_errors() as exc:
                now = time.monotonic()
                if refused_since is None:
                    refused_since = now
                LOG.warning(
                    "cannot consume on topic %s yet: the broker refused "
                    "the connection (%s); it may be at its connection "
                    "limit. Retrying in %.0f s; the guest serves once the "
                    "broker accepts it", rpc.guest_topic(self.guest_id),
                    exc, delay)
                self.server = self._make_server()
                self.stopping.wait(delay)
                delay = min(delay * 2, START_RETRY_MAX)
                continue
            if refused_since is not None:
                LOG.warning("the broker accepted the guest after %.0f s",
                            time.monotonic() - refused_since)
            return True
        return False

    def _resume(self):
        manager = self.manager
        if not (manager.prepared and manager.start_on_boot):
            return
        if manager.probe_status().is_running:
            return
        LOG.info("datastore %s is prepared but not running; starting it",
                 manager.name)
        manager.do_start()
        manager.refresh_status()

    def start(self):
        """Start the datastore of a prepared guest (queued like any
        mutating operation), then consume and heartbeat."""
        if hasattr(self.manager, "recover_after_restart"):
            # what a killed guest left behind (a backup BUILDING, a
            # private server...) is settled before anything else runs
            self.runtime.gate.submit("recover_after_restart",
                                     self.manager.recover_after_restart)
        self.runtime.gate.submit("start_on_boot", self._resume)
        if not self._start_consuming():
            return
        self._consuming = True
        LOG.info("trove-guestagent %s (%s) consuming on topic %s, "
                 "exchange %s", self.guest_id, self.manager.name,
                 rpc.guest_topic(self.guest_id),
                 self.conf.control_exchange)
        self.reporter.start(self.runtime.probe_status)
        self.reporter.heartbeat(self.runtime.probe_status())

    def stop(self):
        """Stop consuming, wait for the operation in flight, clean up.

        :returns: whether the operation in flight (if any) finished.
        """
        LOG.info("stopping: no longer consuming")
        if self._consuming:
            self.server.stop()
        finished, dropped = self.runtime.gate.close(
            self.conf.graceful_shutdown_timeout)
        if dropped:
            LOG.warning("dropped queued operations that never started: "
                        "%s", ", ".join(dropped))
        if not finished:
            LOG.error("the operation in flight did not finish within "
                      "%s s ([DEFAULT] graceful_shutdown_timeout); "
                      "abandoning it", self.conf.graceful_shutdown_timeout)
        self.reporter.stop()
        if self._consuming:
            self.server.wait()
        if self._own_transport:
            self.transport.cleanup()
        LOG.info("stopped")
        return finished

    def run(self):
        """Serve until :attr:`stopping` is set (SIGTERM), then stop."""
        self.start()
        while not self.stopping.wait(1.0):
            pass
        return self.stop()


def main(argv=None):
    """Console script ``trove-guestagent``.

    :returns: the exit status: 0 after a clean shutdown, 2 when start-up
        is refused.
    """
    argv = sys.argv[1:] if argv is None else argv
    # The guest never monkey-patches, so eventlet's green DNS resolver
    # (dnspython: about 260 modules, 15 MB of every guest's memory) is
    # dead weight; eventlet skips it with this switch.
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    # oslo.messaging imports eventlet through oslo.service, which warns
    # at import; an operator can do nothing about it.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    try:
        conf = parse_config(argv)
    except cfg.Error as exc:
        print("trove-guestagent: configuration error: %s" % exc,
              file=sys.stderr)
        return EXIT_REFUSED
    try:
        _setup_logging(conf)
    except OSError as exc:
        print("trove-guestagent: refusing to start: cannot open [DEFAULT] "
              "log_file %r: %s (create its directory or change log_file)"
              % (conf.log_file, exc.strerror), file=sys.stderr)
        return EXIT_REFUSED
    try:
        record, manager_cls = load_plugin(conf)
        service = GuestService(conf, record, manager_cls)
    # A TroveError here is e.g. a secure RPC key that cannot be used.
    except (StartupError, exceptions.TroveError) as exc:
        print("trove-guestagent: refusing to start: %s" % exc,
              file=sys.stderr)
        if conf.log_file:
            LOG.error("refusing to start: %s", exc)
        return EXIT_REFUSED

    def on_signal(signum, _frame):
        LOG.info("received %s", signal.Signals(signum).name)
        service.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
