"""The fake datastore, registered like any plugin.

Its descriptor (:mod:`.plugin`) and image elements (``elements/``) are
this package's; its manager, options, backup strategy and engine (a JSON
file playing the server) are :mod:`trove_guest_base.testing`'s, shipped
with trove-core because the conformance kit and scaffolded plugins
build on them.
"""
