"""Galera clusters of MariaDB members (Trove's ``galera_common``).

Trove's taskmanager drives each member (see
:class:`trove_core.capabilities.IGaleraCluster`)::

    create   reset_admin_password(p) + install_cluster(user, fragment,
             bootstrap) on each member in turn (bootstrap for the first),
             then cluster_complete() on all
    grow     get_cluster_context() on an existing member; the new ones get
             reset_admin_password + install_cluster(bootstrap=False); then
             every member gets write_cluster_configuration_overrides(...)
    shrink   the removed members are deleted; the others get
             write_cluster_configuration_overrides(...)
    restart  restart() on one member at a time

The *fragment* is what Trove renders from its
``templates/mariadb/cluster.config.template``: a ``[mysqld]`` and a
``[galera]`` section. :func:`parse_fragment` accepts exactly the keys
that template (and Galera's usual tuning) uses and refuses anything else
by name, then :func:`galera_section` makes it right for this host: the
provider library found here, this member's own address and ports (group
communication, IST, SST and client), and the peers' addresses with a
port (``host`` alone means the member's own group port: members of one
cluster use the same ports unless they share a host, as in tests). The
fragment is kept in a 0600 file of the guest's state (it holds the SST
account's password); ``my.cnf`` never holds a secret: the ``rsync``
state transfer needs no account, and ``mariabackup`` is refused.
"""

import dataclasses
import ipaddress
import json
import logging
import os
import re
import time

from trove_core import exceptions
from trove_guest_base import files
from trove_guest_base import net

__all__ = ["Fragment", "GaleraMember", "PROVIDER_PATHS", "find_provider",
           "galera_section", "parse_fragment"]

LOG = logging.getLogger(__name__)

#: where Debian's, Ubuntu's and RHEL's galera-4 put the provider.
PROVIDER_PATHS = ("/usr/lib/galera/libgalera_smm.so",
                  "/usr/lib/libgalera_smm.so",
                  "/usr/lib/galera-4/libgalera_smm.so",
                  "/usr/lib64/galera-4/libgalera_smm.so",
                  "/usr/lib64/galera/libgalera_smm.so")
SST_METHODS = ("rsync",)
REPLICATION_SECRET = "galera_replication_user"  # noqa: S105 - a file name
FRAGMENT_FILE = "cluster.cnf"
_MAX_FRAGMENT = 64 * 1024

#: keys a fragment may set, per section (normalized with ``_``).
_MYSQLD_KEYS = frozenset({"bind_address", "default_storage_engine"})
_GALERA_KEYS = frozenset({
    "binlog_format", "innodb_autoinc_lock_mode",
    "innodb_flush_log_at_trx_commit", "innodb_doublewrite",
    "query_cache_size", "query_cache_type", "default_storage_engine",
    "wsrep_on", "wsrep_slave_threads", "wsrep_provider",
    "wsrep_provider_options", "wsrep_sst_method", "wsrep_sst_auth",
    "wsrep_cluster_address", "wsrep_cluster_name", "wsrep_node_name",
    "wsrep_node_address", "wsrep_certify_nonpk", "wsrep_max_ws_rows",
    "wsrep_max_ws_size", "wsrep_retry_autocommit", "wsrep_debug",
    "wsrep_log_conflicts", "bind_address"})
#: provider options the guest sets itself (addresses and ports).
_OWNED_PROVIDER_OPTIONS = frozenset({"base_port", "base_host",
                                     "gmcast.listen_addr", "ist.recv_addr",
                                     "ist.recv_bind"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
_PROVIDER_KEY = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_PROVIDER_VALUE = re.compile(r"^[A-Za-z0-9_.:/+-]{1,128}$")
_SIMPLE_VALUE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SYNC_STATES = ("Synced",)


def _bad(reason):
    return exceptions.BadRequest(
        reason="cluster_configuration: %s (send the fragment Trove renders "
        "from its cluster.config.template)" % reason)


def _norm(key):
    return key.strip().replace("-", "_").lower()


def _unquote(value):
    value = (value or "").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value


def split_address(text, default_port):
    """``host[:port]`` (IPv6 in brackets) as ``(host, port)``.

    :raises BadRequest: not an IP address or host name, or a bad port.
    """
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _bad("address %r has an unclosed '['" % text)
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise _bad("address %r: expected ':port' after ']'" % text)
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise _bad("member address %r is neither an IP address nor a "
                       "host name" % text) from None
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise _bad("member address %r has a port that is not a number"
                   % text) from None
    if not 0 < port < 65536:
        raise _bad("member address %r has port %d out of 1-65535"
                   % (text, port))
    return host, port


def _format_address(host, port):
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


@dataclasses.dataclass(frozen=True)
class Fragment:
    """A parsed cluster fragment.

    :param values: ``[galera]`` keys (normalized) and their values, the
        addresses, provider options and SST account excluded.
    :param cluster_name: ``wsrep_cluster_name``.
    :param node_name: ``wsrep_node_name`` or ``None``.
    :param node_host: the host part of ``wsrep_node_address`` or ``None``.
    :param members: ``((host, port), ...)`` of ``wsrep_cluster_address``.
    :param provider: the ``wsrep_provider`` path the fragment names.
    :param provider_options: ``{name: value}`` of
        ``wsrep_provider_options`` (the guest-owned ones removed).
    :param sst_method: ``wsrep_sst_method``.
    """

    values: dict
    cluster_name: str
    node_name: str
    node_host: str
    members: tuple
    provider: str
    provider_options: dict
    sst_method: str


def _provider_options(text):
    options = {}
    for item in _unquote(text).split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _PROVIDER_KEY.match(key) or \
                not _PROVIDER_VALUE.match(value):
            raise _bad("wsrep_provider_options item %r is not "
                       "'name=value'" % item)
        if key not in _OWNED_PROVIDER_OPTIONS:
            options[key] = value
    return options


def parse_fragment(text, group_port):
    """Check and parse a cluster fragment.

    :param text: the fragment (ini text).
    :param group_port: the port of a member address given without one.
    :returns: a :class:`Fragment`.
    :raises BadRequest: naming what is malformed; nothing was changed.
    """
    import configparser

    if not isinstance(text, str) or not text.strip():
        raise _bad("it is empty")
    if len(text) > _MAX_FRAGMENT or "\x00" in text:
        raise _bad("it is larger than %d bytes or holds NUL"
                   % _MAX_FRAGMENT)
    parser = configparser.RawConfigParser(allow_no_value=True, strict=True)
    parser.optionxform = str
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise _bad("not an ini text: %s" % str(exc).splitlines()[0]) \
            from None
    unknown_sections = sorted(set(parser.sections()) - {"mysqld", "galera"})
    if unknown_sections:
        raise _bad("unknown sections %s; expected [mysqld] and [galera]"
                   % unknown_sections)
    values = {}
    for section, allowed in (("mysqld", _MYSQLD_KEYS),
                             ("galera", _GALERA_KEYS)):
        if not parser.has_section(section):
            continue
        for key, value in parser.items(section):
            name = _norm(key)
            if name not in allowed:
                raise _bad("[%s] %s is not a key a cluster fragment may "
                           "set (allowed: %s)" % (section, key,
                                                  sorted(allowed)))
            values[name] = _unquote(value)
    if "wsrep_cluster_address" not in values:
        raise _bad("[galera] wsrep_cluster_address is missing")
    address = values.pop("wsrep_cluster_address")
    if not address.startswith("gcomm://"):
        raise _bad("wsrep_cluster_address %r must start with 'gcomm://'"
                   % address)
    listed = address[len("gcomm://"):].split("?")[0]
    members = tuple(split_address(item, group_port)
                    for item in listed.split(",") if item.strip())
    if not members:
        raise _bad("wsrep_cluster_address %r lists no member" % address)
    if len(set(members)) != len(members):
        raise _bad("wsrep_cluster_address %r lists a member twice"
                   % address)
    cluster_name = values.pop("wsrep_cluster_name", "")
    if not _NAME.match(cluster_name):
        raise _bad("wsrep_cluster_name %r must match %s"
                   % (cluster_name, _NAME.pattern))
    node_name = values.pop("wsrep_node_name", None) or None
    if node_name is not None and not _NAME.match(node_name):
        raise _bad("wsrep_node_name %r must match %s"
                   % (node_name, _NAME.pattern))
    node_host = None
    if values.get("wsrep_node_address"):
        node_host = split_address(values.pop("wsrep_node_address"),
                                  group_port)[0]
    values.pop("wsrep_node_address", None)
    if values.get("wsrep_on", "ON").upper() not in ("ON", "1", "TRUE"):
        raise _bad("wsrep_on is %r; a cluster member needs ON"
                   % values["wsrep_on"])
    sst_method = values.pop("wsrep_sst_method", "rsync") or "rsync"
    if sst_method not in SST_METHODS:
        raise _bad("wsrep_sst_method %r is not supported here; use %s"
                   % (sst_method, " or ".join(SST_METHODS)))
    values.pop("wsrep_sst_auth", None)  # rsync needs no account
    provider = values.pop("wsrep_provider", "") or ""
    provider_options = _provider_options(
        values.pop("wsrep_provider_options", ""))
    values.pop("bind_address", None)  # the guest owns its addresses
    for key, value in values.items():
        if not _SIMPLE_VALUE.match(value):
            raise _bad("%s = %r is not a plain value" % (key, value))
    return Fragment(values, cluster_name, node_name, node_host, members,
                    provider, provider_options, sst_method)


def find_provider(named=None, candidates=PROVIDER_PATHS):
    """The Galera provider library on this host.

    :param named: the path the fragment (or ``[mysql] galera_provider``)
        names; used when it exists here.
    :raises DatastoreError: none is installed, saying what to install.
    """
    for path in ((named,) if named else ()) + tuple(candidates):
        if path and os.path.isfile(path):
            return path
    raise exceptions.DatastoreError(
        operation="install_cluster", reason="no Galera provider library "
        "here (looked for %s); install the OS package galera-4"
        % ", ".join(((named,) if named else ()) + tuple(candidates)))


def galera_section(fragment, own, provider, bootstrap=False):
    """The ``[galera]`` section this member's ``my.cnf`` gets.

    :param fragment: a :class:`Fragment`.
    :param own: ``{"host", "port", "group_port", "ist_port",
        "sst_port"}`` of this member.
    :param provider: the provider library path found here.
    :param bootstrap: start a new cluster (empty ``gcomm://``).
    """
    host = own["host"]
    options = dict(fragment.provider_options)
    options["gmcast.listen_addr"] = "tcp://%s" % _format_address(
        host, own["group_port"])
    options["ist.recv_addr"] = _format_address(host, own["ist_port"])
    section = dict(fragment.values)
    section.update({
        "wsrep_on": "ON",
        "wsrep_provider": provider,
        "wsrep_provider_options": '"%s"' % "; ".join(
            "%s=%s" % item for item in sorted(options.items())),
        "wsrep_cluster_name": fragment.cluster_name,
        "wsrep_cluster_address": "gcomm://" if bootstrap else
        "gcomm://%s" % ",".join(_format_address(h, p)
                                for h, p in fragment.members),
        "wsrep_node_address": host,
        "wsrep_node_incoming_address": _format_address(host, own["port"]),
        "wsrep_sst_receive_address": _format_address(host,
                                                     own["sst_port"]),
        "wsrep_sst_method": fragment.sst_method,
    })
    section.setdefault("binlog_format", "ROW")
    section.setdefault("innodb_autoinc_lock_mode", "2")
    if fragment.node_name:
        section["wsrep_node_name"] = fragment.node_name
    return section


class GaleraMember:
    """The Galera family of the MySQL manager (a mixin of
    :class:`trove_ds_mysql.manager.Manager`): the operations of
    :class:`~trove_core.capabilities.IGaleraCluster`."""

    # -- where things live ------------------------------------------------

    def _fragment_path(self):
        return os.path.join(self.state_dir, "config", FRAGMENT_FILE)

    def _galera_state(self):
        return dict(self.recall("galera", {}))

    @property
    def galera_installed(self):
        """Whether ``install_cluster`` succeeded on this member."""
        return bool(self._galera_state().get("installed"))

    def _own_address(self, fragment=None):
        options = self.options
        host = options.galera_address
        if not host:
            bind = options.bind_address
            if bind and bind not in ("0.0.0.0", "::"):  # noqa: S104
                host = bind
            elif fragment is not None and fragment.node_host:
                host = fragment.node_host
            else:
                host = self._galera_state().get("host") or "127.0.0.1"
        return {"host": host, "port": options.port,
                "group_port": options.galera_port,
                "ist_port": options.galera_ist_port,
                "sst_port": options.galera_sst_port}

    def cluster_section(self):
        """The ``[galera]`` section of ``my.cnf`` (``None`` until
        ``install_cluster``)."""
        state = self._galera_state()
        if not state.get("installed") and not state.get("starting"):
            return None
        try:
            with open(self._fragment_path(), encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        fragment = parse_fragment(text, self.options.galera_port)
        own = self._own_address(fragment)
        provider = find_provider(self.options.galera_provider
                                 or fragment.provider)
        return galera_section(fragment, own, provider,
                              bootstrap=bool(state.get("starting")
                                             == "bootstrap"))

    # -- checks --------------------------------------------------------------

    def _peers(self, fragment, own):
        me = {(own["host"], own["group_port"])}
        return [m for m in fragment.members if m not in me]

    @staticmethod
    def _answering(peers, timeout=1.0):
        return [p for p in peers if net.port_open(p[0], p[1], timeout)]

    @staticmethod
    def _check_replication_user(replication_user):
        if not isinstance(replication_user, dict):
            raise exceptions.BadRequest(
                reason="replication_user must be {'name', 'password'}")
        name = replication_user.get("name")
        password = replication_user.get("password")
        if not isinstance(name, str) or not re.match(
                r"^[A-Za-z0-9_]{1,32}$", name):
            raise exceptions.BadRequest(
                reason="replication_user name %r must be 1-32 letters, "
                "digits or '_'" % (name,))
        if not isinstance(password, str) or not password or any(
                c in password for c in "\x00\r\n"):
            raise exceptions.BadRequest(
                reason="replication_user %r needs a non-empty one-line "
                "password" % name)
        return {"name": name, "password": password}

    def wsrep_status(self):
        """``{name: value}`` of the server's ``wsrep_%`` status."""
        with self.server.admin() as cur:
            cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN "
                        "('wsrep_ready', 'wsrep_cluster_status', "
                        "'wsrep_local_state_comment', "
                        "'wsrep_cluster_size', 'wsrep_connected', "
                        "'wsrep_cluster_state_uuid')")
            return {name: value for name, value in cur.fetchall()}

    def wait_synced(self, timeout=None):
        """Wait until this member is synced in a primary component.

        :raises ClusterError: not synced in time; the last status is
            quoted.
        """
        timeout = timeout or self.options.start_timeout
        deadline = time.monotonic() + timeout
        status = {}
        while True:
            try:
                status = self.wsrep_status()
            except exceptions.DatastoreError as exc:
                status = {"error": str(exc)}
            if status.get("wsrep_ready") == "ON" and status.get(
                    "wsrep_cluster_status") == "Primary" and status.get(
                    "wsrep_local_state_comment") in _SYNC_STATES:
                return status
            if time.monotonic() > deadline:
                raise exceptions.ClusterError(
                    operation="install_cluster", reason="the member did not "
                    "reach a synced primary component within %d s (last "
                    "status %s); see %s" % (timeout, status,
                                            self.server.logs["error"]))
            time.sleep(0.3)

    # -- IGaleraCluster --------------------------------------------------

    def reset_admin_password(self, admin_password):
        """See :class:`trove_core.capabilities.IGaleraCluster`."""
        if not isinstance(admin_password, str) or not admin_password or \
                any(c in admin_password for c in "\x00\r\n"):
            raise exceptions.BadRequest(
                reason="admin_password must be a non-empty one-line "
                "string")
        with self.server.admin() as cur:
            cur.execute("ALTER USER %s@'localhost' IDENTIFIED BY %s",
                        (self.options.admin_user, admin_password))
        self.store_secret("admin_password", admin_password)

    def install_cluster(self, replication_user, cluster_configuration,
                        bootstrap=False):
        """See :class:`trove_core.capabilities.IGaleraCluster`.

        Checks everything before touching the server: the fragment, the
        replication account, the provider library, and the peers (a
        bootstrap refuses when a listed member already answers; a join
        needs one that answers). A failed start puts the server back as
        it was (a single server) when it can.

        :raises BadRequest: malformed input; nothing changed.
        :raises ClusterError: the peers' state forbids it, or the member
            did not join; the server runs as before, or is stopped and
            restartable.
        """
        user = self._check_replication_user(replication_user)
        fragment = parse_fragment(cluster_configuration,
                                  self.options.galera_port)
        find_provider(self.options.galera_provider or fragment.provider)
        own = self._own_address(fragment)
        state = self._galera_state()
        if state.get("installed") and state.get(
                "cluster_name") != fragment.cluster_name:
            raise exceptions.BadRequest(
                reason="this member already belongs to Galera cluster %r; "
                "it cannot join %r" % (state["cluster_name"],
                                       fragment.cluster_name))
        peers = self._peers(fragment, own)
        answering = self._answering(peers)
        if bootstrap and answering:
            raise exceptions.ClusterError(
                operation="install_cluster", reason="member(s) %s already "
                "answer on their group port: a cluster is running there; "
                "bootstrapping another would split it, join it instead "
                "(bootstrap=False)" % ", ".join(
                    _format_address(*p) for p in answering))
        if not bootstrap and not answering:
            raise exceptions.ClusterError(
                operation="install_cluster", reason="no member of %s "
                "answers on its group port: the cluster does not exist "
                "or is unreachable; bootstrap its first member, or fix "
                "the addresses" % (", ".join(
                    _format_address(*p) for p in peers) or "the fragment"))
        if self.server.runner.is_running():
            with self.server.admin() as cur:
                cur.execute("CREATE USER IF NOT EXISTS %s@'%%' "
                            "IDENTIFIED BY %s",
                            (user["name"], user["password"]))
                cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s",
                            (user["name"], user["password"]))
                cur.execute("GRANT RELOAD, LOCK TABLES, PROCESS, "
                            "REPLICATION CLIENT ON *.* TO %s@'%%'",
                            (user["name"],))
        self.store_secret(REPLICATION_SECRET, json.dumps(user))
        previous = self._read_fragment()
        files.atomic_write(self._fragment_path(), cluster_configuration,
                           mode=0o600)
        started = time.monotonic()
        try:
            self.server.stop()
            self.remember(galera=dict(
                state, starting="bootstrap" if bootstrap else "join",
                host=own["host"]))
            self._render()
            self.server.cluster = True
            self.server.start()
            self.wait_synced()
        except Exception as exc:
            LOG.error("install_cluster failed: %s", type(exc).__name__)
            self._undo_install(state, previous)
            raise
        self.remember(galera=dict(
            state, installed=True, starting=None, host=own["host"],
            cluster_name=fragment.cluster_name,
            bootstrapped=bool(bootstrap),
            members=[_format_address(*m) for m in fragment.members]))
        self._render()  # the full address list for the next start
        self.update_cluster_member(
            role="bootstrap" if bootstrap else "joiner",
            cluster_name=fragment.cluster_name,
            node=_format_address(own["host"], own["group_port"]))
        LOG.info("member %s %s Galera cluster %s in %.1f s",
                 _format_address(own["host"], own["group_port"]),
                 "bootstrapped" if bootstrap else "joined",
                 fragment.cluster_name, time.monotonic() - started)

    def _read_fragment(self):
        try:
            with open(self._fragment_path(), encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def _undo_install(self, state, previous):
        """Put the server back as it was before a failed install."""
        try:
            self.server.stop()
        except Exception as exc:  # report the install error, not this
            LOG.warning("could not stop the server: %s", exc)
        self.remember(galera=dict(state, starting=None))
        if previous is None:
            os.unlink(self._fragment_path())
        else:
            files.atomic_write(self._fragment_path(), previous, mode=0o600)
        self.server.cluster = bool(state.get("installed"))
        self._render()
        if state.get("installed"):
            return  # a member of another state: restartable, not started
        try:
            self.server.start()
        except Exception as exc:
            LOG.error("the server did not start again after the failed "
                      "install: %s", exc)

    def get_cluster_context(self):
        """See :class:`trove_core.capabilities.IGaleraCluster`."""
        state = self._galera_state()
        if not state.get("installed"):
            raise exceptions.BadRequest(
                reason="no Galera cluster is installed on this member; "
                "call install_cluster first")
        user = json.loads(self.load_secret(REPLICATION_SECRET) or "{}")
        return {"replication_user": user,
                "cluster_name": state["cluster_name"],
                "admin_password": self.load_secret("admin_password")}

    def write_cluster_configuration_overrides(self, cluster_configuration):
        """See :class:`trove_core.capabilities.IGaleraCluster`: the new
        address list is used from the next start; the running member is
        not restarted."""
        fragment = parse_fragment(cluster_configuration,
                                  self.options.galera_port)
        state = self._galera_state()
        if not state.get("installed"):
            raise exceptions.BadRequest(
                reason="no Galera cluster is installed on this member; "
                "call install_cluster first")
        if fragment.cluster_name != state["cluster_name"]:
            raise exceptions.BadRequest(
                reason="the fragment names cluster %r but this member "
                "belongs to %r" % (fragment.cluster_name,
                                   state["cluster_name"]))
        find_provider(self.options.galera_provider or fragment.provider)
        files.atomic_write(self._fragment_path(), cluster_configuration,
                           mode=0o600)
        self.remember(galera=dict(state, members=[
            _format_address(*m) for m in fragment.members]))
        self._render()

    def do_cluster_complete(self):
        """A Galera member completes only synced in a primary
        component (checked when its server runs)."""
        if self.galera_installed and self.server.runner.is_running():
            status = self.wsrep_status()
            if status.get("wsrep_cluster_status") != "Primary":
                raise exceptions.ClusterError(
                    operation="cluster_complete", reason="the member is "
                    "not in a primary component (%s)" % status)
