"""trove_guest_base: the guest runtime that loads exactly one datastore.

It provides the ``trove-guestagent`` service and the helpers every plugin
uses instead of writing its own (processes, files, configuration files,
datastore supervision, backups).
"""
