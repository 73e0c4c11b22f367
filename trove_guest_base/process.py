"""Running commands and supervising the datastore process.

Commands are argv lists, never shell strings. Secrets passed in
``secrets=`` are replaced by ``***`` in everything logged or raised.

A datastore process is supervised by a :class:`Runner`:
:class:`ChildRunner` starts it as a direct child (containers, tests),
:class:`SystemdRunner` drives a systemd unit (VM guests).
:func:`make_runner` picks one from a datastore's ``runner`` option.

A guest usually runs as root; a datastore server must not (PostgreSQL
refuses to). When the datastore registers the ``service_user`` option,
:func:`make_runner` gives the child runner that user: the server is
started as it, and the directories handed to the runner (``dirs``) are
given to it first. :func:`run` takes the same ``user`` for the server's
own tools (``initdb``...). Without root nothing changes hands: the
server runs as the guest's own user (a developer's test run).
"""

import contextlib
import logging
import os
import pwd
import signal
import stat
import subprocess
import time

from trove_core.exceptions import BadRequest
from trove_core.exceptions import bounded
from trove_guest_base import exceptions
from trove_guest_base import net

__all__ = ["ChildRunner", "Runner", "SystemdRunner", "command",
           "hand_over", "log_tail", "make_runner", "option_value", "redact",
           "run", "service_user",
           "wait_ready"]

LOG = logging.getLogger(__name__)


def redact(text, secrets=()):
    """Return ``text`` with every secret replaced by ``***``."""
    if text is None:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def command(binary, *options, operands=()):
    """Build a tool's argv: ``binary``, the guest's own ``options``, then
    ``--`` and the ``operands`` (user values: database, table, user
    names...).

    Every user value that reaches a command line goes through this (or
    :func:`option_value` for a tool without ``--``): a database named
    ``--result-file=x`` is then an operand, never an option.

    :param binary: the program.
    :param options: options the guest chose; never a user value.
    :param operands: user values; each must be a string.
    :returns: the argv list.
    :raises BadRequest: an operand is not a string or holds a NUL byte.
    """
    argv = [os.fspath(binary)] + [os.fspath(o) for o in options]
    operands = list(operands)
    for value in operands:
        _check_value(value)
    if operands:
        argv += ["--", *operands]
    return argv


def option_value(option, value):
    """``option=value`` for a user ``value`` given to a tool that has no
    ``--`` (nodetool...): attached to its option, the value cannot be
    read as another option; a value beginning with ``-`` is refused as
    well, for tools that would split it.

    :raises BadRequest: the value is not a non-empty string without a
        leading ``-`` or a NUL byte.
    """
    _check_value(value)
    if not value or value.startswith("-"):
        raise BadRequest(
            reason="%s cannot be given %s: a value beginning with '-' (or "
            "empty) could be read as an option; rename it"
            % (option, bounded(value)))
    return "%s=%s" % (option, value)


def _check_value(value):
    if not isinstance(value, str) or "\0" in value:
        raise BadRequest(
            reason="a command-line value must be a string without NUL "
            "bytes, not %s" % bounded(value))


def _show(argv, secrets):
    return redact(" ".join(str(a) for a in argv), secrets)


def service_user(options):
    """The account a datastore's processes must run as, or ``None``.

    :param options: the datastore's option group (``conf[datastore]``).
    :returns: the ``service_user`` option when the datastore registers
        it, names an account other than root, and this process runs as
        root (only root can drop to it); else ``None``: run as we are.
    :raises DatastoreError: the account does not exist.
    """
    from oslo_config import cfg

    try:
        name = options.service_user
    except (AttributeError, cfg.NoSuchOptError):  # not registered
        return None
    if not name or name == "root" or os.geteuid() != 0:
        return None
    _account(name)
    return name


def _account(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise exceptions.DatastoreError(
            operation="supervise", reason="service_user %r does not exist "
            "on this host; create that account (the image's install hook "
            "does) or set the datastore's service_user option" % (name,)
        ) from None


def _enters(path, entry):
    """Whether account ``entry`` may traverse directory ``path``."""
    info = os.stat(path)
    if info.st_uid == entry.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    groups = {entry.pw_gid} | {g for g in _groups(entry.pw_name)}
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _groups(name):
    import grp

    return [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]


def hand_over(user, dirs):
    """Give directories to ``user`` before a process runs as it.

    Each directory is created if missing and, with everything in it,
    given to the user and its primary group. Its parents are not
    changed: when the user cannot reach a directory through them, the
    error names the parent to fix.

    :param user: the account name, or ``None`` (nothing to do).
    :param dirs: the directories the process writes.
    :raises DatastoreError: the account does not exist, or a parent
        directory is closed to it.
    """
    if not user:
        return
    entry = _account(user)
    for path in dirs:
        path = os.path.abspath(os.fspath(path))
        os.makedirs(path, exist_ok=True)
        parent = os.path.dirname(path)
        while True:
            if not _enters(parent, entry):
                raise exceptions.DatastoreError(
                    operation="supervise", reason="service user %r cannot "
                    "enter %s (mode %s), a parent of %s; keep the "
                    "datastore's directories where it can reach them, or "
                    "open that directory to it (chmod o+x)" % (
                        user, parent, oct(os.stat(parent).st_mode & 0o777),
                        path))
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)
        for root, subdirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in subdirs + files:
                os.lchown(os.path.join(root, name), entry.pw_uid,
                          entry.pw_gid)


def _drop_kwargs(user):
    """``subprocess`` arguments that start a process as ``user``."""
    if not user:
        return {}
    entry = _account(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid,
            "extra_groups": _groups(user)}


def _user_env(user, env):
    """The environment of a process run as ``user``: its own HOME."""
    if not user:
        return env
    env = dict(env if env is not None else os.environ)
    entry = _account(user)
    env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    return env


def run(argv, timeout=60, input=None, check=True, secrets=(), env=None,
        cwd=None, stdout=subprocess.PIPE, user=None):
    """Run ``argv`` and return its ``CompletedProcess``.

    :param argv: the command as a list; a string is refused.
    :param timeout: seconds before the command is killed.
    :param input: bytes for its standard input.
    :param check: raise when it exits non-zero.
    :param secrets: strings to hide in logs and errors.
    :param env: extra environment variables (merged over ours).
    :param stdout: where its standard output goes (captured by default).
    :param user: run it as this account (see :func:`service_user`); its
        working directory is then ``/`` unless ``cwd`` is given.
    :raises ProcessError: it could not start, timed out, or (with
        ``check``) exited non-zero; stderr is included, redacted.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("run() takes an argv list, not a shell string")
    argv = [os.fspath(a) for a in argv]
    shown = _show(argv, secrets)
    LOG.debug("running %s", shown)
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    full_env = _user_env(user, full_env)
    if user and cwd is None:
        cwd = "/"
    try:
        result = subprocess.run(
            argv, input=input, stdout=stdout, stderr=subprocess.PIPE,
            timeout=timeout, env=full_env, cwd=cwd, check=False,
            **_drop_kwargs(user))
    except FileNotFoundError:
        raise exceptions.ProcessError(
            command=shown, reason="%r is not installed" % argv[0]) from None
    except subprocess.TimeoutExpired:
        raise exceptions.ProcessError(
            command=shown, reason="timed out after %s s" % timeout) from None
    if check and result.returncode != 0:
        err = redact(result.stderr.decode("utf-8", "replace"), secrets)
        raise exceptions.ProcessError(
            command=shown, reason="exit code %d: %s"
            % (result.returncode, err.strip()[-2000:]))
    return result


class Runner:
    """Starts, stops and observes one datastore process."""

    def start(self, timeout=60):
        """Start the process (no-op when it runs)."""
        raise NotImplementedError

    def stop(self, timeout=60):
        """Stop the process and wait until it is gone."""
        raise NotImplementedError

    def is_running(self):
        """Whether the process is alive."""
        raise NotImplementedError

    def crashed(self):
        """Whether the process died without being asked to."""
        raise NotImplementedError

    def output_hint(self):
        """Where the process's own output can be read, for error
        messages."""
        return "its output is not captured"


class ChildRunner(Runner):
    """Run the datastore as a child of the guest, in its own session.

    The pid is kept in ``pid_file`` so that a restarted guest finds and
    supervises a datastore it started before.

    :param argv: the server command, running in the foreground.
    :param pid_file: where the pid is recorded.
    :param log_file: where its stdout and stderr go.
    :param env: extra environment variables.
    :param stop_signal: the signal asking it to shut down cleanly.
    :param user: the account it runs as (``None``: ours); see
        :func:`service_user`.
    :param dirs: directories given to ``user`` before each start
        (:func:`hand_over`): its data, run and log directories.
    """

    def __init__(self, argv, pid_file, log_file, env=None,
                 stop_signal=signal.SIGTERM, user=None, dirs=()):
        self.argv = [os.fspath(a) for a in argv]
        self.pid_file = os.fspath(pid_file)
        self.log_file = os.fspath(log_file)
        self.env = env
        self.stop_signal = stop_signal
        self.user = user
        self.dirs = tuple(os.fspath(d) for d in dirs)
        self._proc = None

    def _read_pid(self):
        try:
            with open(self.pid_file, encoding="ascii") as handle:
                return int(handle.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _alive(self, pid):
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        with contextlib.suppress(OSError):
            with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
                if handle.read().split(")")[-1].split()[0] == "Z":
                    return False
        return True

    @property
    def pid(self):
        """The pid of the running process, or ``None``."""
        pid = self._read_pid()
        return pid if pid and self._alive(pid) else None

    def is_running(self):
        if self._proc is not None:
            self._proc.poll()  # reap our child even if another stopped it
        return self.pid is not None

    def crashed(self):
        pid = self._read_pid()
        return pid is not None and not self._alive(pid)

    def start(self, timeout=60):
        if self.is_running():
            return
        os.makedirs(os.path.dirname(self.log_file) or ".", exist_ok=True)
        hand_over(self.user, self.dirs)
        env = dict(os.environ)
        env.update(self.env or {})
        env = _user_env(self.user, env)
        with open(self.log_file, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, env=env,
                    start_new_session=True,
                    cwd="/" if self.user else None,
                    **_drop_kwargs(self.user))
            except FileNotFoundError:
                raise exceptions.ProcessError(
                    command=self.argv[0],
                    reason="%r is not installed" % self.argv[0]) from None
        from trove_guest_base import files

        files.atomic_write(self.pid_file, str(self._proc.pid), mode=0o644)
        LOG.info("started %s (pid %d%s)", self.argv[0], self._proc.pid,
                 ", as %s" % self.user if self.user else "")

    def stop(self, timeout=60):
        pid = self.pid
        if pid is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.pid_file)
            return
        os.kill(pid, self.stop_signal)
        try:
            net.wait_until(lambda: not self._alive(pid), timeout,
                           "%s (pid %d) to stop" % (self.argv[0], pid))
        except exceptions.ReadinessTimeout:
            LOG.warning("%s (pid %d) ignored %s for %s s; killing it",
                        self.argv[0], pid, self.stop_signal.name, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            net.wait_until(lambda: not self._alive(pid), 10,
                           "%s (pid %d) to die" % (self.argv[0], pid))
        if self._proc is not None:
            self._proc.wait(timeout=5)
            self._proc = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pid_file)

    def output_hint(self):
        return "%s ends: %s" % (self.log_file, log_tail(self.log_file))

    def wait_exit(self, timeout):
        """Wait for the process to exit by itself; return its exit code
        when it is our child, else ``None``."""
        pid = self._read_pid()
        if pid is None:
            return None
        net.wait_until(lambda: not self._alive(pid), timeout,
                       "%s (pid %d) to exit" % (self.argv[0], pid))
        return self._proc.returncode if self._proc else None


class SystemdRunner(Runner):
    """Drive the datastore through its systemd unit.

    :param unit: the unit name, e.g. ``mariadb.service``.
    """

    def __init__(self, unit):
        self.unit = unit
        self._stopped = False

    def _systemctl(self, *args, check=True, timeout=120):
        return run(["systemctl", *args, self.unit], check=check,
                   timeout=timeout)

    def start(self, timeout=120):
        self._systemctl("start", timeout=timeout)
        self._stopped = False

    def stop(self, timeout=120):
        self._systemctl("stop", timeout=timeout)
        self._stopped = True

    def is_running(self):
        result = self._systemctl("is-active", check=False)
        return result.stdout.decode().strip() == "active"

    def crashed(self):
        result = self._systemctl("is-failed", check=False)
        return result.stdout.decode().strip() == "failed"

    def output_hint(self):
        return "see journalctl -u %s" % self.unit

    def enable(self, enabled=True):
        """Start (or not) the unit at boot."""
        self._systemctl("enable" if enabled else "disable")


def make_runner(options, argv, pid_file, log_file, env=None,
                stop_signal=signal.SIGTERM, dirs=()):
    """Return the runner a datastore's guest options ask for.

    ``options.runner`` (the common guest option) is ``systemd`` for a
    :class:`SystemdRunner` of ``options.systemd_unit``, or ``child`` for a
    :class:`ChildRunner` of ``argv``; the other arguments only matter to
    a child.

    :param options: the datastore's option group (``conf[datastore]``).
    :param argv: the server command, running in the foreground.
    :param pid_file: where a child's pid is recorded.
    :param log_file: where a child's stdout and stderr go.
    :param env: extra environment variables of a child.
    :param stop_signal: the signal asking a child to shut down cleanly.
    :param dirs: the directories a child writes (data, sockets, logs):
        when the guest runs as root and the datastore registers
        ``service_user``, they are given to that user and the child runs
        as it (:func:`service_user`, :func:`hand_over`).
    :raises DatastoreError: ``runner`` is neither, or ``systemd`` without
        a ``systemd_unit``, or ``service_user`` names no account.
    """
    kind = options.runner
    if kind == "systemd" and options.systemd_unit:
        return SystemdRunner(options.systemd_unit)
    if kind == "child":
        return ChildRunner(argv, pid_file, log_file, env=env,
                           stop_signal=stop_signal,
                           user=service_user(options), dirs=dirs)
    if kind == "systemd":
        reason = ("runner is 'systemd' but systemd_unit is not set; set "
                  "systemd_unit to the server's unit, or runner to 'child'")
    else:
        reason = "runner must be 'systemd' or 'child', not %r" % (kind,)
    raise exceptions.DatastoreError(operation="supervise", reason=reason)


def log_tail(path, lines=5, limit=4096):
    """The last ``lines`` lines of a log file joined by `` | ``, for error
    messages (at most the last ``limit`` bytes are read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return "(cannot read %s: %s)" % (path, exc.strerror)
    tail = text.strip().splitlines()[-lines:]
    return " | ".join(tail) if tail else "(%s is empty)" % path


def wait_ready(runner, probe, what, timeout, log_file=None,
               operation="start", retry_on=(Exception,), max_interval=0.5):
    """Poll ``probe()`` until it returns a true value, and return it,
    while the datastore process started by ``runner`` comes up.

    It fails at once when the process exits instead of waiting out the
    timeout, and both errors quote what the datastore logged.

    :param runner: the :class:`Runner` of the process.
    :param probe: returns a true value when the datastore is ready; an
        exception of ``retry_on`` or a false value means "not yet".
    :param what: the process, for messages (``"redis-server on port
        6379"``).
    :param timeout: seconds to wait.
    :param log_file: the log that explains a failure, or a list of
        them; those that exist and are not empty are quoted, else the
        runner's own output (:meth:`Runner.output_hint`).
    :param operation: the operation named in the errors.
    :param retry_on: the exceptions that mean "not yet"; any other one
        propagates at once (a wrong password will not get better).
    :param max_interval: the longest pause between two probes.
    :raises DatastoreError: the process exited before it was ready.
    :raises ReadinessTimeout: it was not ready after ``timeout`` seconds.
    """
    if isinstance(log_file, (str, os.PathLike)):
        log_file = [log_file]

    def hint():
        logs = [path for path in log_file or () if path
                and os.path.isfile(path) and os.path.getsize(path)]
        if not logs:
            return runner.output_hint()
        return "; ".join("%s ends: %s" % (path, log_tail(path))
                         for path in logs)

    deadline = time.monotonic() + timeout
    last = "no answer yet"
    attempt = 0
    while True:
        if not runner.is_running():
            raise exceptions.DatastoreError(
                operation=operation, reason="%s exited before it was "
                "ready; %s" % (what, hint()))
        try:
            value = probe()
            if value:
                return value
            last = "not ready yet"
        except retry_on as exc:
            last = "%s: %s" % (type(exc).__name__, exc)
        if time.monotonic() >= deadline:
            raise exceptions.ReadinessTimeout(
                operation=operation, what=what, timeout=timeout,
                reason="%s; %s" % (last, hint()))
        time.sleep(min(max_interval, 0.05 * (2 ** attempt)))
        attempt += 1


def sleep_backoff(attempt, base=0.05, cap=1.0):
    """Sleep for an exponential backoff step."""
    time.sleep(min(cap, base * (2 ** attempt)))
