"""Sphinx configuration of the trove-core documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

project = "trove-core"
author = "trove-core developers"
copyright = "2026, trove-core developers"  # noqa: A001 (Sphinx's name)
extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "trove_matrix",
              "trove_interfaces"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
autodoc_member_order = "bysource"
nitpicky = False
