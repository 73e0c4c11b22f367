"""Throw-away Python environments for packaging tests.

:func:`write_wheel` writes a wheel from a mapping of member names to
text, with its ``RECORD``; :class:`VenvSite` is a virtualenv that sees
this environment's packages (trove-core included) and installs such
wheels with pip, as an operator would, with a private cache directory.
"""

import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

from trove_core import plugincache
from trove_core.tools.image import wheels

__all__ = ["VenvSite", "write_wheel"]


def write_wheel(path, files, dist_info):
    """Write a pure-Python wheel.

    :param path: the ``.whl`` file to write.
    :param files: ``{member: text}``, ``dist_info``'s ``METADATA``,
        ``WHEEL`` and ``entry_points.txt`` included.
    :param dist_info: the ``*.dist-info`` directory name; its
        ``RECORD`` is written last.
    :returns: ``path``.
    """
    record = []
    with zipfile.ZipFile(path, "w") as whl:
        for member, text in files.items():
            raw = text.encode()
            whl.writestr(member, raw)
            record.append(wheels.record_line(member, raw))
        record.append(dist_info + "/RECORD,,")
        whl.writestr(dist_info + "/RECORD", "\n".join(record) + "\n")
    return path


class VenvSite:
    """A virtualenv under ``root`` that sees this environment's
    packages through a ``.pth`` file (editable finders included).

    :ivar python: its interpreter.
    :ivar target: its ``site-packages``.
    :ivar cache: ``root/cache``, its ``XDG_CACHE_HOME`` (not created).
    :ivar env: the environment to run it with: that cache, and neither
        ``PYTHONPATH`` nor the cache switch of the caller.
    """

    def __init__(self, root):
        self.root = pathlib.Path(root)
        venv = self.root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                        str(venv)], check=True, timeout=120)
        self.python = str(venv / "bin" / "python")
        self.target = pathlib.Path(subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig."
             "get_paths()['purelib'])"], check=True, capture_output=True,
            text=True, timeout=60).stdout.strip())
        outer = sysconfig.get_paths()["purelib"]
        (self.target / "_trove_outer.pth").write_text(
            "import site; site.addsitedir(%r)\n" % outer)
        self.cache = self.root / "cache"
        self.env = dict(os.environ, XDG_CACHE_HOME=str(self.cache))
        for name in (plugincache.ENV_SWITCH, "PYTHONPATH"):
            self.env.pop(name, None)

    def pip(self, *args):
        """Run this environment's pip (the caller's, aimed at it)."""
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", self.python, *args,
             "--quiet", "--disable-pip-version-check"],
            check=True, capture_output=True, timeout=300)

    def install(self, wheel, *extra):
        """Install (or upgrade to) ``wheel``, offline and without its
        dependencies: an upgrade uninstalls the old version first."""
        self.pip("install", "--no-index", "--no-deps", *extra, str(wheel))
