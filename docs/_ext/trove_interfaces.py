"""Sphinx extension: the capability interfaces, from their docstrings.

autodoc skips ``zope.interface`` interfaces (they are not classes), yet
their docstrings are the specification a plugin implements. The
directive ``.. trove-capability-interfaces::`` documents each interface
of :data:`trove_core.capabilities.CAPABILITIES` as a Python class and
each of its operations as a method, with its signature, its RPC kind,
the guest API version that introduced it, whether it mutates, and its
docstring, read at build time.
"""

import inspect

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

__all__ = ["CapabilityInterfaces", "setup"]


def _indent(text, prefix="   "):
    text = inspect.cleandoc(text or "")
    return [prefix + line if line else "" for line in text.splitlines()]


class CapabilityInterfaces(Directive):
    """``.. trove-capability-interfaces::``: every capability interface."""

    has_content = False

    def run(self):
        """Render the interfaces as ``py:class`` and ``py:method``."""
        from trove_core import capabilities as caps

        lines = []
        for capability, iface in caps.CAPABILITIES.items():
            lines += [".. py:class:: %s" % iface.__name__,
                      "   :module: trove_core.capabilities", ""]
            lines += ["   Capability ``%s``." % capability, ""]
            lines += _indent(iface.__doc__) + [""]
            for name in sorted(iface.names()):
                method = iface[name]
                spec = method.queryTaggedValue("spec")
                lines += ["   .. py:method:: %s%s" % (
                    name, method.getSignatureString()), ""]
                if spec is not None:
                    lines += ["      *%s* since guest API %s%s%s." % (
                        spec.kind, spec.since,
                        ", mutating" if spec.mutating else "",
                        ", reports progress" if spec.long else ""), ""]
                lines += _indent(method.__doc__, "      ") + [""]
        content = StringList(lines, source="trove_core.capabilities")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, content, container)
        return container.children


def setup(app):
    """Register the directive."""
    app.add_directive("trove-capability-interfaces", CapabilityInterfaces)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
