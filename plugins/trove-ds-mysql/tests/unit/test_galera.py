"""Galera fragments, host fixes and the checks install_cluster makes
before it touches the server (no server needed)."""

import os
import socket

import pytest

from trove_core import exceptions
from trove_ds_mysql import galera
from trove_ds_mysql.manager import Manager

# What Trove 26 renders from templates/mariadb/cluster.config.template
# for a 512 MiB flavor (the member list and names filled in).
TROVE_FRAGMENT = """[mysqld]
bind-address=0.0.0.0
default-storage-engine=innodb

[galera]
binlog_format=ROW
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=0
innodb_doublewrite=1
query_cache_size=0
wsrep_on=ON
wsrep_slave_threads=8
wsrep_provider=/usr/lib/libgalera_smm.so
wsrep_provider_options="gcache.size=128M; gcache.page_size=1G"

wsrep_sst_method=rsync
wsrep_sst_auth="clusterrepuser:S3cret-pass"

wsrep_cluster_address="gcomm://10.0.0.1,10.0.0.2:5567,[fd00::3]"

wsrep_cluster_name=4f2c1b0a9d8e7f6a
wsrep_node_name=member-1
wsrep_node_address=10.0.0.1"""

OWN = {"host": "127.0.0.1", "port": 13306, "group_port": 14567,
       "ist_port": 14568, "sst_port": 14444}


def test_trove_fragment_parsed():
    frag = galera.parse_fragment(TROVE_FRAGMENT, 4567)
    assert frag.cluster_name == "4f2c1b0a9d8e7f6a"
    assert frag.members == (("10.0.0.1", 4567), ("10.0.0.2", 5567),
                            ("fd00::3", 4567))
    assert frag.node_name == "member-1"
    assert frag.node_host == "10.0.0.1"
    assert frag.sst_method == "rsync"
    assert frag.provider_options == {"gcache.size": "128M",
                                     "gcache.page_size": "1G"}
    assert "wsrep_sst_auth" not in frag.values  # the secret is dropped


def test_section_fixed_for_host(tmp_path):
    provider = tmp_path / "libgalera_smm.so"
    provider.write_bytes(b"")
    frag = galera.parse_fragment(TROVE_FRAGMENT, 4567)
    section = galera.galera_section(frag, OWN, str(provider))
    assert section["wsrep_provider"] == str(provider)
    assert section["wsrep_cluster_address"] == (
        "gcomm://10.0.0.1:4567,10.0.0.2:5567,[fd00::3]:4567")
    assert section["wsrep_node_address"] == "127.0.0.1"
    assert section["wsrep_sst_receive_address"] == "127.0.0.1:14444"
    assert section["wsrep_node_incoming_address"] == "127.0.0.1:13306"
    options = section["wsrep_provider_options"]
    assert "gmcast.listen_addr=tcp://127.0.0.1:14567" in options
    assert "ist.recv_addr=127.0.0.1:14568" in options
    assert "gcache.size=128M" in options
    assert "S3cret" not in repr(section)
    boot = galera.galera_section(frag, OWN, str(provider), bootstrap=True)
    assert boot["wsrep_cluster_address"] == "gcomm://"


def test_guest_owned_provider_options_replaced():
    text = TROVE_FRAGMENT.replace(
        "gcache.size=128M;", "gcache.size=128M; base_port=1; "
        "ist.recv_addr=6.6.6.6:1;")
    frag = galera.parse_fragment(text, 4567)
    assert set(frag.provider_options) == {"gcache.size", "gcache.page_size"}


@pytest.mark.parametrize("text, match", [
    pytest.param("", "empty", id="empty"),
    pytest.param("[galera\nx=1", "not an ini text", id="not-ini"),
    pytest.param("[galera]\nwsrep_on=ON\n", "wsrep_cluster_address is "
                 "missing", id="no-address"),
    pytest.param(TROVE_FRAGMENT + "\n[client]\nuser=x\n",
                 "unknown sections", id="section"),
    pytest.param(TROVE_FRAGMENT + "\nwsrep_notify_cmd=/bin/sh\n",
                 "not a key a cluster fragment may set", id="notify-cmd"),
    pytest.param(TROVE_FRAGMENT.replace("[mysqld]", "[mysqld]\n"
                                        "datadir=/etc"),
                 "not a key", id="datadir"),
    pytest.param(TROVE_FRAGMENT.replace("gcomm://", "tcp://"),
                 "must start with 'gcomm://'", id="scheme"),
    pytest.param(TROVE_FRAGMENT.replace('"gcomm://10.0.0.1,',
                                        '"gcomm://no host!,'),
                 "neither an IP address nor a host name", id="host"),
    pytest.param(TROVE_FRAGMENT.replace("10.0.0.2:5567", "10.0.0.2:0"),
                 "out of 1-65535", id="port-zero"),
    pytest.param(TROVE_FRAGMENT.replace("10.0.0.2:5567", "10.0.0.2:x"),
                 "not a number", id="port-text"),
    pytest.param(TROVE_FRAGMENT.replace("10.0.0.2:5567", "10.0.0.1"),
                 "lists a member twice", id="twice"),
    pytest.param(TROVE_FRAGMENT.replace('"gcomm://10.0.0.1,10.0.0.2:5567,'
                                        '[fd00::3]"', '"gcomm://"'),
                 "lists no member", id="no-member"),
    pytest.param(TROVE_FRAGMENT.replace("=4f2c1b0a9d8e7f6a",
                                        "=bad name;drop"),
                 "wsrep_cluster_name", id="cluster-name"),
    pytest.param(TROVE_FRAGMENT.replace("=rsync", "=mariabackup"),
                 "not supported here", id="sst-method"),
    pytest.param(TROVE_FRAGMENT.replace("wsrep_on=ON", "wsrep_on=OFF"),
                 "needs ON", id="wsrep-off"),
    pytest.param(TROVE_FRAGMENT.replace("gcache.size=128M",
                                        "gcache.size=1M`id`"),
                 "not 'name=value'", id="provider-option"),
    pytest.param(TROVE_FRAGMENT.replace("wsrep_slave_threads=8",
                                        "wsrep_slave_threads=8 $(id)"),
                 "not a plain value", id="value"),
    pytest.param(TROVE_FRAGMENT + "\nx" * 70000, "larger than",
                 id="huge"),
])
def test_malformed_fragment_refused(text, match):
    with pytest.raises(exceptions.BadRequest, match=match) as info:
        galera.parse_fragment(text, 4567)
    assert "cluster.config.template" in str(info.value)


def test_provider_found_or_named(tmp_path):
    there = tmp_path / "lib.so"
    there.write_bytes(b"")
    assert galera.find_provider("/nowhere.so", (str(there),)) == str(there)
    assert galera.find_provider(str(there), ()) == str(there)
    with pytest.raises(exceptions.DatastoreError, match="galera-4"):
        galera.find_provider("/nowhere.so", ("/nor/here.so",))


@pytest.fixture
def member(make_conf, tmp_path):
    provider = tmp_path / "libgalera_smm.so"
    provider.write_bytes(b"")
    conf = make_conf(str(tmp_path), galera_provider=str(provider),
                     galera_port=14567)
    mgr = Manager("mysql", conf, os.path.join(str(tmp_path), "state"))
    mgr._save_state(prepared=True, cluster_member={
        "id": "c1", "instance_type": "member", "role": "member",
        "complete": False, "failed": None})
    return mgr


USER = {"name": "clusterrepuser", "password": "pw-1"}


def _fragment(addresses):
    return TROVE_FRAGMENT.replace(
        '"gcomm://10.0.0.1,10.0.0.2:5567,[fd00::3]"',
        '"gcomm://%s"' % ",".join(addresses))


def test_join_without_cluster_refused_untouched(member):
    nowhere = "127.0.0.1:%d" % _free_port()
    with pytest.raises(exceptions.ClusterError,
                       match="does not exist or is unreachable"):
        member.install_cluster(USER, _fragment([nowhere]), False)
    assert not os.path.exists(member._fragment_path())
    assert member.load_secret(galera.REPLICATION_SECRET) is None


def test_bootstrap_beside_running_member_refused(member):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        peer = "127.0.0.1:%d" % listener.getsockname()[1]
        with pytest.raises(exceptions.ClusterError,
                           match="would split it"):
            member.install_cluster(USER, _fragment([peer]), True)
    assert not os.path.exists(member._fragment_path())


@pytest.mark.parametrize("user, match", [
    ("clusterrepuser", "replication_user must be"),
    ({"name": "x;drop", "password": "p"}, "1-32 letters"),
    ({"name": "rep", "password": ""}, "non-empty one-line"),
    ({"name": "rep", "password": "a\nb"}, "non-empty one-line"),
])
def test_bad_replication_user_refused(member, user, match):
    with pytest.raises(exceptions.BadRequest, match=match):
        member.install_cluster(user, TROVE_FRAGMENT, True)


def test_context_and_overrides_need_install(member):
    with pytest.raises(exceptions.BadRequest, match="install_cluster"):
        member.get_cluster_context()
    with pytest.raises(exceptions.BadRequest, match="install_cluster"):
        member.write_cluster_configuration_overrides(TROVE_FRAGMENT)


def test_overrides_other_cluster_refused(member):
    member.remember(galera={"installed": True, "cluster_name": "other"})
    with pytest.raises(exceptions.BadRequest, match="belongs to 'other'"):
        member.write_cluster_configuration_overrides(TROVE_FRAGMENT)


def test_overrides_rewrite_my_cnf(member):
    member.remember(galera={"installed": True,
                            "cluster_name": "4f2c1b0a9d8e7f6a",
                            "host": "127.0.0.1"})
    member.write_cluster_configuration_overrides(_fragment(
        ["127.0.0.1:14567", "127.0.0.1:24567"]))
    with open(member.options.config_file, encoding="utf-8") as handle:
        text = handle.read()
    assert "gcomm://127.0.0.1:14567,127.0.0.1:24567" in text
    assert "S3cret" not in text and "clusterrepuser" not in text
    mode = os.stat(member._fragment_path()).st_mode & 0o777
    assert mode == 0o600


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
