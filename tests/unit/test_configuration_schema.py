"""The core configuration-override schema (trove_core.configuration)."""

import json

import jsonschema
import pytest

from trove_core import configuration
from trove_core import exceptions

_SPEC = {
    "datastore": "Demo",
    "booleans": {"true": ["on", "true"], "false": ["off", "false"]},
    "integer-suffixes": {"K": 1024},
    "configuration-parameters": [
        {"name": "conns", "type": "integer", "dynamic": True, "min": 1,
         "max": 100, "apply": "setConns"},
        {"name": "open", "type": "integer", "dynamic": False, "min": 0},
        {"name": "ratio", "type": "float", "dynamic": True, "min": 0.5,
         "max": 2},
        {"name": "mode", "type": "string", "dynamic": False,
         "choices": ["fast", "safeMode"]},
        {"name": "tag", "type": "string", "dynamic": True,
         "pattern": "^[a-z]{1,8}$", "description": "a short tag"},
        {"name": "note", "type": "string", "dynamic": True},
        {"name": "audit", "type": "boolean", "dynamic": True,
         "default": "false"},
    ],
}


def _schema(**changes):
    spec = dict(_SPEC, **changes)
    return configuration.Schema.from_json(json.dumps(spec), "demo.json")


@pytest.fixture(scope="module")
def schema():
    """A schema with one parameter of each kind."""
    return _schema()


class TestValidate:
    """Overrides are typed, or refused naming the parameter."""

    @pytest.mark.parametrize("name, value, expected", [
        pytest.param("conns", "7", 7, id="integer-string"),
        pytest.param("conns", 9.0, 9, id="integral-float"),
        pytest.param("open", "2K", 2048, id="integer-suffix"),
        pytest.param("ratio", "1.5", 1.5, id="float"),
        pytest.param("ratio", 1, 1.0, id="float-from-int"),
        pytest.param("mode", "SAFEMODE", "safeMode", id="choice-case"),
        pytest.param("tag", "abc", "abc", id="pattern"),
        pytest.param("note", "any text", "any text", id="string"),
        pytest.param("audit", "ON", True, id="boolean-word"),
        pytest.param("audit", False, False, id="boolean"),
    ])
    def test_converts(self, schema, name, value, expected):
        """Each type comes back as its Python type."""
        typed = schema.validate({name: value})
        assert typed == {name: expected}
        assert type(typed[name]) is type(expected)

    @pytest.mark.parametrize("name, value, match", [
        pytest.param("conns", 0, r"0 is below the minimum 1; use an "
                     r"integer in \[1, 100\]", id="below"),
        pytest.param("conns", "101", "above the maximum 100", id="above"),
        pytest.param("conns", "many", r"expected an integer in \[1, 100\]"
                     ", got 'many'", id="not-integer"),
        pytest.param("conns", 2.5, "expected an integer", id="fraction"),
        pytest.param("conns", True, "expected a number, got a boolean",
                     id="boolean-as-number"),
        pytest.param("open", "2X", "expected an integer >= 0",
                     id="unknown-suffix"),
        pytest.param("ratio", "nan", r"expected a number in \[0.5, 2\]",
                     id="nan"),
        pytest.param("mode", "slow", "'slow' is not one of fast, safeMode",
                     id="choice"),
        pytest.param("tag", "ABC", r"does not match .*\(a short tag\)",
                     id="pattern"),
        pytest.param("note", "a\nb", "without line breaks",
                     id="line-break"),
        pytest.param("note", 5, "expected a string", id="not-string"),
        pytest.param("audit", "yes", r"expected a boolean \(true: on, "
                     "true; false: off, false\\), got 'yes'", id="boolean"),
    ])
    def test_refuses(self, schema, name, value, match):
        """A bad value names the parameter, the value and what is
        accepted."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match=match) as info:
            schema.validate({name: value})
        assert info.value.name == name
        assert info.value.value == value
        assert info.value.allowed == schema[name].accepted(schema.booleans)
        assert repr(name) in str(info.value)

    def test_strict_booleans_by_default(self):
        """Without ``booleans`` only true and false are accepted."""
        strict = _schema(booleans={"true": ["true"], "false": ["false"]})
        assert strict.validate({"audit": "True"}) == {"audit": True}
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="expected true or false, got 1") as info:
            strict.validate({"audit": 1})
        assert info.value.name == "audit"

    def test_unknown_name_lists_known(self, schema):
        """An unknown name is refused with the names that exist."""
        with pytest.raises(exceptions.InvalidConfiguration,
                           match="not a Demo parameter .*use one of: "
                           "audit, conns, mode") as info:
            schema.validate({"datadir": "/tmp"})
        assert info.value.name == "datadir"
        assert info.value.allowed == sorted(schema)

    @pytest.mark.parametrize("overrides", [
        pytest.param(["conns"], id="list"),
        pytest.param("conns=1", id="string"),
    ])
    def test_not_a_mapping(self, schema, overrides):
        """Overrides that are not a mapping are a bad request."""
        with pytest.raises(exceptions.BadRequest,
                           match="must be a mapping") as info:
            schema.validate(overrides)
        assert type(overrides).__name__ in info.value.reason
        assert not isinstance(info.value, exceptions.InvalidConfiguration)

    def test_none_is_empty(self, schema):
        """``None`` (Trove's "no overrides") validates to nothing."""
        assert schema.validate(None) == {}


class TestSchema:
    """Splitting, exporting and the mapping interface."""

    def test_split(self, schema):
        """Dynamic and restart-needing overrides are told apart."""
        dynamic, restart = schema.split(schema.validate(
            {"conns": 5, "open": 3, "audit": True}))
        assert dynamic == {"conns": 5, "audit": True}
        assert restart == {"open": 3}
        assert schema["open"].restart_required is True

    def test_mapping_and_plugin_data(self, schema):
        """The schema maps names to parameters carrying ``apply``."""
        assert "conns" in schema and len(schema) == 7
        assert schema["conns"].apply == "setConns"
        assert schema["audit"].default is False

    def test_json_schema(self, schema):
        """The JSON Schema export accepts the typed form only."""
        exported = schema.json_schema()
        jsonschema.validate({"conns": 5, "mode": "fast"}, exported)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"conns": "5"}, exported)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"nosuch": 1}, exported)

    def test_as_rules(self, schema):
        """The Trove rules list says which parameters need a restart."""
        rules = {r["name"]: r for r in schema.as_rules()}
        assert rules["open"]["restart_required"] is True
        assert rules["mode"]["choices"] == ["fast", "safeMode"]

    def test_canonical_hook(self):
        """A subclass may fold spellings before the lookup."""
        class Folding(configuration.Schema):
            def canonical(self, name):
                return name.replace("-", "_")

        spec = dict(_SPEC, **{"configuration-parameters": [
            {"name": "max_conns", "type": "integer", "dynamic": True}]})
        folding = Folding.from_json(json.dumps(spec), "f.json")
        assert folding.validate({"max-conns": 3}) == {"max_conns": 3}


def _param(**fields):
    return dict({"name": "x", "type": "integer", "dynamic": True}, **fields)


class TestLoad:
    """A malformed schema file is refused at load, naming the file."""

    @pytest.mark.parametrize("text, match", [
        pytest.param("{", "it is not JSON", id="not-json"),
        pytest.param("[]", "top level must be an object", id="list"),
        pytest.param({"configuration-parameters": [_param()]},
                     "'datastore' must name", id="no-datastore"),
        pytest.param({"datastore": "D", "parameters": []},
                     "unknown top-level keys", id="unknown-key"),
        pytest.param({"datastore": "D", "configuration-parameters": []},
                     "non-empty list", id="empty"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(dyanmic=True)]}, r"\[0\] \('x'\): unknown keys "
            r"\['dyanmic'\]", id="typo"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            {"name": "x", "type": "integer"}]}, r"missing \['dynamic'\]",
            id="missing"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(type="list")]}, "type 'list' is not one of",
            id="bad-type"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(name="x; DROP")]}, "name 'x; DROP' must match",
            id="bad-name"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(min="1")]}, "'min' must be a number", id="bad-min"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(min=5, max=1)]}, "'min' is above 'max'", id="min-max"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(choices=["a"])]}, "'choices' must be", id="choices"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(type="string", pattern="(")]},
            "not a regular expression", id="pattern"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(default=0, min=1)]}, "default of 'x' is invalid",
            id="bad-default"),
        pytest.param({"datastore": "D", "configuration-parameters": [
            _param(), _param()]}, r"listed twice: \['x'\]", id="twice"),
        pytest.param({"datastore": "D", "booleans": {"true": ["y"]},
                      "configuration-parameters": [_param()]},
                     "'booleans' must be", id="booleans"),
        pytest.param({"datastore": "D", "integer-suffixes": {"K": 0},
                      "configuration-parameters": [_param()]},
                     "'integer-suffixes' must map", id="suffixes"),
    ])
    def test_malformed(self, text, match):
        """Each mistake is named, with the file."""
        if not isinstance(text, str):
            text = json.dumps(text)
        with pytest.raises(exceptions.InvalidParameterSchema,
                           match=match) as info:
            configuration.Schema.from_json(text, "pkg/data/rules.json")
        assert info.value.path == "pkg/data/rules.json"
        assert "pkg/data/rules.json" in str(info.value)

    def test_require_apply(self):
        """A plugin that applies by ``apply`` can insist on it."""
        text = json.dumps({"datastore": "D",
                           "configuration-parameters": [_param()]})
        with pytest.raises(exceptions.InvalidParameterSchema,
                           match="needs 'apply'") as info:
            configuration.Schema.from_json(text, "r.json",
                                           require_apply=True)
        assert info.value.path == "r.json"

    def test_missing_file(self):
        """A package without the file says to ship it."""
        with pytest.raises(exceptions.InvalidParameterSchema,
                           match="ship it as package data") as info:
            configuration.load_schema("trove_core", "data/nosuch.json")
        assert info.value.path == "trove_core/data/nosuch.json"

    @pytest.mark.parametrize("package", [
        pytest.param("trove_guest_base.testing", id="fake"),
        pytest.param("trove_ds_mysql", id="mysql"),
        pytest.param("trove_ds_redis", id="redis"),
        pytest.param("trove_ds_mongodb", id="mongodb"),
        pytest.param("trove_ds_cassandra", id="cassandra"),
    ])
    def test_shipped_files_load(self, package):
        """Every shipped schema file loads and names its datastore."""
        pytest.importorskip(package)
        schema = configuration.load_schema(package)
        assert schema.datastore and len(schema) >= 3
        assert configuration.load_schema(package) is schema
