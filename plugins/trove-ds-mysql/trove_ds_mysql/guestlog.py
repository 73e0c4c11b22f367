"""Guest logs of the MySQL datastore: error, slow query, general.

The error log is a system log, always on. The general and slow query logs
are user logs switched on and off through configuration overrides (so the
choice survives restarts) and applied live. Publishing copies a log into
backup storage under ``logs/<name>/``; discarding deletes what was
published.
"""

import json
import os
import time

from trove_core import exceptions
from trove_guest_base import backup as pipeline

__all__ = ["GuestLogs", "LOGS"]

#: bytes of log per published object (Trove's guest_log_limit)
_LOG_PIECE = 1000000

#: name -> (type, override switching it, extra overrides when enabled)
LOGS = {
    "error": ("SYS", None, {}),
    "general": ("USER", "general_log", {}),
    "slow_query": ("USER", "slow_query_log", {"long_query_time": 1.0}),
}


class GuestLogs:
    """The logs a user may see.

    :param manager: the :class:`~trove_ds_mysql.manager.Manager`.
    """

    def __init__(self, manager):
        self.manager = manager
        self.server = manager.server

    def exposed(self):
        """The names of the logs the ``guest_log_exposed_logs`` option
        exposes."""
        return [n for n in self.manager.options.guest_log_exposed_logs
                if n in LOGS]

    def _check(self, name):
        if name not in self.exposed():
            raise exceptions.NotFound(
                "log %r is not exposed; exposed logs are %s" % (
                    name, self.exposed()), kind="log", name=name)

    def _records(self):
        return self.manager.recall("published_logs", {})

    def show(self, name):
        """Trove's view of one log: type, status, published and pending
        bytes, where it is published."""
        log_type, switch, _extra = LOGS[name]
        path = self.server.logs[name]
        size = os.path.getsize(path) if os.path.exists(path) else 0
        record = self._records().get(name, {})
        published = record.get("size", 0)
        where = self._trove_layout(name)
        if switch is None:
            status = "Ready" if os.path.exists(path) else "Unavailable"
        else:
            enabled = self.manager.log_overrides().get(switch) == "ON"
            status = "Enabled" if enabled else "Disabled"
        if record.get("objects") and published == size:
            status = "Published"
        view = {"name": name, "type": log_type, "status": status,
                "published": published, "pending": max(0, size - published),
                "container": self.manager.options.backup_storage_root,
                "prefix": "logs/%s/" % name, "metafile": None}
        if where is not None:
            view.update(where)
        return view

    def _trove_layout(self, name):
        # In Swift, logs go where Trove's client looks: its container,
        # '<guest id>/<datastore>-<log>/' and a metafile beside it.
        if self.manager.options.backup_storage != "swift":
            return None
        from trove_guest_base.backup import swift

        self.manager.conf.register_opts(swift.OPTS, group=swift.GROUP)
        guest_id = getattr(self.manager.conf, "guest_id", None) or "guest"
        prefix = "%s/%s-%s/" % (guest_id, self.manager.name, name)
        return {"container": self.manager.conf[swift.GROUP].log_container,
                "prefix": prefix,
                "metafile": prefix.rstrip("/") + "_metafile"}

    def list(self):
        """Every exposed log, as :meth:`show` describes it."""
        return [self.show(name) for name in self.exposed()]

    def action(self, name, enable=False, disable=False, publish=False,
               discard=False):
        """Enable, disable, publish or discard one log; return its view.

        :raises NotFound: the log is not exposed.
        :raises BadRequest: contradictory flags, or switching a system
            log.
        """
        self._check(name)
        if enable and disable:
            raise exceptions.BadRequest(
                reason="enable and disable of log %r were both asked"
                % name)
        _type, switch, extra = LOGS[name]
        if (enable or disable) and switch is None:
            raise exceptions.BadRequest(
                reason="log %r is a system log; it is always on" % name)
        if enable:
            self.manager.set_log_overrides(dict(extra, **{switch: "ON"}))
        elif disable:
            self.manager.set_log_overrides({switch: "OFF"})
        if discard:
            self._discard(name)
        if publish:
            self._publish(name)
        return self.show(name)

    def _publish(self, name):
        path = self.server.logs[name]
        if not os.path.exists(path):
            raise exceptions.BadRequest(
                reason="log %r has no file yet; enable it first" % name)
        size = os.path.getsize(path)
        records = self._records()
        record = records.setdefault(name, {"objects": [], "size": 0})
        where = self._trove_layout(name)
        if where is not None:
            self._publish_text(name, path, record, where)
        else:
            location = "logs/%s/%s-%d.log.gz" % (name, name,
                                                 int(time.time() * 1000))
            pipeline.run_backup(pipeline.File(path),
                                self.manager.backup_storage(), location,
                                metadata={"log": name})
            record["objects"].append(location)
        record["size"] = size
        self.manager.remember(published_logs=records)

    def _publish_text(self, name, path, record, where):
        # As Trove's guest: what is new since the last publish, in plain
        # text objects of whole lines with their line count, then the
        # metafile.
        storage = self.manager.backup_storage()
        start = record.get("size", 0)
        with open(path, "rb") as handle:
            handle.seek(start if start <= os.path.getsize(path) else 0)
            while chunk := handle.read(_LOG_PIECE):
                if not chunk.endswith(b"\n"):
                    chunk += handle.readline()
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                obj = "%slog-%s.%06d" % (where["prefix"], stamp,
                                         len(record["objects"]))
                storage.put_text(where["container"], obj, chunk, headers={
                    "X-Object-Meta-Lines": str(chunk.count(b"\n"))})
                record["objects"].append(obj)
        meta = {"log_name": name, "log_type": LOGS[name][0],
                "log_file": path, "log_size": os.path.getsize(path)}
        storage.put_text(where["container"], where["metafile"],
                         json.dumps(meta).encode())

    def _discard(self, name):
        records = self._records()
        storage = self.manager.backup_storage()
        where = self._trove_layout(name)
        if where is not None:
            storage.delete_prefix(where["container"], where["prefix"],
                                  also=[where["metafile"]])
        else:
            for location in records.get(name, {}).get("objects", []):
                storage.delete(location)
        records.pop(name, None)
        self.manager.remember(published_logs=records)
