"""Configuration overrides checked against the plugin's parameter schema.

The schema ships with the package as ``data/validation-rules.json`` in
the format of :mod:`trove_core.configuration`, which does the checking.
What is MySQL's own lives here: names are folded the way the server
folds them (``max-connections`` is ``max_connections``), size suffixes
(``16M``) are accepted, and booleans come back as ``ON``/``OFF``, the
spelling ``SET GLOBAL`` and ``my.cnf`` take. ``dynamic`` parameters are
those ``SET GLOBAL`` applies to a running server.
"""

import re

from trove_core import configuration

__all__ = ["Schema", "load_schema"]


class Schema(configuration.Schema):
    """The MySQL parameters a user may override.

    Names must be lower-case identifiers: they are written into
    ``SET GLOBAL`` statements.
    """

    NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

    def canonical(self, name):
        """Fold ``name`` as the server does: case and dashes."""
        return name.strip().replace("-", "_").lower()

    def validate(self, overrides):
        """Check every override; return them typed, keyed by canonical
        name, booleans as ``ON``/``OFF``.

        :raises BadRequest: ``overrides`` is not a mapping.
        :raises InvalidConfiguration: the first bad one, with its name
            and allowed range; nothing is applied.
        """
        return {name: ("ON" if value else "OFF")
                if isinstance(value, bool) else value
                for name, value in super().validate(overrides).items()}


def load_schema():
    """Load the schema shipped with the package (once)."""
    return configuration.load_schema(__package__, cls=Schema)
