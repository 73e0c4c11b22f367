"""A real OpenStack Swift for tests: Debian's swift servers, one replica,
tempauth, loopback, free ports, a temporary directory.

::

    with SwiftServer(workdir) as swift:
        swift.auth_url      # http://127.0.0.1:<port>/auth/v1.0
        swift.storage_url   # http://127.0.0.1:<port>/v1/AUTH_test

Accounts (tempauth): ``test:tester`` / ``testing`` is an admin of
``AUTH_test``; ``test:reader`` / ``reading`` is a plain member, who
cannot create or write containers it was not granted.

It needs the Debian packages ``swift swift-proxy swift-account
swift-container swift-object memcached`` (``scripts/setup.sh`` installs
them); :func:`missing` names what is absent.
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time

__all__ = ["ADMIN", "READER", "SwiftServer", "missing"]

#: ``(user, key)`` of the account admin and of a plain member.
ADMIN = ("test:tester", "testing")
READER = ("test:reader", "reading")

_SERVERS = ("account", "container", "object")
_PROGRAMS = ("swift-ring-builder", "swift-proxy-server",
             "swift-account-server", "swift-container-server",
             "swift-object-server", "memcached")


def missing():
    """The programs a :class:`SwiftServer` needs that are not installed
    (an empty list when it can run)."""
    return [p for p in _PROGRAMS
            if shutil.which(p) is None
            and not os.path.exists(os.path.join("/usr/bin", p))]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_conf(swift_dir, devices, kind, port):
    return ("[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nworkers = 0\n"
            "swift_dir = %s\ndevices = %s\nmount_check = false\n"
            "disable_fallocate = true\nlog_level = WARNING\n"
            "[pipeline:main]\npipeline = %s-server\n"
            "[app:%s-server]\nuse = egg:swift#%s\n"
            % (port, swift_dir, devices, kind, kind, kind))


def _proxy_conf(swift_dir, port, memcache_port):
    return (
        "[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nworkers = 0\n"
        "swift_dir = %s\nlog_level = WARNING\n"
        "[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck "
        "proxy-logging cache listing_formats tempauth copy slo dlo "
        "proxy-logging proxy-server\n"
        "[app:proxy-server]\nuse = egg:swift#proxy\n"
        "account_autocreate = true\n"
        "[filter:tempauth]\nuse = egg:swift#tempauth\n"
        "user_test_tester = %s .admin\nuser_test_reader = %s\n"
        "[filter:cache]\nuse = egg:swift#memcache\n"
        "memcache_servers = 127.0.0.1:%d\n"
        "[filter:catch_errors]\nuse = egg:swift#catch_errors\n"
        "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n"
        "[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
        "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
        "[filter:listing_formats]\nuse = egg:swift#listing_formats\n"
        "[filter:copy]\nuse = egg:swift#copy\n"
        "[filter:slo]\nuse = egg:swift#slo\n"
        "min_segment_size = 1\n"
        "[filter:dlo]\nuse = egg:swift#dlo\n"
        % (port, swift_dir, ADMIN[1], READER[1], memcache_port))


class SwiftServer:
    """Swift's proxy, account, container and object servers and a
    memcached, each a child process on a free loopback port.

    :param workdir: an empty directory for rings, configuration, data
        and logs.
    :param timeout: seconds to wait for the proxy to answer.
    """

    def __init__(self, workdir, timeout=60):
        self.workdir = os.path.abspath(workdir)
        self.timeout = timeout
        self.port = None
        self._procs = []

    @property
    def auth_url(self):
        """tempauth's v1 URL."""
        return "http://127.0.0.1:%d/auth/v1.0" % self.port

    @property
    def storage_url(self):
        """The storage URL of the ``test`` account."""
        return "http://127.0.0.1:%d/v1/AUTH_test" % self.port

    def _path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def _run(self, argv):
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def _spawn(self, name, argv):
        log = open(self._path("log", "%s.log" % name), "ab")  # noqa: SIM115
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            log.close()
        self._procs.append((name, proc))

    def start(self):
        """Build the rings, write the configuration, start every server
        and wait until an admin can authenticate.

        :raises RuntimeError: a server exited or the proxy did not answer
            within ``timeout`` seconds (the logs' tails are quoted).
        """
        swift_dir = self._path("etc")
        devices = self._path("devices")
        for path in (swift_dir, os.path.join(devices, "d1"),
                     self._path("log"), self._path("run")):
            os.makedirs(path, exist_ok=True)
        with open(os.path.join(swift_dir, "swift.conf"), "w",
                  encoding="utf-8") as handle:
            handle.write("[swift-hash]\nswift_hash_path_suffix = %s\n"
                         "swift_hash_path_prefix = %s\n"
                         "[storage-policy:0]\nname = Policy-0\n"
                         "default = yes\n"
                         % (os.urandom(8).hex(), os.urandom(8).hex()))
        ports = {kind: _free_port() for kind in _SERVERS}
        for kind in _SERVERS:
            builder = os.path.join(swift_dir, "%s.builder" % kind)
            self._run(["swift-ring-builder", builder, "create", "6", "1",
                       "1"])
            self._run(["swift-ring-builder", builder, "add",
                       "r1z1-127.0.0.1:%d/d1" % ports[kind], "100"])
            self._run(["swift-ring-builder", builder, "rebalance"])
            conf = os.path.join(swift_dir, "%s-server.conf" % kind)
            with open(conf, "w", encoding="utf-8") as handle:
                handle.write(_server_conf(swift_dir, devices, kind,
                                          ports[kind]))
        memcache_port = _free_port()
        self.port = _free_port()
        proxy_conf = os.path.join(swift_dir, "proxy-server.conf")
        with open(proxy_conf, "w", encoding="utf-8") as handle:
            handle.write(_proxy_conf(swift_dir, self.port, memcache_port))
        memcached = ["memcached", "-l", "127.0.0.1", "-p",
                     str(memcache_port), "-U", "0", "-m", "16"]
        if os.geteuid() == 0:
            memcached += ["-u", "root"]
        self._spawn("memcached", memcached)
        for kind in _SERVERS:
            self._spawn(kind, ["swift-%s-server" % kind,
                               os.path.join(swift_dir,
                                            "%s-server.conf" % kind)])
        self._spawn("proxy", ["swift-proxy-server", proxy_conf])
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise
        return self

    def _request(self, method, path, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=10)
        try:
            conn.request(method, path, headers=headers)
            answer = conn.getresponse()
            answer.read()
            return answer
        finally:
            conn.close()

    def token(self, user=ADMIN):
        """Authenticate ``user`` (a ``(name, key)`` pair) with tempauth.

        :returns: ``(storage_url, token)``.
        :raises OSError: the proxy does not answer or refuses.
        """
        answer = self._request("GET", "/auth/v1.0",
                               {"X-Auth-User": user[0],
                                "X-Auth-Key": user[1]})
        if answer.status // 100 != 2:
            raise OSError("tempauth answered %s" % answer.status)
        return (answer.getheader("X-Storage-Url"),
                answer.getheader("X-Auth-Token"))

    def _wait(self):
        deadline = time.monotonic() + self.timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError("swift's %s exited with %s: %s"
                                       % (name, proc.returncode,
                                          self.log_tail(name)))
            try:
                url, token = self.token()
                path = "/" + url.split("/", 3)[3]
                answer = self._request("HEAD", path,
                                       {"X-Auth-Token": token})
                if answer.status // 100 == 2:
                    return
                last = "account HEAD answered %s" % answer.status
            except OSError as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError("swift did not answer on port %s within %s s: "
                           "%s; proxy log: %s" % (self.port, self.timeout,
                                                  last,
                                                  self.log_tail("proxy")))

    def log_tail(self, name, lines=5):
        """The last ``lines`` lines of a server's log."""
        try:
            with open(self._path("log", "%s.log" % name), "rb") as handle:
                text = handle.read()[-4000:].decode("utf-8", "replace")
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self):
        """Stop every server (SIGTERM, then SIGKILL after 10 s)."""
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _name, proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._procs = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
