"""Lazy package facades (PEP 562).

A package's ``__init__`` lists its public names and the submodule that
defines each; nothing is imported until a name is used, so importing a
package (as listing plugins does) stays cheap::

    __getattr__, __dir__ = lazy.facade(__name__, {
        "Manager": "trove_ds_mysql.manager",
    })
"""

import importlib
import sys

__all__ = ["facade"]


def facade(package, homes):
    """Return the ``(__getattr__, __dir__)`` pair of a lazy package.

    :param package: the package's ``__name__``.
    :param homes: public name -> the module that defines it.
    :returns: functions to assign to the package's ``__getattr__`` and
        ``__dir__``.
    """
    homes = dict(homes)

    def __getattr__(name):
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError("module %r has no attribute %r"
                             % (package, name))

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
