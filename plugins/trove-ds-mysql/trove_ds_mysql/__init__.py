"""MySQL and MariaDB datastore plugin for trove-core.

Modules, by role (the same in every plugin):

``plugin``        the descriptor (plain data, cheap to import)
``options``       the ``[mysql]`` server and guest options
``manager``       the guest manager, composing the modules below
``service``       files, my.cnf, process control, maintenance mode
``admin``         databases, users, access, root
``sql``           identifier validation and quoting
``configuration`` the override schema (``data/validation-rules.json``)
``backup``        the ``mysqldump`` and ``mariabackup`` strategies
``replication``   the ``mysql-gtid`` strategy
``guestlog``      error, slow query and general logs
``testing``       the conformance probe and throw-away server options

The facade is lazy: importing the package imports nothing heavy.
"""

from trove_core import lazy

__all__ = ["DESCRIPTOR", "Manager", "MariaBackup", "MySQLDump",
           "MySQLGTIDReplication", "MySQLServer"]

_LAZY = {
    "DESCRIPTOR": "trove_ds_mysql.plugin",
    "Manager": "trove_ds_mysql.manager",
    "MariaBackup": "trove_ds_mysql.backup",
    "MySQLDump": "trove_ds_mysql.backup",
    "MySQLGTIDReplication": "trove_ds_mysql.replication",
    "MySQLServer": "trove_ds_mysql.service",
}


__getattr__, __dir__ = lazy.facade(__name__, _LAZY)
