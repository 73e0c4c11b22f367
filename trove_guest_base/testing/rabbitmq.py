"""Private RabbitMQ nodes and clusters for tests and benchmarks.

A machine's shared broker must never be stopped, restarted or loaded with
a fleet: tests that need to do that start a node of their own.
:class:`RabbitNode` runs ``rabbitmq-server`` (Debian's package) as the
current user with its own node name (``<prefix>-<hex>@localhost``), AMQP
and distribution ports, data, log, configuration, enabled-plugins file and
Erlang cookie, all under one temporary directory; nothing of the system's
node is read or touched. :class:`RabbitCluster` starts several such nodes
that share a cookie and joins them with ``rabbitmqctl join_cluster``.

Each node runs in its own process group, so :meth:`RabbitNode.kill` is a
real ``kill -9`` of that node and nothing else.
"""

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid

__all__ = ["RabbitCluster", "RabbitNode", "RabbitUnavailable",
           "free_port", "rabbitmq_server_binary"]

LOG = logging.getLogger(__name__)

_LIB_BIN = "/usr/lib/rabbitmq/bin"


class RabbitUnavailable(Exception):
    """A private RabbitMQ node cannot be started here (the message says
    why and what to install)."""


def rabbitmq_server_binary():
    """The path of the real ``rabbitmq-server`` script (not Debian's
    wrapper, which switches to the ``rabbitmq`` user and the system
    node).

    :raises RabbitUnavailable: RabbitMQ is not installed.
    """
    for path in (os.path.join(_LIB_BIN, "rabbitmq-server"),
                 shutil.which("rabbitmq-server")):
        if path and os.access(path, os.X_OK):
            return path
    raise RabbitUnavailable(
        "rabbitmq-server is not installed (apt-get install "
        "rabbitmq-server)")


def _ctl_binary():
    path = os.path.join(_LIB_BIN, "rabbitmqctl")
    return path if os.access(path, os.X_OK) else "rabbitmqctl"


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on at the moment of the call."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


class RabbitNode:
    """One private ``rabbitmq-server`` node.

    :param directory: a private directory for everything the node writes.
    :param prefix: the node name's prefix (``<prefix>-<hex>@localhost``).
    :param cookie: the Erlang cookie (a fresh one by default; nodes of a
        cluster share one).
    :param config: more ``rabbitmq.conf`` lines (``key = value``).
    :param user: the administrator ``user:password`` of the AMQP URL
        (``guest:guest``, which RabbitMQ allows from loopback).
    """

    def __init__(self, directory, prefix="trove-test", cookie=None,
                 config=(), user="guest:guest"):
        self.directory = os.fspath(directory)
        self.name = "%s-%s@localhost" % (prefix, uuid.uuid4().hex[:10])
        self.port = free_port()
        self.dist_port = free_port()
        self.cookie = cookie or secrets.token_hex(16)
        self.config = list(config)
        self.user = user
        self.proc = None
        self._log = None
        self.home = os.path.join(self.directory, "home")
        self.pid_file = os.path.join(self.directory, "node.pid")

    # -- files and environment -------------------------------------------

    def _write_files(self):
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(self.directory, sub), exist_ok=True)
        cookie = os.path.join(self.home, ".erlang.cookie")
        if not os.path.exists(cookie):
            fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o400)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.cookie)
        with open(os.path.join(self.directory, "rabbitmq.conf"), "w",
                  encoding="utf-8") as handle:
            handle.write("listeners.tcp.1 = 127.0.0.1:%d\n" % self.port)
            handle.write("log.file.level = info\n")
            for line in self.config:
                handle.write(line.rstrip("\n") + "\n")
        with open(os.path.join(self.directory, "enabled_plugins"), "w",
                  encoding="utf-8") as handle:
            handle.write("[].\n")
        with open(os.path.join(self.directory, "rabbitmq-env.conf"), "w",
                  encoding="utf-8") as handle:
            handle.write("# private node: nothing from /etc/rabbitmq\n")

    def env(self):
        """The environment of this node's server and CLI commands."""
        env = dict(os.environ)
        env.update({
            "HOME": self.home,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.directory, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.directory, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.directory,
                                                 "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(
                self.directory, "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(
                self.directory, "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.directory,
                                                   "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": self.pid_file,
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
        })
        env.pop("ERL_FLAGS", None)
        return env

    @property
    def url(self):
        """The node's AMQP transport URL, as its administrator."""
        return "rabbit://%s@127.0.0.1:%d/" % (self.user, self.port)

    def host_url(self, username, password, vhost="/"):
        """A transport URL of this node for another user."""
        quote = urllib.parse.quote
        return "rabbit://%s:%s@127.0.0.1:%d/%s" % (
            quote(username, safe=""), quote(password, safe=""), self.port,
            "" if vhost == "/" else quote(vhost, safe=""))

    # -- lifecycle ----------------------------------------------------------

    def start(self, timeout=180):
        """Start the node (again, after :meth:`kill` or :meth:`stop`)
        and wait until it serves AMQP.

        :returns: ``self``.
        :raises RabbitUnavailable: not installed, or not up in time
            (the node's log tail is in the message).
        """
        server = rabbitmq_server_binary()
        self._write_files()
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)
        self._log = open(os.path.join(self.directory, "server.out"), "ab")
        self.proc = subprocess.Popen(
            [server], env=self.env(), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.directory,
            start_new_session=True)
        LOG.info("starting RabbitMQ node %s on port %d", self.name,
                 self.port)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=180):
        """Wait until the node's application runs and its port answers.

        :raises RabbitUnavailable: not ready within ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                break
            if _port_open(self.port):
                try:
                    self.ctl("await_startup", timeout=60)
                    return
                except RabbitUnavailable:
                    pass
            time.sleep(0.5)
        raise RabbitUnavailable(
            "RabbitMQ node %s did not start within %ss: %s"
            % (self.name, timeout, self.log_tail()))

    def log_tail(self, lines=15):
        """The last ``lines`` of the node's console output."""
        try:
            with open(os.path.join(self.directory, "server.out"),
                      encoding="utf-8", errors="replace") as handle:
                return " | ".join(handle.read().splitlines()[-lines:])
        except OSError:
            return "(no output)"

    @property
    def os_pid(self):
        """The pid of the node's Erlang VM (``beam.smp``), or ``None``."""
        try:
            with open(self.pid_file, encoding="ascii") as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def running(self):
        """Whether the node's process group still runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """``kill -9`` the node (its whole process group): no goodbye to
        clients or peers."""
        if self.running():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
        self._close_log()

    def stop(self, timeout=120):
        """Stop the node cleanly (``rabbitmqctl stop``); kill it when it
        does not stop within ``timeout`` s."""
        if not self.running():
            self._close_log()
            return
        try:
            self.ctl("stop", timeout=timeout)
            self.proc.wait(timeout=timeout)
        except (RabbitUnavailable, subprocess.TimeoutExpired):
            LOG.warning("RabbitMQ node %s did not stop; killing it",
                        self.name)
        self.kill()

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()

    # -- commands and figures ----------------------------------------------

    def ctl(self, *args, timeout=60, stdin=None):
        """Run ``rabbitmqctl -n <node> -q <args>`` and return its output.

        :raises RabbitUnavailable: it failed or timed out.
        """
        argv = [_ctl_binary(), "-n", self.name, "-q"] + list(args)
        try:
            proc = subprocess.run(argv, env=self.env(), input=stdin,
                                  capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RabbitUnavailable("%r timed out after %ss"
                                    % (args[0], timeout)) from None
        if proc.returncode != 0:
            raise RabbitUnavailable("rabbitmqctl %s on %s failed: %s" % (
                args[0], self.name, (proc.stderr or proc.stdout).strip()))
        return proc.stdout

    def rabbitmqctl(self, timeout=60):
        """A :class:`trove_core.tools.credentials.broker.Rabbitmqctl` bound to
        this node (what ``trove-guest-credentials`` uses)."""
        from trove_core.tools.credentials import broker

        return broker.Rabbitmqctl(node=self.name, binary=_ctl_binary(),
                                  timeout=timeout, env=self.env())

    def rows(self, *args, timeout=60):
        """Tab-separated rows of a ``list_*`` command (no headers)."""
        out = self.ctl(*args, "--no-table-headers", timeout=timeout)
        return [line.split("\t") for line in out.splitlines() if line]

    def rss_mb(self):
        """The resident memory of the node's VM, in MB (10^6 bytes)."""
        pid = self.os_pid
        if pid is None:
            return None
        with open("/proc/%d/status" % pid, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6
        return None


class RabbitCluster:
    """Several :class:`RabbitNode` nodes clustered together.

    :param directory: a private directory (each node in ``node<i>``).
    :param size: the number of nodes.
    :param prefix: the node names' prefix.
    :param config: more ``rabbitmq.conf`` lines for every node.
    """

    def __init__(self, directory, size=3, prefix="trove-cluster",
                 config=()):
        cookie = secrets.token_hex(16)
        self.nodes = [
            RabbitNode(os.path.join(os.fspath(directory), "node%d" % i),
                       prefix=prefix, cookie=cookie, config=config)
            for i in range(size)]

    def start(self, timeout=180):
        """Start every node and join the others to the first.

        :returns: ``self``.
        """
        try:
            for node in self.nodes:
                node.start(timeout)
            first = self.nodes[0]
            for node in self.nodes[1:]:
                node.ctl("stop_app", timeout=timeout)
                node.ctl("join_cluster", first.name, timeout=timeout)
                node.ctl("start_app", timeout=timeout)
                node.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def running_nodes(self, via=None):
        """The names of the running members, as ``via`` (a running node,
        the first live one by default) sees them."""
        import json

        via = via or next(n for n in self.nodes if n.running())
        status = json.loads(via.ctl("cluster_status", "--formatter",
                                    "json"))
        return sorted(status["running_nodes"])

    def url(self, username=None, password=None, vhost="/", first=0):
        """One transport URL naming every node (oslo.messaging fails
        over between the hosts of a URL, in order).

        :param first: the index of the node named first (a client
            connects to it first): spread clients across nodes.
        """
        quote = urllib.parse.quote
        if username is None:
            username, password = self.nodes[0].user.split(":", 1)
        auth = "%s:%s" % (quote(username, safe=""), quote(password, safe=""))
        first %= len(self.nodes)
        ordered = self.nodes[first:] + self.nodes[:first]
        hosts = ",".join("%s@127.0.0.1:%d" % (auth, node.port)
                         for node in ordered)
        return "rabbit://%s/%s" % (
            hosts, "" if vhost == "/" else quote(vhost, safe=""))

    def stop(self):
        """Stop every node (kill what does not stop)."""
        for node in reversed(self.nodes):
            node.stop(timeout=60)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()
