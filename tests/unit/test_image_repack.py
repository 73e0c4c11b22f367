"""Building project wheels without a source tree or bdist_wheel."""

import pytest

from trove_core.tools.image import errors
from trove_core.tools.image import wheels


def test_release_parses_versions():
    """Pre-releases and short versions compare by their release."""
    assert wheels._release("65.5.0") < (70, 1, 0)  # noqa: SLF001
    assert wheels._release("70.1") == (70, 1, 0)  # noqa: SLF001
    assert wheels._release("80.9.0.post1") >= (70, 1, 0)  # noqa: SLF001
    assert wheels._release("71.0.0rc1") == (71, 0, 0)  # noqa: SLF001


def test_this_venv_builds_without_isolation():
    """scripts/setup.sh upgrades setuptools, so .venv builds offline."""
    assert wheels.can_build_here()


def test_message_says_what_is_needed():
    """The message names the commands and the --wheel way out."""
    text = wheels.needs_build_tools()
    assert 'install "setuptools>=70.1"' in text
    assert "install wheel" in text and "--wheel PATH" in text


def test_repack_refuses_what_it_cannot_repack(tmp_path):
    """Not installed, or an editable install (its files are a source
    tree's): refused with what to pass instead."""
    with pytest.raises(errors.ImageBuildError, match="is not installed"):
        wheels.repack_installed("no-such-distribution", tmp_path)
    with pytest.raises(errors.ImageBuildError,
                       match="cannot be repacked.*--source trove-ds-redis"):
        wheels.repack_installed("trove-ds-redis", tmp_path, "redis")
    assert not list(tmp_path.iterdir())
