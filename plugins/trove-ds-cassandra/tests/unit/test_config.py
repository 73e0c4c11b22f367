"""Unit tests of cassandra.yaml rendering and the overrides schema."""

import jsonschema
import pytest
import yaml

from trove_core import exceptions
from trove_ds_cassandra import config


class TestOverrides:
    """Overrides are checked against the schema and typed."""

    def test_typed(self):
        """API strings become integers and booleans."""
        assert config.validate_overrides(
            {"concurrent_reads": "64", "auto_snapshot": "false"}) == {
            "concurrent_reads": 64, "auto_snapshot": False}

    @pytest.mark.parametrize("overrides, name, match", [
        pytest.param({"authenticator": "AllowAllAuthenticator"},
                     "authenticator", "not a Cassandra parameter",
                     id="guest-owned"),
        pytest.param({"cluster_name": "x"}, "cluster_name",
                     "not a Cassandra parameter", id="cluster-name"),
        pytest.param({"concurrent_reads": 0}, "concurrent_reads",
                     "below the minimum", id="small"),
        pytest.param({"concurrent_reads": 2.5}, "concurrent_reads",
                     "expected an integer", id="float"),
        pytest.param({"concurrent_reads": "many"}, "concurrent_reads",
                     "expected an integer", id="text"),
        pytest.param({"auto_snapshot": 1}, "auto_snapshot",
                     "expected true or false", id="bool"),
    ])
    def test_refused(self, overrides, name, match):
        """Unknown names and bad values are refused, naming the
        parameter."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=match) as info:
            config.validate_overrides(overrides)
        assert info.value.name == name

    def test_dynamic(self):
        """Dynamic parameters become nodetool arguments."""
        live, restart = config.dynamic_changes({
            "compaction_throughput_mb_per_sec": 32,
            "hinted_handoff_enabled": False, "concurrent_reads": 8})
        assert live == [["setcompactionthroughput", "32"],
                        ["disablehandoff"]]
        assert restart == ["concurrent_reads"]

    def test_json_schema(self):
        """The exported JSON Schema matches the schema."""
        schema = config.json_schema()
        jsonschema.validate({"concurrent_reads": 8}, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"concurrent_reads": "8"}, schema)


class TestRender:
    """Layers: defaults, base, overrides, system."""

    def test_layers(self):
        """System settings win; required defaults are present."""
        base = config.parse_base("authenticator: AllowAllAuthenticator\n"
                                 "concurrent_reads: 4\n"
                                 "commitlog_sync: batch\n")
        data = yaml.safe_load(config.render(
            base, {"concurrent_reads": 16},
            {"authenticator": config.PASSWORD_AUTHENTICATOR}))
        assert data["authenticator"] == "PasswordAuthenticator"
        assert data["concurrent_reads"] == 16
        assert data["commitlog_sync"] == "batch"
        assert data["partitioner"].endswith("Murmur3Partitioner")

    def test_seed_provider(self):
        """Seeds are one comma-separated parameter."""
        assert config.seed_provider(["10.0.0.1", "10.0.0.2"]) == [{
            "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
            "parameters": [{"seeds": "10.0.0.1,10.0.0.2"}]}]

    def test_rackdc(self):
        """The topology file, with names checked."""
        assert config.render_rackdc("dc1", "r1") == \
            "dc=dc1\nrack=r1\nprefer_local=true\n"
        with pytest.raises(exceptions.BadRequest, match="rack name"):
            config.render_rackdc("dc1", "r1\ndc=evil")

    def test_parse_base_refuses_list(self):
        """A base that is not a mapping is refused."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="YAML mapping") as info:
            config.parse_base("- a")
        assert info.value.name == "config_contents"
