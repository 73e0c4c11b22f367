"""Unit tests of the Redis override schema and redis.conf rendering."""

import pytest

from trove_core import exceptions
from trove_ds_redis import configuration
from trove_guest_base import exceptions as guest_exceptions


class TestSchema:
    """The override schema shipped as validation-rules.json."""

    def test_loads_with_types_and_dynamic_flags(self):
        """Every parameter has a known type and a dynamic flag."""
        schema = configuration.load_schema()
        assert schema["maxmemory"].dynamic is True
        assert schema["databases"].dynamic is False
        assert {p.type for p in schema.values()} <= {
            "integer", "string", "boolean"}

    @pytest.mark.parametrize("overrides, expected", [
        pytest.param({"maxmemory": 1024}, {"maxmemory": "1024"}, id="int"),
        pytest.param({"maxmemory": "2048"}, {"maxmemory": "2048"},
                     id="int-string"),
        pytest.param({"appendonly": True}, {"appendonly": "yes"},
                     id="bool"),
        pytest.param({"appendonly": "off"}, {"appendonly": "no"},
                     id="bool-word"),
        pytest.param({"save": "900 1 60 100"}, {"save": "900 1 60 100"},
                     id="save-points"),
        pytest.param({"save": ""}, {"save": ""}, id="save-off"),
        pytest.param({"maxmemory-policy": "allkeys-lru"},
                     {"maxmemory-policy": "allkeys-lru"}, id="choice"),
    ])
    def test_accepts_valid_values(self, overrides, expected):
        """Valid values come back in the form Redis takes."""
        assert configuration.validate_overrides(overrides) == expected

    @pytest.mark.parametrize("name, value, match", [
        pytest.param("maxmemory", -1, "below the minimum", id="too-small"),
        pytest.param("hz", 501, "above the maximum", id="too-large"),
        pytest.param("hz", "ten", "expected an integer", id="not-int"),
        pytest.param("hz", True, "got a boolean", id="bool-as-int"),
        pytest.param("appendonly", "maybe", "expected a boolean",
                     id="not-bool"),
        pytest.param("maxmemory-policy", "lru", "is not one of",
                     id="not-a-choice"),
        pytest.param("save", "900", "does not match", id="odd-save"),
        pytest.param("notify-keyspace-events", "K\nrequirepass x",
                     "does not match", id="newline-injection"),
        pytest.param("requirepass", "x", "not a configurable",
                     id="guest-owned"),
        pytest.param("no-such-thing", 1, "not a configurable",
                     id="unknown"),
    ])
    def test_rejects_naming_the_parameter(self, name, value, match):
        """A bad override is refused with the parameter's name."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=match) as info:
            configuration.validate_overrides({name: value})
        assert info.value.name == name
        assert name in str(info.value)

    def test_rejects_a_non_mapping(self):
        """Overrides must be a mapping."""
        with pytest.raises(exceptions.BadRequest,
                           match="must be a mapping") as info:
            configuration.validate_overrides(["maxmemory"])
        assert "list" in info.value.reason


class TestRender:
    """Rendering redis.conf from base, guest keys and overrides."""

    def test_guest_keys_win_over_base_and_overrides_win_over_both(self):
        """The base cannot set guest-owned keys; overrides come last."""
        base = ("port 1\nrequirepass leaked\nrename-command CONFIG x\n"
                "include /etc/evil.conf\ntimeout 5\nhz 20\n")
        text = configuration.render(
            base, {"port": 7000, "save": ["60 1", "300 10"]},
            {"hz": "50", "save": "10 1"})
        lines = text.splitlines()
        assert "port 7000" in lines and "port 1" not in lines
        assert not [ln for ln in lines if ln.startswith(
            ("requirepass", "rename-command", "include"))]
        assert "timeout 5" in lines and "hz 50" in lines
        assert [ln for ln in lines if ln.startswith("save")] == [
            "save 10 1"]

    def test_empty_save_disables_snapshots(self):
        """An empty save override renders save "" ."""
        text = configuration.render(None, {}, {"save": ""})
        assert 'save ""' in text.splitlines()

    def test_refuses_a_line_break_in_a_guest_value(self):
        """A newline in any value is refused, never written."""
        with pytest.raises(guest_exceptions.ConfigFileError,
                           match="line break") as info:
            configuration.render(None, {"bind": "1.2.3.4\nport 1"}, {})
        assert info.value.key == "bind"
