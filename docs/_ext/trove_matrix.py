"""Sphinx extension: the capability matrix, generated at build time.

Adds the directive ``.. trove-capability-matrix::``, which renders the
same datastore x capability table as ``trove-datastores matrix`` from the
plugins installed where the docs are built. The matrix is never written
by hand, and pages using it are rebuilt on every build, because what is
installed can change between builds without any source changing.
"""

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

__all__ = ["CapabilityMatrix", "setup"]


def _cell(value):
    return value if value and value != "-" else "\\-"


class CapabilityMatrix(Directive):
    """``.. trove-capability-matrix::``: one row per usable datastore."""

    has_content = False
    optional_arguments = 0

    def run(self):
        """Build the table from :func:`trove_core.discovery.discover`."""
        from trove_core import discovery
        from trove_core.tools.cli import views

        env = self.state.document.settings.env
        env.trove_matrix_docs = getattr(env, "trove_matrix_docs", set())
        env.trove_matrix_docs.add(env.docname)
        result = views.matrix(discovery.discover())
        if not result.rows:
            return [nodes.paragraph(
                text="No datastore plugin is installed where these docs "
                     "were built.")]
        lines = [".. list-table:: Capabilities of the installed datastore "
                 "plugins",
                 "   :header-rows: 1",
                 "   :stub-columns: 1",
                 ""]
        for row in [result.columns] + result.rows:
            for i, value in enumerate(row):
                lines.append(("   * - " if i == 0 else "     - ")
                             + _cell(str(value)))
        container = nodes.container()
        self.state.nested_parse(
            StringList(lines, source="trove-capability-matrix"),
            self.content_offset, container)
        return container.children


def _purge(_app, env, docname):
    getattr(env, "trove_matrix_docs", set()).discard(docname)


def _merge(_app, env, _docnames, other):
    env.trove_matrix_docs = getattr(env, "trove_matrix_docs", set()) | \
        getattr(other, "trove_matrix_docs", set())


def _outdated(_app, env, _added, _changed, _removed):
    return sorted(getattr(env, "trove_matrix_docs", set()))


def setup(app):
    """Register the directive and rebuild pages that use it."""
    app.add_directive("trove-capability-matrix", CapabilityMatrix)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    return {"version": "1.0", "parallel_read_safe": True,
            "parallel_write_safe": True}
