"""Configuration-override schemas: one mechanism for every datastore.

A plugin ships the parameters a configuration group may set as a JSON
data file in its package (``data/validation-rules.json``, Trove's name)
and loads it with :func:`load_schema`. The control plane and the guest
validate overrides with the same :class:`Schema`; the plugin keeps only
what is its own: how a dynamic parameter is applied to a running server
and how a typed value is written into its configuration file.

The file is one JSON object::

    {
      "datastore": "MySQL",
      "comment": "free text (optional)",
      "booleans": {"true": ["1", "on", "true", "yes"],
                   "false": ["0", "off", "false", "no"]},
      "integer-suffixes": {"K": 1024, "M": 1048576},
      "configuration-parameters": [
        {"name": "max_connections", "type": "integer", "dynamic": true,
         "min": 10, "max": 100000, "description": "one line"}
      ]
    }

``booleans`` (the spellings accepted for a boolean, case-insensitive;
default ``true``/``false``) and ``integer-suffixes`` (multipliers an
integer may end with, case-insensitive; default none) are optional. A
parameter has ``name``, ``type`` (``integer``, ``float``, ``string`` or
``boolean``) and ``dynamic`` (whether a running server takes it without
a restart), and may have ``min``/``max`` (numbers), ``choices`` or
``pattern`` (strings; a choice matches case-insensitively and comes back
spelt as in the file, a pattern must match the whole value),
``description``, ``default`` (checked like an override) and ``apply``
(any JSON value the plugin reads to apply the parameter live, such as a
``setParameter`` name; the core never reads it). The file is checked
when it loads: a malformed one raises
:class:`~trove_core.exceptions.InvalidParameterSchema` naming the file
and the entry.

This module imports nothing beyond the standard library and
:mod:`trove_core.exceptions`, so the API can use it.
"""

import collections.abc
import dataclasses
import functools
import importlib.resources
import json
import math
import re

from trove_core import exceptions

__all__ = ["DEFAULT_RESOURCE", "TYPES", "Parameter", "Schema",
           "load_schema"]

#: Where a plugin's schema lives inside its package.
DEFAULT_RESOURCE = "data/validation-rules.json"

#: The parameter types a schema may use.
TYPES = ("integer", "float", "string", "boolean")

_JSON_TYPES = {"integer": "integer", "float": "number", "string": "string",
               "boolean": "boolean"}
_TOP_KEYS = {"datastore", "comment", "booleans", "integer-suffixes",
             "configuration-parameters"}
_PARAM_KEYS = {"name", "type", "dynamic", "min", "max", "choices",
               "pattern", "description", "default", "apply"}
_STRICT_BOOLEANS = {"true": ("true",), "false": ("false",)}
_INTEGER = re.compile(r"^\s*([+-]?\d+)\s*([A-Za-z]*)\s*$")
_FORBIDDEN = ("\r", "\n", "\x00")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter a configuration override may set.

    :param name: its name as the datastore spells it.
    :param type: one of :data:`TYPES`.
    :param dynamic: whether a running server takes it without a restart.
    :param min: the smallest number accepted (numbers only).
    :param max: the largest number accepted (numbers only).
    :param choices: the accepted strings, when limited.
    :param pattern: a regular expression a string must match in full.
    :param description: one line for operators.
    :param default: the value the datastore uses when nothing sets it
        (typed like a validated override).
    :param apply: plugin data on applying it live (opaque to the core).
    """

    name: str
    type: str
    dynamic: bool
    min: float = None
    max: float = None
    choices: tuple = None
    pattern: str = None
    description: str = ""
    default: object = None
    apply: object = None

    @property
    def restart_required(self):
        """Whether a change waits for the next restart."""
        return not self.dynamic

    def accepted(self, booleans=_STRICT_BOOLEANS):
        """Describe the accepted values, for messages and documentation.

        :param booleans: the schema's boolean spellings.
        :returns: e.g. ``"an integer in [10, 100000]"``.
        """
        if self.type == "boolean":
            if tuple(booleans["true"]) == ("true",) and tuple(
                    booleans["false"]) == ("false",):
                return "true or false"
            return "a boolean (true: %s; false: %s)" % (
                ", ".join(booleans["true"]), ", ".join(booleans["false"]))
        if self.type in ("integer", "float"):
            kind = "an integer" if self.type == "integer" else "a number"
            if self.min is not None and self.max is not None:
                return "%s in [%s, %s]" % (kind, self.min, self.max)
            if self.min is not None:
                return "%s >= %s" % (kind, self.min)
            if self.max is not None:
                return "%s <= %s" % (kind, self.max)
            return kind
        if self.choices:
            return "one of %s" % ", ".join(self.choices)
        if self.pattern is not None:
            return "a string matching %s" % self.pattern
        return "a string without line breaks"


class Schema(collections.abc.Mapping):
    """The parameters a datastore lets overrides set, by name.

    A read-only mapping of name to :class:`Parameter`. Subclass it to
    change how names are spelt (:meth:`canonical`) or which names a file
    may hold (:attr:`NAME_PATTERN`).

    :param parameters: the :class:`Parameter` objects.
    :param datastore: the datastore's display name, for messages.
    :param booleans: ``{"true": [...], "false": [...]}`` spellings.
    :param suffixes: ``{suffix: multiplier}`` for integers.
    :param source: where the schema came from, for messages.
    """

    #: What a parameter name in the file must look like.
    NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")

    def __init__(self, parameters, datastore="", booleans=None,
                 suffixes=None, source="<schema>"):
        self._parameters = {p.name: p for p in parameters}
        self.datastore = datastore
        self.booleans = {k: tuple(w.lower() for w in v) for k, v in
                         (booleans or _STRICT_BOOLEANS).items()}
        self.suffixes = {k.lower(): v for k, v in (suffixes or {}).items()}
        self.source = source

    def __getitem__(self, name):
        return self._parameters[name]

    def __iter__(self):
        return iter(self._parameters)

    def __len__(self):
        return len(self._parameters)

    def canonical(self, name):
        """Return the schema's spelling of an override's ``name``.

        The base returns it unchanged; a subclass may fold case or
        dashes.

        :param name: the name a user gave (a string).
        """
        return name

    def parameter(self, name):
        """Return the :class:`Parameter` an override ``name`` sets.

        :raises InvalidConfiguration: no such parameter; the message
            lists the known ones.
        """
        key = self.canonical(name) if isinstance(name, str) else None
        if key not in self._parameters:
            label = "%s " % self.datastore if self.datastore else ""
            raise exceptions.InvalidConfiguration(
                name=name, reason="it is not a configurable parameter (not"
                " a %sparameter the guest lets you override); use one of: "
                "%s" % (label, ", ".join(sorted(self._parameters))),
                allowed=sorted(self._parameters), value=None)
        return self._parameters[key]

    def validate(self, overrides):
        """Check every override and return them typed.

        Integers come back as ``int``, floats as ``float``, booleans as
        ``bool`` and strings as ``str`` (a choice spelt as in the file),
        keyed by the schema's name. Nothing is applied on error.

        :param overrides: a mapping of name to value; ``None`` is empty.
        :returns: ``{name: typed value}`` in the given order.
        :raises BadRequest: ``overrides`` is not a mapping.
        :raises InvalidConfiguration: the first unknown name or bad value,
            naming the parameter, the value and what is accepted.
        """
        if overrides is None:
            return {}
        if not isinstance(overrides, collections.abc.Mapping):
            raise exceptions.BadRequest(
                reason="configuration overrides must be a mapping of "
                "parameter names to values, got %s"
                % type(overrides).__name__)
        typed = {}
        for name, value in overrides.items():
            parameter = self.parameter(name)
            typed[parameter.name] = self.convert(parameter, value)
        return typed

    def split(self, typed):
        """Split validated overrides by how they take effect.

        :param typed: the result of :meth:`validate`.
        :returns: ``(dynamic, restart_needed)``, two dicts.
        """
        dynamic = {k: v for k, v in typed.items()
                   if self._parameters[k].dynamic}
        restart = {k: v for k, v in typed.items() if k not in dynamic}
        return dynamic, restart

    def convert(self, parameter, value):
        """Return ``value`` as ``parameter``'s type.

        :raises InvalidConfiguration: naming the parameter, the value and
            what is accepted.
        """
        if parameter.type == "boolean":
            return self._boolean(parameter, value)
        if parameter.type in ("integer", "float"):
            return self._number(parameter, value)
        return self._string(parameter, value)

    def _bad(self, parameter, value, reason):
        return exceptions.InvalidConfiguration(
            name=parameter.name, reason=reason, value=value,
            allowed=parameter.accepted(self.booleans))

    def _boolean(self, parameter, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, (str, int)):
            text = str(value).strip().lower()
            if text in self.booleans["true"]:
                return True
            if text in self.booleans["false"]:
                return False
        raise self._bad(parameter, value, "expected %s, got %r" % (
            parameter.accepted(self.booleans), value))

    def _number(self, parameter, value):
        accepted = parameter.accepted()
        if isinstance(value, bool):
            raise self._bad(parameter, value, "expected a number, got a "
                            "boolean (%r); use %s" % (value, accepted))
        number = (self._integer(value) if parameter.type == "integer"
                  else self._float(value))
        if number is None:
            raise self._bad(parameter, value, "expected %s, got %r"
                            % (accepted, value))
        if parameter.min is not None and number < parameter.min:
            raise self._bad(parameter, value, "%r is below the minimum %s;"
                            " use %s" % (value, parameter.min, accepted))
        if parameter.max is not None and number > parameter.max:
            raise self._bad(parameter, value, "%r is above the maximum %s;"
                            " use %s" % (value, parameter.max, accepted))
        return number

    def _integer(self, value):
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else None
        if not isinstance(value, str):
            return None
        match = _INTEGER.match(value)
        if not match:
            return None
        digits, suffix = match.groups()
        if suffix and suffix.lower() not in self.suffixes:
            return None
        return int(digits) * self.suffixes.get(suffix.lower(), 1)

    @staticmethod
    def _float(value):
        if not isinstance(value, (int, float, str)):
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None

    def _string(self, parameter, value):
        if not isinstance(value, str):
            raise self._bad(parameter, value, "expected %s, got %r"
                            % (parameter.accepted(), value))
        if parameter.choices:
            for choice in parameter.choices:
                if choice.lower() == value.lower():
                    return choice
            raise self._bad(parameter, value, "%r is not one of %s"
                            % (value, ", ".join(parameter.choices)))
        if parameter.pattern is not None and not re.fullmatch(
                parameter.pattern, value):
            raise self._bad(parameter, value, "%r does not match %s%s" % (
                value, parameter.pattern, " (%s)" % parameter.description
                if parameter.description else ""))
        if any(c in value for c in _FORBIDDEN):
            raise self._bad(parameter, value, "expected a string without "
                            "line breaks or NUL characters, got %r"
                            % (value,))
        return value

    def as_rules(self):
        """Return the schema as Trove's ``configuration-parameters`` list
        (what the API serves for a datastore version)."""
        return [{"name": p.name, "type": p.type, "dynamic": p.dynamic,
                 "restart_required": p.restart_required, "min": p.min,
                 "max": p.max, "choices": list(p.choices)
                 if p.choices else None, "description": p.description}
                for p in self._parameters.values()]

    def json_schema(self):
        """Return a JSON Schema of a typed overrides mapping.

        It describes the canonical form (what :meth:`validate` returns);
        :meth:`validate` also takes strings and the file's spellings.
        """
        properties = {}
        for p in self._parameters.values():
            prop = {"type": _JSON_TYPES[p.type], "x-dynamic": p.dynamic}
            if p.min is not None:
                prop["minimum"] = p.min
            if p.max is not None:
                prop["maximum"] = p.max
            if p.choices:
                prop["enum"] = list(p.choices)
            if p.pattern is not None:
                prop["pattern"] = p.pattern
            if p.description:
                prop["description"] = p.description
            properties[p.name] = prop
        return {"type": "object", "properties": properties,
                "additionalProperties": False}

    # -- loading -----------------------------------------------------------

    @classmethod
    def from_json(cls, text, source, require_apply=False):
        """Build a schema from the text of a schema file.

        :param text: the JSON text.
        :param source: the file's name, for messages.
        :param require_apply: every dynamic parameter needs ``apply``.
        :raises InvalidParameterSchema: naming ``source`` and the entry.
        """
        def bad(reason):
            return exceptions.InvalidParameterSchema(path=source,
                                                     reason=reason)

        try:
            data = json.loads(text)
        except ValueError as exc:
            raise bad("it is not JSON (%s)" % exc) from None
        if not isinstance(data, dict):
            raise bad("the top level must be an object")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise bad("unknown top-level keys %s; known: %s"
                      % (unknown, sorted(_TOP_KEYS)))
        if not isinstance(data.get("datastore"), str):
            raise bad("'datastore' must name the datastore (a string)")
        booleans = data.get("booleans", _STRICT_BOOLEANS)
        if not (isinstance(booleans, dict) and set(booleans) == {
                "true", "false"} and all(
                    isinstance(v, (list, tuple)) and v and all(
                        isinstance(w, str) for w in v)
                    for v in booleans.values())):
            raise bad("'booleans' must be {\"true\": [strings], \"false\":"
                      " [strings]}")
        suffixes = data.get("integer-suffixes", {})
        if not isinstance(suffixes, dict) or not all(
                re.fullmatch(r"[A-Za-z]+", k) and type(v) is int and v > 0
                for k, v in suffixes.items()):
            raise bad("'integer-suffixes' must map letters to positive "
                      "integers")
        entries = data.get("configuration-parameters")
        if not isinstance(entries, list) or not entries:
            raise bad("'configuration-parameters' must be a non-empty list")
        parameters = []
        for index, entry in enumerate(entries):
            where = "configuration-parameters[%d]" % index
            if isinstance(entry, dict) and isinstance(entry.get("name"),
                                                      str):
                where += " (%r)" % entry["name"]
            try:
                parameters.append(cls._parameter(entry, require_apply))
            except ValueError as exc:
                raise bad("%s: %s" % (where, exc)) from None
        names = [p.name for p in parameters]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise bad("parameters listed twice: %s" % twice)
        schema = cls(parameters, data["datastore"], booleans, suffixes,
                     source)
        for p in parameters:
            if p.default is None:
                continue
            try:
                typed = schema.convert(p, p.default)
            except exceptions.InvalidConfiguration as exc:
                raise bad("the default of %r is invalid: %s"
                          % (p.name, exc.reason)) from None
            schema._parameters[p.name] = dataclasses.replace(p,
                                                             default=typed)
        return schema

    @classmethod
    def _parameter(cls, entry, require_apply):
        if not isinstance(entry, dict):
            raise ValueError("an entry must be an object")
        unknown = sorted(set(entry) - _PARAM_KEYS)
        if unknown:
            raise ValueError("unknown keys %s; known: %s"
                             % (unknown, sorted(_PARAM_KEYS)))
        missing = sorted({"name", "type", "dynamic"} - set(entry))
        if missing:
            raise ValueError("missing %s" % missing)
        name, kind = entry["name"], entry["type"]
        if not isinstance(name, str) or not cls.NAME_PATTERN.match(name):
            raise ValueError("name %r must match %s"
                             % (name, cls.NAME_PATTERN.pattern))
        if kind not in TYPES:
            raise ValueError("type %r is not one of %s" % (kind, TYPES))
        if not isinstance(entry["dynamic"], bool):
            raise ValueError("'dynamic' must be true or false")
        for key in ("min", "max"):
            value = entry.get(key)
            if value is None:
                continue
            if kind not in ("integer", "float"):
                raise ValueError("%r applies only to numbers" % key)
            if isinstance(value, bool) or not isinstance(value,
                                                         (int, float)):
                raise ValueError("%r must be a number, got %r"
                                 % (key, value))
        if None not in (entry.get("min"), entry.get("max")) and (
                entry["min"] > entry["max"]):
            raise ValueError("'min' is above 'max'")
        choices = entry.get("choices")
        if choices is not None and (kind != "string" or not isinstance(
                choices, list) or not choices or not all(
                    isinstance(c, str) for c in choices)):
            raise ValueError("'choices' must be a non-empty list of "
                             "strings, on a string parameter")
        pattern = entry.get("pattern")
        if pattern is not None:
            if kind != "string" or not isinstance(pattern, str):
                raise ValueError("'pattern' must be a string, on a string "
                                 "parameter")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError("'pattern' is not a regular expression: "
                                 "%s" % exc) from None
        if not isinstance(entry.get("description", ""), str):
            raise ValueError("'description' must be a string")
        if require_apply and entry["dynamic"] and entry.get(
                "apply") is None:
            raise ValueError("a dynamic parameter needs 'apply' (how this "
                             "plugin sets it on a running server)")
        return Parameter(
            name=name, type=kind, dynamic=entry["dynamic"],
            min=entry.get("min"), max=entry.get("max"),
            choices=tuple(choices) if choices else None, pattern=pattern,
            description=entry.get("description", ""),
            default=entry.get("default"), apply=entry.get("apply"))


@functools.cache
def load_schema(package, resource=DEFAULT_RESOURCE, cls=Schema,
                require_apply=False):
    """Load (once) the schema file a package ships.

    :param package: the package holding the file, e.g. ``"trove_ds_x"``.
    :param resource: its path inside the package, ``/``-separated.
    :param cls: :class:`Schema` or a subclass to build.
    :param require_apply: every dynamic parameter needs ``apply``.
    :returns: a ``cls`` instance.
    :raises InvalidParameterSchema: the file is missing or malformed.
    """
    source = "%s/%s" % (package.replace(".", "/"), resource)
    try:
        text = importlib.resources.files(package).joinpath(
            *resource.split("/")).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise exceptions.InvalidParameterSchema(
            path=source, reason="it cannot be read (%s); ship it as "
            "package data" % exc) from None
    return cls.from_json(text, source, require_apply=require_apply)
