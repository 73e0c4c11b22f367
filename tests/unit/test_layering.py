"""Imports go one way: plugins -> trove_guest_base -> trove_core.

Read from the source (``ast``), so a lazy import inside a function, an
``importlib.import_module("...")`` and a lazy facade's table of module
names count as much as a top-level ``import``. The tools
(``trove_core.tools``) are for people: no guest module imports them, and
a guest that has started and loaded its manager holds none of them.
"""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[\w.]+)?$")


def _imports(path):
    """``(line, module)`` of every module ``path`` imports, however."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside its own package
                continue
            found.append((node.lineno, node.module))
            found += [(node.lineno, "%s.%s" % (node.module, alias.name))
                      for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            if name in ("import_module", "__import__") and node.args and \
                    isinstance(node.args[0], ast.Constant) and \
                    isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
        elif isinstance(node, (ast.Dict, ast.DictComp)):
            # lazy facades: {"Name": "package.module"}
            values = node.values if isinstance(node, ast.Dict) else \
                [node.value]
            found += [(value.lineno, value.value) for value in values
                      if isinstance(value, ast.Constant)
                      and isinstance(value.value, str)
                      and _MODULE.match(value.value)
                      and "." in value.value]
    return [(line, name.partition(":")[0]) for line, name in found]


def _under(module, *prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _python_files(*parts, exclude=()):
    base = ROOT.joinpath(*parts)
    return sorted(path for path in base.rglob("*.py")
                  if not any(_under(".".join(path.relative_to(ROOT)
                                             .with_suffix("").parts), e)
                             for e in exclude))


def _violations(files, *forbidden):
    out = []
    for path in files:
        for line, module in _imports(path):
            if any(_under(module, f) or (f.endswith("_") and
                                         module.startswith(f))
                   for f in forbidden):
                out.append("%s:%d imports %s"
                           % (path.relative_to(ROOT), line, module))
    return out


def _plugin_runtime_files():
    files = []
    for package in sorted(ROOT.glob("plugins/trove-ds-*/trove_ds_*")):
        files += [path for path in package.rglob("*.py")
                  if path.name != "testing.py"]
    return files


class TestLayering:
    """The dependency direction holds in the source."""

    def test_scanner_sees_lazy_imports(self, tmp_path):
        """Nested imports, import_module strings and facade tables count."""
        source = tmp_path / "sample.py"
        source.write_text(
            "import importlib\n"
            "def f():\n"
            "    from trove_guest_base import files\n"
            "    importlib.import_module('trove_ds_mysql.manager')\n"
            "_LAZY = {'X': 'trove_core.tools.cli'}\n"
            "DOC = 'trove_guest_base.selfcheck is run, not imported'\n")
        modules = {name for _line, name in _imports(source)}
        assert {"trove_guest_base", "trove_guest_base.files",
                "trove_ds_mysql.manager",
                "trove_core.tools.cli"} <= modules
        assert "trove_guest_base.selfcheck is run, not imported" \
            not in modules

    def test_core_imports_no_guest_base_and_no_plugin(self):
        """Nothing in trove_core (tools included) imports upwards."""
        files = _python_files("trove_core")
        assert len(files) > 30
        assert _violations(files, "trove_guest_base", "trove_ds_") == []

    def test_guest_base_imports_no_plugin(self):
        """trove_guest_base, its kit and test helpers included, imports no
        datastore plugin."""
        assert _violations(_python_files("trove_guest_base"),
                           "trove_ds_") == []

    def test_guest_modules_import_no_tools(self):
        """The guest runtime, the kit and the plugins' runtime modules
        import no tool; only test helpers that stand up a broker may."""
        files = _python_files("trove_guest_base",
                              exclude=("trove_guest_base.testing",))
        files += _plugin_runtime_files()
        assert len(files) > 40
        assert _violations(files, "trove_core.tools") == []

    def test_plugins_import_no_other_plugin(self):
        """A plugin's package imports no other plugin."""
        found = []
        for package in sorted(ROOT.glob("plugins/trove-ds-*/trove_ds_*")):
            others = [p.name for p in ROOT.glob("plugins/trove-ds-*/"
                                                "trove_ds_*")
                      if p.name != package.name]
            found += _violations(sorted(package.rglob("*.py")), *others)
        assert found == []


@pytest.mark.parametrize("datastore", [
    pytest.param("mysql", id="mysql"),
    pytest.param("redis", id="redis"),
    pytest.param("mongodb", id="mongodb"),
    pytest.param("cassandra", id="cassandra"),
])
def test_started_guest_holds_no_tool(datastore):
    """A guest's imports (service, endpoint, its manager, options and
    strategies) load no tool, test helper or conformance kit."""
    code = (
        "import sys, warnings; warnings.simplefilter('ignore')\n"
        "from trove_guest_base import service, endpoint, reporter\n"
        "from trove_core import discovery, options\n"
        "_record, cls = discovery.load_manager_class(%r)\n"
        "options.load_side(%r, 'guest')\n"
        "for name in ('trove.guestagent.backup_strategies',):\n"
        "    import importlib.metadata as md\n"
        "    for ep in md.entry_points(group=name):\n"
        "        if ep.value.startswith(cls.__module__.split('.')[0]):\n"
        "            ep.load()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(\n"
        "    ('trove_core.tools', 'trove_guest_base.testing',\n"
        "     'trove_guest_base.conformance')))))\n"
        % (datastore, datastore))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
