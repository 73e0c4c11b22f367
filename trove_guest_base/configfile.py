"""Configuration files: parse, merge overrides, render.

Two dialects cover the datastores: ini sections (``my.cnf``) and
``key value`` lines (``redis.conf``). Values are checked before they are
written: a newline or NUL in a key or value would let an override inject
configuration of its own, so it is refused. YAML files (Cassandra,
MongoDB) are parsed by :func:`parse_yaml_mapping` and rendered by the
plugin, which brings PyYAML in its ``[guest]`` extra.
"""

import configparser
import io

from trove_core import exceptions as core_exceptions
from trove_guest_base import exceptions

__all__ = ["IniConfig", "KeyValueConfig", "parse_yaml_mapping"]


def parse_yaml_mapping(text, name="config_contents"):
    """Parse YAML that must hold a mapping (``cassandra.yaml``,
    ``mongod.conf``); empty text is an empty mapping.

    PyYAML is imported here, so only datastores with YAML files need it.

    :param text: the YAML text, or ``None``.
    :param name: what the text is, named in errors.
    :returns: a dict.
    :raises InvalidConfiguration: not YAML, or not a mapping.
    """
    import yaml

    if not text:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise core_exceptions.InvalidConfiguration(
            name=name, reason="it is not valid YAML: %s"
            % str(exc).splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise core_exceptions.InvalidConfiguration(
            name=name, reason="it must be a YAML mapping, got %s"
            % type(data).__name__)
    return data


def _safe(key, value=""):
    """Return ``(key, value)`` as strings, refusing line breaks and NUL."""
    for part, label in ((str(key), "key"), (str(value), "value")):
        if any(c in part for c in "\r\n\x00"):
            raise exceptions.ConfigFileError(
                key=str(key), reason="its %s holds a line break or NUL"
                % label)
    return str(key), str(value)


def _format(value):
    if value is True:
        return "ON"
    if value is False:
        return "OFF"
    return str(value)


class IniConfig:
    """An ini file as ``{section: {key: value}}``; ``None`` values render
    as bare keys (``skip-name-resolve``)."""

    def __init__(self, sections=None):
        self.sections = {s: dict(kv) for s, kv in (sections or {}).items()}

    @classmethod
    def parse(cls, text):
        """Parse ini text (keys without values allowed)."""
        parser = configparser.RawConfigParser(allow_no_value=True,
                                              strict=False)
        parser.optionxform = str
        parser.read_string(text or "")
        return cls({s: dict(parser.items(s)) for s in parser.sections()})

    def merge(self, other):
        """Overlay ``other`` (an :class:`IniConfig` or a dict of sections)
        on this one and return ``self``."""
        sections = other.sections if isinstance(other, IniConfig) else other
        for section, values in sections.items():
            self.sections.setdefault(section, {}).update(values)
        return self

    def render(self):
        """Return the file's text."""
        out = io.StringIO()
        for section, values in self.sections.items():
            out.write("[%s]\n" % _safe(section)[0])
            for key, value in values.items():
                if value is None:
                    out.write("%s\n" % _safe(key)[0])
                else:
                    out.write("%s = %s\n" % _safe(key, _format(value)))
            out.write("\n")
        return out.getvalue()


class KeyValueConfig:
    """A ``key value`` file; a key may repeat (``save 900 1``)."""

    def __init__(self, items=None):
        self.items = list(items or [])

    @classmethod
    def parse(cls, text):
        """Parse ``key value`` lines, skipping comments and blanks."""
        items = []
        for line in (text or "").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition(" ")
            items.append((key, value.strip()))
        return cls(items)

    def get(self, key, default=None):
        """The last value of ``key``."""
        for k, v in reversed(self.items):
            if k == key:
                return v
        return default

    def merge(self, overrides):
        """Replace every occurrence of each key in ``overrides`` (a dict; a
        list value repeats the key) where the key first stood, or at the
        end, and return ``self``."""
        for key, value in overrides.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            new = [(key, _format(v)) for v in values]
            at = next((i for i, (k, _v) in enumerate(self.items)
                       if k == key), len(self.items))
            kept = [(k, v) for k, v in self.items if k != key]
            self.items = kept[:at] + new + kept[at:]
        return self

    def render(self):
        """Return the file's text."""
        return "".join("%s %s\n" % _safe(k, v) for k, v in self.items)
