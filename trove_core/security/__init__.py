"""Keys for sealed RPC payloads (:mod:`.keys`).

What a guest and the control plane share at run time: where an
instance's key lives, how it is made and read. :mod:`trove_core.secure_rpc`
seals payloads with it. Giving a guest its own broker identity is an
operator's job, done by the tools in :mod:`trove_core.tools.credentials`
(``trove-guest-credentials``); no guest imports them.
"""

__all__ = []
