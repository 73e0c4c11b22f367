"""Unit tests of mongod.conf rendering and the overrides schema."""

import jsonschema
import pytest
import yaml

from trove_core import exceptions
from trove_ds_mongodb import config


class TestValidateOverrides:
    """Overrides are checked against the schema and typed."""

    def test_types_values(self):
        """Strings from the API become the schema's types."""
        typed = config.validate_overrides({
            "net.maxIncomingConnections": "500",
            "systemLog.quiet": "true",
            "storage.wiredTiger.engineConfig.cacheSizeGB": 1.5})
        assert typed == {"net.maxIncomingConnections": 500,
                         "systemLog.quiet": True,
                         "storage.wiredTiger.engineConfig.cacheSizeGB": 1.5}

    @pytest.mark.parametrize("overrides, name, match", [
        pytest.param({"net.port": 1}, "net.port", "not a MongoDB parameter",
                     id="guest-owned"),
        pytest.param({"security.authorization": "disabled"},
                     "security.authorization", "not a MongoDB parameter",
                     id="authorization"),
        pytest.param({"net.maxIncomingConnections": 0},
                     "net.maxIncomingConnections", "below the minimum",
                     id="too-small"),
        pytest.param({"systemLog.verbosity": 9}, "systemLog.verbosity",
                     "above the maximum", id="too-big"),
        pytest.param({"systemLog.verbosity": "loud"}, "systemLog.verbosity",
                     "expected an integer", id="not-a-number"),
        pytest.param({"systemLog.verbosity": True}, "systemLog.verbosity",
                     "expected a number", id="bool-as-number"),
        pytest.param({"systemLog.quiet": "yes"}, "systemLog.quiet",
                     "expected true or false", id="bad-bool"),
        pytest.param({"operationProfiling.mode": "some"},
                     "operationProfiling.mode", "is not one of",
                     id="bad-choice"),
    ])
    def test_rejects(self, overrides, name, match):
        """Unknown names and bad values are refused, naming the
        parameter."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=match) as info:
            config.validate_overrides(overrides)
        assert info.value.name == name

    def test_rejects_non_mapping(self):
        """A list is not an overrides mapping."""
        with pytest.raises(exceptions.BadRequest,
                           match="must be a mapping") as info:
            config.validate_overrides(["a"])
        assert "list" in info.value.reason

    def test_dynamic_split(self):
        """Dynamic parameters map to setParameter names."""
        live, restart = config.dynamic_changes({
            "systemLog.verbosity": 2,
            "setParameter.cursorTimeoutMillis": 60000,
            "net.maxIncomingConnections": 10})
        assert live == {"logLevel": 2, "cursorTimeoutMillis": 60000}
        assert restart == ["net.maxIncomingConnections"]

    def test_json_schema(self):
        """The exported JSON Schema accepts what the schema accepts and
        refuses unknown names."""
        schema = config.json_schema()
        jsonschema.validate({"systemLog.verbosity": 3}, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"net.port": 1}, schema)


class TestRender:
    """mongod.conf is YAML: base, then overrides, then system settings."""

    def test_layers(self):
        """System settings win over the base; overrides nest by dots."""
        base = config.parse_base(
            "net:\n  port: 1\n  maxIncomingConnections: 5\n"
            "storage:\n  dbPath: /elsewhere\n")
        text = config.render(
            base, {"net.maxIncomingConnections": 50,
                   "storage.wiredTiger.engineConfig.cacheSizeGB": 0.5},
            {"net.port": 27017, "storage.dbPath": "/data",
             "security.authorization": "enabled",
             "replication.replSetName": None})
        data = yaml.safe_load(text)
        assert data["net"] == {"port": 27017, "maxIncomingConnections": 50}
        assert data["storage"]["dbPath"] == "/data"
        assert data["storage"]["wiredTiger"]["engineConfig"] == {
            "cacheSizeGB": 0.5}
        assert data["security"] == {"authorization": "enabled"}
        assert "replication" not in data

    def test_none_removes_base_setting(self):
        """A ``None`` system value removes what the base set, and the
        section it empties."""
        base = {"replication": {"replSetName": "x"},
                "security": {"keyFile": "/k", "authorization": "enabled"}}
        data = yaml.safe_load(config.render(
            base, {}, {"replication.replSetName": None,
                       "security.keyFile": None, "net.ipv6": None}))
        assert data == {"security": {"authorization": "enabled"}}

    def test_hostile_value_stays_a_value(self):
        """A value holding YAML syntax is quoted, not parsed as config."""
        text = config.render({}, {}, {"systemLog.path":
                                      "x\nsecurity:\n  authorization: off"})
        data = yaml.safe_load(text)
        assert "security" not in data
        assert data["systemLog"]["path"].startswith("x\n")

    @pytest.mark.parametrize("text, match", [
        pytest.param("- a\n- b\n", "must be a YAML mapping", id="list"),
        pytest.param("net: [", "not valid YAML", id="broken"),
    ])
    def test_parse_base_rejects(self, text, match):
        """A base that is not a YAML mapping is refused."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=match) as info:
            config.parse_base(text)
        assert info.value.name == "config_contents"
