"""The RDB-only SYNC reader of the ``redis-rdb`` backup, on a real
socket pair fed as a server would."""

import socket
import threading

import pytest

from trove_core import exceptions
from trove_ds_redis import backup

RDB = b"REDIS0010" + bytes(range(256)) * 5000 + b"\xff" + b"\x01" * 8
MARK = b"0123456789abcdef0123456789abcdef01234567"


_OPEN = []


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while _OPEN:
        _OPEN.pop().close()


def serve(pieces):
    """A reader whose server side sends ``pieces`` and closes."""
    ours, theirs = socket.socketpair()
    _OPEN.append(ours)

    def send():
        for piece in pieces:
            theirs.sendall(piece)
        theirs.close()
    threading.Thread(target=send, daemon=True).start()
    ours.settimeout(10)
    return backup._SyncReader(ours, None)


def read(reader, chunk=64 * 1024):
    return b"".join(reader.payload(chunk))


class TestSyncReader:
    def test_diskless_mark_removed(self):
        """A diskless transfer's closing mark is not part of the RDB,
        also when it arrives split across reads."""
        data = b"$EOF:" + MARK + b"\r\n" + RDB + MARK
        pieces = [data[:1000], data[1000:-20], data[-20:]]
        assert read(serve(pieces)) == RDB

    def test_keepalives_skipped(self):
        """The newlines a server sends while it forks are skipped."""
        reader = serve([b"\n\n\n", b"\n$%d\r\n" % len(RDB), RDB])
        assert read(reader) == RDB

    def test_length_prefixed(self):
        """A disk-based transfer is read to its announced length, in
        chunks no larger than asked."""
        reader = serve([b"$%d\r\n" % len(RDB) + RDB])
        chunks = list(reader.payload(1000))
        assert b"".join(chunks) == RDB
        assert max(len(c) for c in chunks) <= 1000

    @pytest.mark.parametrize("data", [
        pytest.param(b"$EOF:" + MARK + b"\r\n" + RDB[:5000], id="diskless"),
        pytest.param(b"$%d\r\n" % len(RDB) + RDB[:5000], id="disk"),
    ])
    def test_cut_transfer_refused(self, data):
        """A transfer the server breaks off is an error, not a backup."""
        with pytest.raises(exceptions.BackupError, match="before the RDB"):
            read(serve([data]))

    def test_error_reply_refused(self):
        """An error instead of a transfer means the server will not serve
        one: the strategy falls back to BGSAVE."""
        reader = serve([b"-NOPERM this user has no permissions\r\n"])
        with pytest.raises(backup.SyncRefused, match="NOPERM"):
            read(reader)

    def test_simple_reply_checked(self):
        """AUTH and REPLCONF must answer +OK."""
        reader = serve([b"-ERR Unrecognized REPLCONF option\r\n"])
        with pytest.raises(backup.SyncRefused, match="REPLCONF"):
            reader.simple("REPLCONF rdb-only")

    def test_command_encoding(self):
        """Commands go as RESP arrays of bulk strings."""
        assert backup._command("AUTH", "u", "p w") == (
            b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$3\r\np w\r\n")


class TestRDBCheck:
    def test_complete(self):
        """An RDB with its magic and its EOF opcode passes."""
        assert backup._rdb_check(RDB[:4096], RDB[-4096:]) is None

    def test_truncated(self):
        """An RDB without its EOF opcode is refused."""
        assert "EOF opcode" in backup._rdb_check(RDB[:4096],
                                                 RDB[-5000:-1000])

    def test_not_rdb(self):
        """Anything else is refused by its first bytes."""
        assert "RDB" in backup._rdb_check(b"Usage: redis-cli", b"x" * 20)
