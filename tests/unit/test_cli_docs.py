"""The capability matrix generated into the docs at build time."""

import pathlib

import pytest

from trove_core import capabilities

EXT_DIR = pathlib.Path(__file__).resolve().parents[2] / "docs" / "_ext"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build a one-page Sphinx project that uses the directive."""
    sphinx_cmd = pytest.importorskip("sphinx.cmd.build")
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("out")
    (src / "conf.py").write_text(
        "import sys\nsys.path.insert(0, %r)\nextensions = ['trove_matrix']\n"
        % str(EXT_DIR))
    (src / "index.rst").write_text(
        "Matrix\n======\n\n.. trove-capability-matrix::\n")
    code = sphinx_cmd.build_main(["-q", "-b", "html", str(src), str(out)])
    assert code == 0
    return (out / "index.html").read_text()


class TestCapabilityMatrixDirective:
    """``.. trove-capability-matrix::`` renders the installed plugins."""

    def test_every_capability_is_a_column(self, built):
        """The header names every capability the core defines."""
        for cap in capabilities.CAPABILITIES:
            assert ">%s<" % cap in built

    def test_real_plugins_are_rows(self, built):
        """Each real plugin is a row, broken plugins are not."""
        for name in ("mysql", "redis", "mongodb", "cassandra"):
            assert ">%s<" % name in built
        assert ">broken<" not in built
