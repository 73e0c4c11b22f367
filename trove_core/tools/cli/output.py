"""Rendering of command results as a table, JSON, YAML or CSV.

Every command produces a :class:`Result`: structured data for JSON and
YAML, and the same information as columns and flat rows for the table
and CSV. PyYAML is imported only when YAML is asked for: a guest image
may not have it.
"""

import csv
import dataclasses
import io
import json
import textwrap

from trove_core import exceptions

__all__ = ["FORMATS", "Result", "flat", "render"]

FORMATS = ("table", "json", "yaml", "csv")

#: table cells wider than this are wrapped (CSV and JSON never are)
WRAP = 72


@dataclasses.dataclass
class Result:
    """What a command prints.

    :param data: plain data (dicts, lists, strings, numbers, booleans)
        for JSON and YAML.
    :param columns: the column names of the flat view.
    :param rows: the flat view, one sequence of values per row; or a
        function without arguments that returns it, called only when a
        flat format is rendered (see :meth:`flat_rows`).
    :param title: an optional line printed above the table.
    """

    data: object
    columns: tuple
    rows: object
    title: str = ""

    def flat_rows(self):
        """The flat view's rows, built now if they were deferred."""
        if callable(self.rows):
            self.rows = list(self.rows())
        return self.rows


def flat(value):
    """Turn a value into the text of one table or CSV cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join("%s=%s" % (k, flat(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(flat(v) for v in value) or "-"
    return str(value)


def _lines(value):
    """The lines of one table cell: :func:`flat`'s text, wrapped at
    :data:`WRAP`."""
    text = value if type(value) is str else flat(value)
    if len(text) > WRAP:  # no line of a shorter text can be too long
        text = "\n".join(textwrap.fill(line, WRAP) if len(line) > WRAP
                         else line for line in text.split("\n"))
    return text.split("\n")


def _table(columns, rows, title=""):
    cells = [[_lines(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        for i, lines in enumerate(row):
            longest = max(map(len, lines))
            if longest > widths[i]:
                widths[i] = longest
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    # each cell left-justified to its column's width, as str.ljust
    template = "| " + " | ".join("%%-%ds" % w for w in widths) + " |"

    def line(values):
        return template % tuple(values)

    out = [title] if title else []
    out += [rule, line(columns), rule.replace("-", "=")]
    for row in cells:
        height = max(map(len, row))
        if height == 1:
            out.append(line([lines[0] for lines in row]))
            continue
        for i in range(height):
            out.append(line([lines[i] if i < len(lines) else ""
                             for lines in row]))
    out.append(rule)
    return "\n".join(out) + "\n"


def _csv(columns, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([flat(v) for v in row])
    return buf.getvalue()


def _yaml(data):
    try:
        import yaml
    except ImportError:
        raise exceptions.BadRequest(
            reason="YAML output needs PyYAML, which is not installed; run "
                   "pip install PyYAML, or use --format json") from None
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


_STRING = json.encoder.encode_basestring_ascii
_CONSTANTS = {True: "true", False: "false", None: "null"}
_HEADS = {}
_HEADS_KEPT = 4096


class _Unusual(Exception):
    """A value :func:`_json` leaves to :func:`json.dumps`."""


def _json(value, pad, out):
    """Append ``value`` as ``json.dumps(value, indent=2)`` spells it.

    The same text, written without the pure-Python encoder's generator
    per value, which made the JSON of 500 plugins cost about as much as
    finding them. Only strings, booleans, ``None``, integers, lists and
    dicts with string keys: anything else raises :class:`_Unusual`.
    """
    kind = type(value)
    if kind is str:
        out.append(_STRING(value))
    elif value is None:
        out.append("null")
    elif kind is bool:
        out.append(_CONSTANTS[value])
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        # '{\n    "key": ' and ',\n    "key": ' once per key set and
        # depth (a listing's items all share one), not per value
        keys = tuple(value)
        heads = _HEADS.get((pad, keys))
        if heads is None:
            if any(type(key) is not str for key in keys):
                raise _Unusual(keys)
            if len(_HEADS) > _HEADS_KEPT:
                _HEADS.clear()
            inner = pad + "  "
            heads = _HEADS[pad, keys] = [
                ("," if i else "{") + inner + _STRING(key) + ": "
                for i, key in enumerate(keys)]
        inner = pad + "  "
        for head, item in zip(heads, value.values(), strict=True):
            kind = type(item)
            if kind is str:
                out.append(head + _STRING(item))
            elif kind is bool or item is None:
                out.append(head + _CONSTANTS[item])
            else:
                out.append(head)
                _json(item, inner, out)
        out.append(pad + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = pad + "  "
        if all(type(item) is str for item in value):
            out.append("[" + inner + ("," + inner).join(map(_STRING, value))
                       + pad + "]")
            return
        sep = "[" + inner
        for item in value:
            out.append(sep)
            _json(item, inner, out)
            sep = "," + inner
        out.append(pad + "]")
    else:
        raise _Unusual(value)


def _dump_json(data):
    out = []
    try:
        _json(data, "\n", out)
    except (_Unusual, RecursionError):
        return json.dumps(data, indent=2)
    return "".join(out)


def render(result, fmt):
    """Return ``result`` rendered as ``fmt``.

    :param result: a :class:`Result`.
    :param fmt: one of :data:`FORMATS`.
    :returns: the text to print, ending with a newline.
    :raises BadRequest: the format is unknown, or YAML is asked for and
        PyYAML is not installed.
    """
    if fmt == "table":
        return _table(result.columns, result.flat_rows(), result.title)
    if fmt == "csv":
        return _csv(result.columns, result.flat_rows())
    if fmt == "json":
        return _dump_json(result.data) + "\n"
    if fmt == "yaml":
        return _yaml(result.data)
    raise exceptions.BadRequest(
        reason="unknown output format %r; use one of %s" % (fmt, FORMATS))
