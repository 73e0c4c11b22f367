"""Options split by process, exported to oslo-config-generator."""

import re
import subprocess
import sys

import pytest
from oslo_config import cfg
from oslo_config import generator

from trove_core import options

DATASTORES = ["mysql", "redis", "mongodb", "cassandra"]


def names(datastore, side):
    ((_group, opts),) = options.load_side(datastore, side)
    return {opt.name for opt in opts}


class TestCommonOptions:
    def test_per_datastore_defaults(self):
        """Common options take the datastore's defaults."""
        opts = {o.name: o for o in options.server_opts(tcp_ports=["1"])}
        assert opts["tcp_ports"].default == ["1"]
        assert opts["usage_timeout"].default == 400

    def test_unknown_default_is_an_error(self):
        """A typo in a default's name fails loudly."""
        with pytest.raises(TypeError, match="no common guest option named "
                           r"\['mount_pont'\]"):
            options.guest_opts(mount_pont="/x")

    def test_bad_default_type_is_refused(self):
        """oslo.config validates the per-datastore default."""
        with pytest.raises(cfg.DefaultValueError):
            options.server_opts(usage_timeout="soon")

    def test_process_options_are_opt_in(self):
        """Server process options come only when a plugin names them,
        by keyword with its default or by position with the core's."""
        plain = {o.name for o in options.guest_opts()}
        assert not plain & {"runner", "port", "systemd_unit"}
        opts = {o.name: o for o in options.guest_opts(
            "start_timeout", runner="child", port=1234)}
        assert opts["runner"].default == "child"
        assert opts["port"].default == 1234
        assert opts["start_timeout"].default == 120
        assert "systemd_unit" not in opts

    def test_unknown_wanted_name_is_an_error(self):
        """A typo in an opted-in name fails loudly."""
        with pytest.raises(TypeError, match="no common guest option named "
                           r"\['runer'\]"):
            options.guest_opts("runer")

    def test_renamed_option_reads_its_old_name(self, tmp_path):
        """A Renamed default keeps the plugin's old name readable in
        configuration files."""
        conf_file = tmp_path / "guest.conf"
        conf_file.write_text("[ds]\nmongod_binary = /opt/mongod\n")
        conf = cfg.ConfigOpts()
        conf.register_opts(options.guest_opts(
            server_binary=options.Renamed("mongod", "mongod_binary")),
            group="ds")
        conf(["--config-file", str(conf_file)], project="trove-test")
        assert conf.ds.server_binary == "/opt/mongod"
        [opt] = [o for o in options.guest_opts(
            server_binary=options.Renamed("mongod", "mongod_binary"))
            if o.name == "server_binary"]
        assert opt.default == "mongod"

    def test_namespace_rejects_unknown_side(self):
        """Only server and guest are sides."""
        with pytest.raises(ValueError, match="side must be one of"):
            options.namespace("mysql", "client")


class TestSplit:
    @pytest.mark.parametrize("datastore", DATASTORES)
    def test_sides_are_split(self, datastore):
        """Server options stay off the guest and the reverse."""
        server, guest = names(datastore, "server"), names(datastore, "guest")
        assert {"tcp_ports", "root_on_create", "usage_timeout"} <= server
        assert {"mount_point", "backup_strategy"} <= guest
        assert "tcp_ports" not in guest
        assert "backup_strategy" not in server

    @pytest.mark.parametrize("datastore", DATASTORES)
    def test_mount_point_is_on_both_sides_alike(self, datastore):
        """The control plane sends mount_point to the guest (Trove's
        taskmanager does, with prepare): both sides have it, with the
        same default."""
        defaults = {side: {o.name: o.default for _g, opts in
                           options.load_side(datastore, side)
                           for o in opts}["mount_point"]
                    for side in ("server", "guest")}
        assert defaults["server"] == defaults["guest"] != \
            "/var/lib/trove/data"

    def test_server_mount_point_is_opt_in(self):
        """A plugin that does not name it keeps its server side as it
        was."""
        assert "mount_point" not in {o.name for o in options.server_opts()}
        assert [o.default for o in options.server_opts("mount_point")
                if o.name == "mount_point"] == ["/var/lib/trove/data"]

    @pytest.mark.parametrize("datastore", DATASTORES)
    def test_process_registers_only_its_side(self, datastore):
        """A guest process sees guest options and no server ones."""
        conf = cfg.ConfigOpts()
        groups = options.register_side(conf, datastore, "guest")
        conf([], project="trove-test")
        assert groups == [datastore]
        assert conf[datastore].mount_point
        with pytest.raises(cfg.NoSuchOptError):
            conf[datastore].tcp_ports  # noqa: B018 (lookup is the test)

    @pytest.mark.parametrize("datastore", DATASTORES)
    @pytest.mark.parametrize("side", ["server", "guest"])
    def test_every_registered_group_is_exported(self, datastore, side):
        """Whatever a process registers, the generator can print."""
        conf = cfg.ConfigOpts()
        options.register_side(conf, datastore, side)
        registered = {(g.name, o) for g in conf._groups.values()
                      for o in g._opts}
        exported = set()
        for group, opts in generator._list_opts(
                [options.namespace(datastore, side)])[0][1]:
            exported |= {(getattr(group, "name", group), o.name)
                         for o in opts}
        assert registered and registered <= exported

    def test_secrets_are_secret(self):
        """Any option holding a password or key is secret=True."""
        holds_secret = re.compile(r"(^|_)(password|secret|key)$")
        for datastore in DATASTORES:
            for side in ("server", "guest"):
                for _group, opts in options.load_side(datastore, side):
                    for opt in opts:
                        if holds_secret.search(opt.name):
                            assert opt.secret, (datastore, opt.name)

    @pytest.mark.parametrize("datastore", DATASTORES)
    def test_both_sides_fit_one_process(self, datastore):
        """An all-in-one process can register both sides at once."""
        conf = cfg.ConfigOpts()
        options.register_side(conf, datastore, "server")
        options.register_side(conf, datastore, "guest")
        conf([], project="trove-test")
        assert conf[datastore].ignore_users == conf[datastore].ignore_users

    def test_registrations_do_not_leak(self):
        """Registering on one ConfigOpts leaves another untouched."""
        first, second = cfg.ConfigOpts(), cfg.ConfigOpts()
        options.register_side(first, "mysql", "server")
        options.register_side(second, "mysql", "guest")
        second([], project="trove-test")
        with pytest.raises(cfg.NoSuchOptError):
            second.mysql.tcp_ports  # noqa: B018 (lookup is the test)


class TestGenerator:
    @pytest.mark.parametrize("datastore", DATASTORES)
    @pytest.mark.parametrize("side", ["server", "guest"])
    def test_oslo_config_generator_prints_sample(self, datastore, side):
        """oslo-config-generator prints a sample for every namespace."""
        out = subprocess.run(
            [sys.executable, "-m", "oslo_config.generator", "--namespace",
             "trove.core", "--namespace", options.namespace(datastore, side)],
            check=True, capture_output=True, text=True).stdout
        assert "[%s]" % datastore in out
        assert "allowed_tiers" in out
        assert ("#backup_strategy" in out) == (side == "guest")
        assert ("#tcp_ports" in out) == (side == "server")
