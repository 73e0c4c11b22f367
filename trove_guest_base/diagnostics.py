"""``get_diagnostics`` for any manager: the guest process's own figures,
in the keys Trove's guest API has always returned (``version``,
``fd_size``, ``vm_size``, ``vm_peak``, ``vm_rss``, ``vm_hwm``,
``threads``), read from ``/proc/self/status`` (sizes in kB).

A manager declares ``IDiagnostics`` and mixes
:class:`DiagnosticsOperations` in.
"""

import os

__all__ = ["DiagnosticsOperations", "process_diagnostics"]

_FIELDS = {"FDSize": "fd_size", "VmSize": "vm_size", "VmPeak": "vm_peak",
           "VmRSS": "vm_rss", "VmHWM": "vm_hwm", "Threads": "threads"}


def process_diagnostics(status_file="/proc/self/status"):
    """The guest process's figures, Trove's keys (``0`` where the
    system does not say)."""
    import importlib.metadata

    out = dict.fromkeys(_FIELDS.values(), 0)
    try:
        out["version"] = importlib.metadata.version("trove-core")
    except importlib.metadata.PackageNotFoundError:
        out["version"] = None
    try:
        with open(status_file, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in _FIELDS and value.split():
                    out[_FIELDS[key]] = int(value.split()[0])
    except OSError:
        pass
    out["pid"] = os.getpid()
    return out


class DiagnosticsOperations:
    """``IDiagnostics`` for a manager."""

    def get_diagnostics(self):
        """See :class:`trove_core.capabilities.IDiagnostics`."""
        return process_diagnostics()
