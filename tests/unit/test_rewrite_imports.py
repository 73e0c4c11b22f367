"""scripts/rewrite_imports.py rewrites the paths issue 20 moved, once."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rewrite():
    spec = importlib.util.spec_from_file_location(
        "rewrite_imports", ROOT / "scripts" / "rewrite_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestRewriteImports:
    """Every form of an old module path is rewritten, and only once."""

    @pytest.mark.parametrize("old, new", [
        pytest.param("from trove_core import testing\n",
                     "from trove_guest_base import testing\n",
                     id="from-package"),
        pytest.param("    from trove_core import evidence as ev  # x\n",
                     "    from trove_core.tools import evidence as ev  # x\n",
                     id="lazy-alias-comment"),
        pytest.param("from trove_core import discovery, scaffold\n",
                     "from trove_core import discovery\n"
                     "from trove_core.tools import scaffold\n",
                     id="split"),
        pytest.param("from trove_core.testing import helpers\n",
                     "from trove_guest_base.testing import helpers\n",
                     id="from-module"),
        pytest.param("from trove_core.testing import plugin\n",
                     "from trove_ds_fake import plugin\n", id="fake-plugin"),
        pytest.param("from trove_core.security import broker, keys\n",
                     "from trove_core.tools.credentials import broker\n"
                     "from trove_core.security import keys\n",
                     id="security-split"),
        pytest.param("import trove_core.image.build\n",
                     "import trove_core.tools.image.build\n", id="import"),
        pytest.param('["-m", "trove_core.cli", "list"]\n',
                     '["-m", "trove_core.tools.cli", "list"]\n',
                     id="python-m"),
        pytest.param("x = trove_core.security.cli:main\n",
                     "x = trove_core.tools.credentials.cli:main\n",
                     id="entry-point"),
        pytest.param('mock.patch("trove_core.testing.fleet.time")\n',
                     'mock.patch("trove_guest_base.testing.fleet.time")\n',
                     id="patch"),
        pytest.param("see trove_core/testing/elements/install.d\n",
                     "see tests/plugins/trove-ds-fake/trove_ds_fake/"
                     "elements/install.d\n", id="path"),
        pytest.param("trove_core.client and trove_core.images_x\n",
                     "trove_core.client and trove_core.images_x\n",
                     id="lookalikes-untouched"),
    ])
    def test_rewrites_once(self, rewrite, old, new):
        """The old path becomes the new one; a second run changes
        nothing."""
        assert rewrite.rewrite_text(old) == new
        assert rewrite.rewrite_text(new) == new

    def test_tree_is_rewritten(self, rewrite, tmp_path, capsys):
        """--check reports without writing; a run writes; then nothing is
        left."""
        source = tmp_path / "pkg" / "test_x.py"
        source.parent.mkdir()
        source.write_text("from trove_core import testing\n")
        assert rewrite.main(["--check", str(tmp_path)]) == 1
        assert "trove_core import" in source.read_text()
        assert rewrite.main([str(tmp_path)]) == 0
        assert source.read_text() == "from trove_guest_base import testing\n"
        assert rewrite.main(["--check", str(tmp_path)]) == 0
