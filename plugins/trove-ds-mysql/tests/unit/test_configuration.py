"""The parameter schema and the rendering of my.cnf."""

import pytest

from trove_core import exceptions
from trove_ds_mysql import configuration
from trove_guest_base import exceptions as guest_exceptions


@pytest.fixture(scope="module")
def schema():
    """The schema shipped with the package."""
    return configuration.load_schema()


class TestSchema:
    """Validation of overrides."""

    def test_shipped_entries_are_complete(self, schema):
        """Every entry has a name, a type and a dynamic flag."""
        rules = schema.as_rules()
        assert len(rules) >= 30
        assert all(r["type"] in ("integer", "float", "boolean", "string")
                   for r in rules)

    @pytest.mark.parametrize("name,value,expected", [
        pytest.param("max_connections", "200", 200, id="int-string"),
        pytest.param("max_allowed_packet", "16M", 16 * 1024 ** 2,
                     id="size-suffix"),
        pytest.param("general_log", True, "ON", id="bool"),
        pytest.param("slow_query_log", "off", "OFF", id="bool-text"),
        pytest.param("long_query_time", "0.5", 0.5, id="float"),
        pytest.param("binlog_format", "row", "ROW", id="choice"),
        pytest.param("max-connections", 20, 20, id="dashes"),
    ])
    def test_converts(self, schema, name, value, expected):
        """Values are converted to their parameter's type."""
        key = name.replace("-", "_")
        assert schema.validate({name: value}) == {key: expected}

    @pytest.mark.parametrize("name,value,allowed", [
        pytest.param("max_connections", 5, r"\[10, 100000\]",
                     id="below-min"),
        pytest.param("innodb_flush_log_at_trx_commit", 9, r"\[0, 3\]",
                     id="above-max"),
        pytest.param("max_connections", "many", "an integer",
                     id="not-a-number"),
        pytest.param("general_log", "perhaps", "a boolean", id="bad-bool"),
        pytest.param("binlog_format", "JSON", "one of ROW", id="choice"),
        pytest.param("sql_mode", "a\nb", "a string", id="newline"),
    ])
    def test_refuses(self, schema, name, value, allowed):
        """A bad value names the parameter and what is allowed."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=allowed) as info:
            schema.validate({name: value})
        assert info.value.name == name.replace("-", "_")
        assert name in str(info.value)

    def test_unknown(self, schema):
        """An unknown parameter is refused by name."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="not a configurable") as info:
            schema.validate({"datadir": "/tmp/x"})
        assert info.value.name == "datadir"

    def test_split(self, schema):
        """Dynamic and static overrides are told apart."""
        dynamic, static = schema.split(schema.validate(
            {"max_connections": 50, "innodb_log_file_size": "64M"}))
        assert dynamic == {"max_connections": 50}
        assert static == {"innodb_log_file_size": 64 * 1024 ** 2}


class TestRender:
    """Rendering my.cnf from guest options, contents and overrides."""

    @pytest.fixture
    def server(self, tmp_path, make_conf):
        """A server object over temporary paths (nothing started)."""
        from trove_ds_mysql.service import MySQLServer

        conf = make_conf(str(tmp_path), port=3399)
        return MySQLServer(conf.mysql, str(tmp_path / "state"),
                           lambda name: str(tmp_path / "secrets" / name))

    def test_guest_owned_keys_win(self, server):
        """config_contents cannot move the data dir or the port."""
        text = server.render_config(
            "[mysqld]\ndatadir = /elsewhere\nport = 1\nwait_timeout = 5\n",
            {"max_connections": 42})
        assert "datadir = %s" % server.data_dir in text
        assert "/elsewhere" not in text
        assert "port = 3399" in text
        assert "wait_timeout = 5" in text
        assert "max_connections = 42" in text

    def test_dash_spelling_is_replaced(self, server):
        """A dashed spelling of an owned key is removed, not duplicated."""
        text = server.render_config("[mysqld]\npid-file = /x.pid\n")
        assert "/x.pid" not in text
        assert text.count("pid_file") == 1

    def test_memory_sizes_buffer_pool(self, server):
        """Half the instance memory goes to the InnoDB buffer pool."""
        assert "innodb_buffer_pool_size = 1024M" in server.render_config(
            memory_mb=2048)

    def test_injection_refused(self, server):
        """A newline in a value cannot inject configuration."""
        with pytest.raises(guest_exceptions.ConfigFileError,
                           match="line break"):
            server.render_config(overrides={"sql_mode": "x\nuser=root"})


class TestRunnerChoice:
    """The runner option picks the supervisor."""

    @pytest.mark.parametrize("runner,cls", [
        pytest.param("systemd", "SystemdRunner", id="systemd"),
        pytest.param("child", "ChildRunner", id="child"),
    ])
    def test_runner(self, tmp_path, make_conf, runner, cls):
        """systemd drives the unit; child runs the server itself."""
        from trove_ds_mysql.service import MySQLServer

        conf = make_conf(str(tmp_path), runner=runner,
                         systemd_unit="mariadb.service")
        server = MySQLServer(conf.mysql, str(tmp_path / "state"),
                             lambda name: str(tmp_path / name))
        assert type(server.runner).__name__ == cls
        if runner == "systemd":
            assert server.runner.unit == "mariadb.service"


class TestIncludes:
    """Trove's template ends with ``!includedir /etc/mysql/conf.d/``."""

    def test_includes_dropped(self, make_conf, tmp_path, caplog):
        """Include lines never reach my.cnf; the guest's port, socket and
        data directory win over the template's."""
        from trove_ds_mysql import service

        conf = make_conf(str(tmp_path), port=3999)
        server = service.MySQLServer(conf.mysql, str(tmp_path / "state"),
                                     lambda name: str(tmp_path / name))
        template = ("[mysqld]\nport = 3306\ndatadir = /var/lib/mysql\n"
                    "socket = /run/mysqld/mysqld.sock\n"
                    "!include /etc/mysql/extra.cnf\n"
                    "[isamchk]\nkey_buffer = 16M\n\n"
                    "!includedir /etc/mysql/conf.d/\n")
        with caplog.at_level("WARNING"):
            text = server.render_config(template)
        assert "!include" not in text
        assert "port = 3999" in text and "port = 3306" not in text
        assert "datadir = %s" % server.data_dir in text
        assert "socket = %s" % server.socket in text
        assert "key_buffer = 16M" in text
        warned = [r.getMessage() for r in caplog.records]
        assert any("'!includedir /etc/mysql/conf.d/'" in m for m in warned)
