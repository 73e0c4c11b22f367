"""Unit tests of trove_core.secure_rpc and the guest broker policy."""

import base64
import hashlib
import json
import logging
import os
import re
import subprocess
import sys

import pytest

from trove_core import exceptions
from trove_core import secure_rpc
from trove_core.tools.credentials import broker
from trove_core.tools.credentials import cli

MARKER = "s3cret-payload-7f1c"
GUEST_A = "0b6f8a1e-aaaa-4c1e-9f00-000000000001"
GUEST_B = "0b6f8a1e-bbbb-4c1e-9f00-000000000002"


@pytest.fixture
def key_dir(tmp_path):
    """A control-side key directory holding keys for guests A and B."""
    for guest in (GUEST_A, GUEST_B):
        secure_rpc.write_key(secure_rpc.key_path(tmp_path, guest),
                             secure_rpc.generate_key())
    return tmp_path


def _guest(key_dir, guest=GUEST_A, **kwargs):
    key = secure_rpc.load_key(secure_rpc.key_path(key_dir, guest), guest)
    return secure_rpc.SecureSerializer("guest", guest, key=key, **kwargs)


def _control(key_dir, guest=GUEST_A, **kwargs):
    return secure_rpc.SecureSerializer("control", guest, key_dir=key_dir,
                                       **kwargs)


def _request(sender, args, ctxt=None):
    """Serialize a request the way oslo.messaging's RPCClient does."""
    ctxt = {"request_id": "req-1"} if ctxt is None else ctxt
    sealed = {name: sender.serialize_entity(ctxt, value)
              for name, value in args.items()}
    return ctxt, sealed, sender.serialize_context(ctxt)


def _receive(receiver, wire_ctxt, sealed):
    """Deserialize a request the way oslo.messaging's dispatcher does."""
    ctxt = receiver.deserialize_context(wire_ctxt)
    return ctxt, {name: receiver.deserialize_entity(ctxt, value)
                  for name, value in sealed.items()}


def _flip(blob):
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _no_content_logged(caplog):
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert MARKER not in text
    for record in caplog.records:
        if record.exc_info:
            assert MARKER not in str(record.exc_info[1])


class TestRoundTrip:
    """Sealed requests and replies open on the other side."""

    def test_request_and_reply(self, key_dir):
        """A control request reaches the guest and its reply comes back."""
        control, guest = _control(key_dir), _guest(key_dir)
        ctxt, sealed, wire = _request(
            control, {"users": [{"_name": "u1", "_password": MARKER}],
                      "limit": None},
            secure_rpc.bind_method({"request_id": "req-1"}, "create_user"))
        assert MARKER not in json.dumps([sealed, wire])
        received, args = _receive(guest, wire, sealed)
        assert args == {"users": [{"_name": "u1", "_password": MARKER}],
                        "limit": None}
        assert received == {"request_id": "req-1"}
        assert (received.instance_id, received.method) == (GUEST_A,
                                                           "create_user")
        secure_rpc.verify_call(received, "create_user", GUEST_A)
        reply = guest.serialize_entity(received, [["db1"], None])
        assert control.deserialize_entity(ctxt, reply) == [["db1"], None]

    def test_conductor_hears_every_guest(self, key_dir):
        """A control server without an instance id opens each guest's."""
        conductor = secure_rpc.SecureSerializer("control", None,
                                                key_dir=key_dir)
        for guest_id in (GUEST_A, GUEST_B):
            _, sealed, wire = _request(_guest(key_dir, guest_id),
                                       {"instance_id": guest_id})
            received, args = _receive(conductor, wire, sealed)
            secure_rpc.verify_call(received, instance_id=args["instance_id"])
            assert received.instance_id == guest_id

    def test_disabled_returns_none(self, conf):
        """With [secure_rpc] enabled false the wire format is Trove's."""
        assert secure_rpc.build_serializer(conf, GUEST_A, "guest") is None

    def test_build_from_options(self, conf, key_dir):
        """Enabled options give a guest and a control serializer."""
        secure_rpc.register_opts(conf)
        conf.set_override("enabled", True, "secure_rpc")
        conf.set_override("key_file", str(secure_rpc.key_path(
            key_dir, GUEST_A)), "secure_rpc")
        guest = secure_rpc.build_serializer(conf, GUEST_A, "guest")
        conf.set_override("key_dir", str(key_dir), "secure_rpc")
        control = secure_rpc.build_serializer(conf, GUEST_A, "control")
        _, sealed, wire = _request(control, {"x": 1})
        assert _receive(guest, wire, sealed)[1] == {"x": 1}


class TestRefusals:
    """Tampered, replayed, foreign and unsealed messages are refused."""

    def test_tampered_argument(self, key_dir, caplog):
        """A flipped bit in an argument fails authentication."""
        _, sealed, wire = _request(_control(key_dir), {"password": MARKER})
        sealed["password"][secure_rpc.SEAL] = _flip(
            sealed["password"][secure_rpc.SEAL])
        with pytest.raises(exceptions.MessageAuthenticationFailed,
                           match="argument seal did not verify") as err:
            _receive(_guest(key_dir), wire, sealed)
        assert err.value.instance_id == GUEST_A
        _no_content_logged(caplog)

    @pytest.mark.parametrize("field, value", [
        pytest.param("ts", 1.0, id="timestamp"),
        pytest.param("n", 0, id="argument-count"),
        pytest.param("seal", None, id="seal"),
    ])
    def test_tampered_header(self, key_dir, field, value):
        """Changing any header field breaks the context's seal."""
        _, sealed, wire = _request(_control(key_dir), {"a": MARKER})
        envelope = wire[secure_rpc.ENVELOPE]
        envelope[field] = value if value is not None else _flip(
            envelope["seal"])
        with pytest.raises(exceptions.MessageAuthenticationFailed) as err:
            _receive(_guest(key_dir), wire, sealed)
        assert err.value.reason.startswith("context seal")

    def test_swapped_arguments(self, key_dir):
        """Arguments cannot trade places inside one message."""
        _, sealed, wire = _request(_control(key_dir),
                                   {"username": "a", "hostname": "b"})
        swapped = {"username": sealed["hostname"],
                   "hostname": sealed["username"]}
        with pytest.raises(exceptions.MessageAuthenticationFailed):
            _receive(_guest(key_dir), wire, swapped)

    def test_argument_from_other_message(self, key_dir):
        """An argument sealed for one message does not open in another."""
        control = _control(key_dir)
        _, first, _ = _request(control, {"database": "keep"})
        _, _, wire = _request(control, {"database": "drop"}, ctxt={})
        with pytest.raises(exceptions.MessageAuthenticationFailed):
            _receive(_guest(key_dir), wire, first)

    def test_replayed(self, key_dir, caplog):
        """The same message twice is refused the second time."""
        guest = _guest(key_dir)
        _, sealed, wire = _request(_control(key_dir), {"p": MARKER})
        _receive(guest, wire, sealed)
        with pytest.raises(exceptions.MessageReplayed,
                           match="already seen") as err:
            _receive(guest, wire, sealed)
        assert err.value.message_id == wire[secure_rpc.ENVELOPE]["mid"]
        assert "already seen" in caplog.text
        _no_content_logged(caplog)

    def test_stale(self, key_dir, monkeypatch):
        """A message sealed outside the replay window is refused."""
        control = _control(key_dir)
        now = secure_rpc.time.time()
        monkeypatch.setattr(secure_rpc.time, "time", lambda: now - 600)
        _, sealed, wire = _request(control, {"p": 1})
        monkeypatch.setattr(secure_rpc.time, "time", lambda: now)
        with pytest.raises(exceptions.MessageReplayed,
                           match="replay window") as err:
            _receive(_guest(key_dir), wire, sealed)
        assert err.value.instance_id == GUEST_A

    def test_other_guests_message(self, key_dir, caplog):
        """A message for guest B is refused by guest A."""
        _, sealed, wire = _request(_control(key_dir, GUEST_B), {"p": MARKER})
        with pytest.raises(exceptions.WrongInstance,
                           match="does not serve") as err:
            _receive(_guest(key_dir), wire, sealed)
        assert err.value.instance_id == GUEST_B
        _no_content_logged(caplog)

    def test_foreign_key(self, key_dir):
        """A guest sealing with its key while claiming another is caught."""
        forged_key = secure_rpc.load_key(
            secure_rpc.key_path(key_dir, GUEST_A), GUEST_B)
        forger = secure_rpc.SecureSerializer("guest", GUEST_B,
                                             key=forged_key)
        _, sealed, wire = _request(forger, {"instance_id": GUEST_B})
        conductor = secure_rpc.SecureSerializer("control", None,
                                                key_dir=key_dir)
        with pytest.raises(exceptions.MessageAuthenticationFailed,
                           match="another guest's key") as err:
            _receive(conductor, wire, sealed)
        assert err.value.instance_id == GUEST_B

    def test_speaking_for_another(self, key_dir):
        """Guest A's own seal cannot carry a heartbeat for guest B."""
        conductor = secure_rpc.SecureSerializer("control", None,
                                                key_dir=key_dir)
        _, sealed, wire = _request(_guest(key_dir), {"instance_id": GUEST_B})
        received, args = _receive(conductor, wire, sealed)
        with pytest.raises(exceptions.WrongInstance,
                           match="another instance") as err:
            secure_rpc.verify_call(received, "heartbeat",
                                   args["instance_id"])
        assert err.value.instance_id == GUEST_A

    def test_bound_method_differs(self, key_dir):
        """A request bound to one method is refused by another."""
        _, sealed, wire = _request(
            _control(key_dir), {},
            secure_rpc.bind_method({}, "list_users"))
        received, _ = _receive(_guest(key_dir), wire, sealed)
        with pytest.raises(exceptions.MessageAuthenticationFailed,
                           match="method differs") as err:
            secure_rpc.verify_call(received, "delete_user")
        assert err.value.instance_id == GUEST_A

    def test_wrong_direction(self, key_dir):
        """A guest's message is refused by another guest-role server."""
        _, sealed, wire = _request(_guest(key_dir), {"p": 1})
        with pytest.raises(exceptions.WrongInstance,
                           match="comes from a 'guest'"):
            _receive(_guest(key_dir), wire, sealed)

    @pytest.mark.parametrize("wire", [
        pytest.param({"request_id": "r"}, id="plain-context"),
        pytest.param({"context": "AAAA"}, id="trove-aes-cbc-context"),
        pytest.param(None, id="none"),
    ])
    def test_plaintext_context(self, key_dir, wire, caplog):
        """An unsealed context is refused: there is no fallback."""
        with pytest.raises(exceptions.PlaintextRefused,
                           match="unsealed context") as err:
            _guest(key_dir).deserialize_context(wire)
        assert err.value.instance_id == "<invalid>"
        assert "unsealed context" in caplog.text

    def test_plaintext_argument(self, key_dir, caplog):
        """An unsealed argument inside a sealed message is refused."""
        _, sealed, wire = _request(_control(key_dir), {"p": 1})
        sealed["p"] = MARKER
        with pytest.raises(exceptions.PlaintextRefused,
                           match="unsealed argument"):
            _receive(_guest(key_dir), wire, sealed)
        _no_content_logged(caplog)

    def test_reply_to_other_request(self, key_dir):
        """A reply opens only for the request it answers."""
        control, guest = _control(key_dir), _guest(key_dir)
        _, sealed, wire = _request(control, {})
        received, _ = _receive(guest, wire, sealed)
        reply = guest.serialize_entity(received, "ok")
        later = {"request_id": "req-2"}
        _request(control, {}, ctxt=later)
        with pytest.raises(exceptions.MessageAuthenticationFailed):
            control.deserialize_entity(later, reply)


class TestKeys:
    """Key files are private, well formed and bound to one instance."""

    def test_open_key_file_refused(self, key_dir):
        """A key file readable by others is refused with the fix."""
        path = secure_rpc.key_path(key_dir, GUEST_A)
        os.chmod(path, 0o644)
        with pytest.raises(exceptions.SecureRPCKeyError,
                           match="chmod 600") as err:
            secure_rpc.load_key(path, GUEST_A)
        assert err.value.instance_id == GUEST_A

    @pytest.mark.parametrize("content, match", [
        pytest.param("c2hvcnQ=", "holds 5 bytes", id="short"),
        pytest.param("not base64 !!", "base64", id="garbage"),
    ])
    def test_malformed_key(self, tmp_path, content, match):
        """A malformed key file is refused."""
        path = tmp_path / "k.key"
        secure_rpc.write_key(path, content)
        with pytest.raises(exceptions.SecureRPCKeyError, match=match):
            secure_rpc.load_key(path, GUEST_A)

    def test_missing_key(self, conf, tmp_path):
        """Enabled without a key file says which option to set."""
        secure_rpc.register_opts(conf)
        conf.set_override("enabled", True, "secure_rpc")
        with pytest.raises(exceptions.SecureRPCKeyError,
                           match="key_file is not set") as err:
            secure_rpc.build_serializer(conf, GUEST_A, "guest")
        assert err.value.instance_id == GUEST_A

    def test_never_overwritten(self, key_dir):
        """write_key refuses to replace an existing key."""
        with pytest.raises(FileExistsError):
            secure_rpc.write_key(secure_rpc.key_path(key_dir, GUEST_A), "x")

    def test_rotated_key_picked_up(self, key_dir):
        """A control plane notices a re-created key without a restart."""
        control = _control(key_dir)
        guest = _guest(key_dir)
        _, sealed, wire = _request(control, {"p": 1})
        _receive(guest, wire, sealed)
        path = secure_rpc.key_path(key_dir, GUEST_A)
        os.unlink(path)
        secure_rpc.write_key(path, secure_rpc.generate_key())
        os.utime(path, ns=(1, 1))
        _, sealed, wire = _request(control, {"p": 2})
        with pytest.raises(exceptions.MessageAuthenticationFailed):
            _receive(guest, wire, sealed)
        _, sealed, wire = _request(control, {"p": 3})
        assert _receive(_guest(key_dir), wire, sealed)[1] == {"p": 3}

    def test_bound_to_instance(self, key_dir):
        """One key file derives different keys for different instances."""
        path = secure_rpc.key_path(key_dir, GUEST_A)
        assert (secure_rpc.load_key(path, GUEST_A)
                != secure_rpc.load_key(path, GUEST_B))

    @pytest.mark.parametrize("bad", [
        pytest.param("../etc/passwd", id="traversal"),
        pytest.param("a.b", id="dot"),
        pytest.param("a_fanout", id="underscore"),
        pytest.param("", id="empty"),
    ])
    def test_instance_id_validated(self, bad):
        """Instance ids that could escape a path or a regex are refused."""
        with pytest.raises(exceptions.InvalidIdentifier) as err:
            secure_rpc.key_path("/keys", bad)
        assert err.value.value == bad


class TestGuestBrokerPolicy:
    """The broker permissions reach only the guest's own names."""

    @pytest.fixture
    def policy(self):
        """The policy of guest A on the default vhost."""
        return broker.GuestBrokerPolicy(GUEST_A)

    @pytest.mark.parametrize("name, allowed", [
        pytest.param("guestagent." + GUEST_A, True, id="topic-queue"),
        pytest.param("guestagent.%s.%s" % (GUEST_A, GUEST_A), True,
                     id="server-queue"),
        pytest.param("guestagent.%s_fanout" % GUEST_A, True, id="fanout"),
        pytest.param("guestagent.%s_fanout_0a1b" % GUEST_A, True,
                     id="fanout-queue"),
        pytest.param("trove", True, id="control-exchange"),
        pytest.param("guestagent." + GUEST_B, False, id="other-guest"),
        pytest.param("guestagent." + GUEST_A + "0", False, id="longer-id"),
        pytest.param("guestagent.%s_fanout" % GUEST_B, False,
                     id="other-fanout"),
        pytest.param("trove-conductor", False, id="conductor-queue"),
        pytest.param("reply_0a1b", False, id="reply-queue"),
        pytest.param("amq.topic", False, id="amq-topic"),
    ])
    def test_configure_and_read(self, policy, name, allowed):
        """Configure and read match the guest's names and nothing else."""
        configure, _, read = policy.permissions()
        assert bool(re.search(configure, name)) is allowed
        assert bool(re.search(read, name)) is allowed

    def test_write(self, policy):
        """Write adds only the default exchange, for replies."""
        _, write, _ = policy.permissions()
        assert re.search(write, "amq.default")
        assert not re.search(write, "trove-conductor")

    def test_topic_permissions(self, policy):
        """Routing keys: publish to the conductor, bind own topic only."""
        exchange, write, read = policy.topic_permissions()
        assert exchange == "trove"
        assert re.search(write, "trove-conductor")
        assert not re.search(write, "guestagent." + GUEST_B)
        assert re.search(read, "guestagent.%s.%s" % (GUEST_A, GUEST_A))
        assert not re.search(read, "#")

    @pytest.mark.parametrize("vhost, tail", [
        pytest.param("/", "/", id="default"),
        pytest.param("trove/prod", "/trove%2Fprod", id="named"),
    ])
    def test_transport_url(self, vhost, tail):
        """The URL quotes the password and the vhost."""
        policy = broker.GuestBrokerPolicy(GUEST_A, vhost=vhost)
        url = policy.transport_url("p@ss/w:rd", host="10.0.0.5")
        assert url == ("rabbit://trove-guest-%s:p%%40ss%%2Fw%%3Ard@"
                       "10.0.0.5:5672%s" % (GUEST_A, tail))

    @pytest.mark.parametrize("kwargs", [
        pytest.param({"exchange": "tro ve"}, id="exchange"),
        pytest.param({"conductor_topic": "a|b"}, id="topic"),
        pytest.param({"vhost": "a\nb"}, id="vhost"),
    ])
    def test_names_validated(self, kwargs):
        """Names that would change a regex or a command are refused."""
        with pytest.raises(exceptions.InvalidIdentifier) as err:
            broker.GuestBrokerPolicy(GUEST_A, **kwargs)
        assert err.value.kind in ("exchange", "conductor topic", "vhost")


class TestCli:
    """trove-guest-credentials refuses unsafe input before the broker."""

    def test_open_password_file(self, tmp_path, capsys):
        """A password file readable by others is refused."""
        path = tmp_path / "pw"
        path.write_text("x" * 20 + "\n")
        os.chmod(path, 0o644)
        assert cli.main(["create", GUEST_A, "--password-file",
                         str(path)]) == 1
        err = capsys.readouterr().err
        assert "chmod 600" in err and "x" * 20 not in err

    def test_short_password(self, tmp_path, capsys):
        """A short password is refused without echoing it."""
        path = tmp_path / "pw"
        path.write_text("short\n")
        os.chmod(path, 0o600)
        assert cli.main(["create", GUEST_A, "--password-file",
                         str(path)]) == 1
        err = capsys.readouterr().err
        assert "16 characters" in err and "short\n" not in err

    def test_bad_guest_id(self, capsys):
        """A guest id that could escape the permission regex is refused."""
        assert cli.main(["delete", "a.*"]) == 1
        assert "invalid instance name 'a.*'" in capsys.readouterr().err


def test_logger_name():
    """Refusals are logged on the module's own logger."""
    assert secure_rpc.LOG.name == "trove_core.secure_rpc"
    assert isinstance(secure_rpc.LOG, logging.Logger)


class TestRabbitmqctl:
    """The provisioning command keeps the password off every argv."""

    @pytest.fixture
    def fake_ctl(self, tmp_path):
        """A stand-in rabbitmqctl that records its argv and stdin."""
        log = tmp_path / "calls.jsonl"
        script = tmp_path / "rabbitmqctl"
        script.write_text(
            "#!%s\nimport json, sys\n"
            "with open(%r, 'a') as f:\n"
            "    f.write(json.dumps([sys.argv[1:], sys.stdin.read()]) + "
            "'\\n')\n" % (sys.executable, str(log)))
        os.chmod(script, 0o700)
        return broker.Rabbitmqctl(binary=str(script)), log

    def test_password_only_on_stdin(self, fake_ctl):
        """add_user gets the password on stdin; no argv carries it."""
        ctl, log = fake_ctl
        password = "pw-" + MARKER
        ctl.create(broker.GuestBrokerPolicy(GUEST_A), password)
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        assert [argv[1] for argv, _ in calls] == [
            "add_user", "set_permissions", "set_topic_permissions",
            "set_user_limits"]
        assert calls[0] == [["-q", "add_user", "trove-guest-" + GUEST_A],
                            password + "\n"]
        assert all(password not in " ".join(argv) for argv, _ in calls)

    def test_create_many_hashes_on_stdin_and_checks(self, fake_ctl):
        """create_many sends one import on stdin carrying only password
        hashes, and does not trust the exit status: users missing after
        the import are an error."""
        ctl, log = fake_ctl
        password = "pw-" + MARKER
        policy = broker.GuestBrokerPolicy(GUEST_A, max_connections=3)
        with pytest.raises(exceptions.BrokerError,
                           match="1 user.* are missing"):
            ctl.create_many([(policy, password)])
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        assert [argv[1] for argv, _ in calls] == [
            "list_users", "import_definitions", "list_users"]
        assert all(password not in " ".join(argv) + stdin
                   for argv, stdin in calls)
        defs = json.loads(calls[1][1])
        user = defs["users"][0]
        assert user["name"] == policy.username
        assert user["limits"] == {"max-connections": 3, "max-channels": 64}
        raw = base64.b64decode(user["password_hash"])
        assert raw[4:] == hashlib.sha256(
            raw[:4] + password.encode()).digest()
        assert defs["topic_permissions"][0]["exchange"] == "trove"

    def test_expire_queues_refuses_bad_values(self, capsys):
        """expire-queues refuses a non-positive expiry, saying so."""
        assert cli.main(["expire-queues", "--after", "0"]) == 1
        assert "expires must be a positive number of seconds" in \
            capsys.readouterr().err

    def test_failure_names_command(self, tmp_path):
        """A failing rabbitmqctl is reported with the command and reason."""
        script = tmp_path / "rabbitmqctl"
        script.write_text("#!/bin/sh\necho 'Error: node down' >&2\nexit 69\n")
        os.chmod(script, 0o700)
        ctl = broker.Rabbitmqctl(binary=str(script))
        with pytest.raises(exceptions.BrokerError,
                           match="'delete_user' failed .* node down") as err:
            ctl.delete(broker.GuestBrokerPolicy(GUEST_A))
        assert err.value.returncode == 69


class TestImportCost:
    """The module stays cheap for processes that leave secure RPC off."""

    def test_no_heavy_imports(self):
        """Importing it loads neither oslo.messaging nor cryptography."""
        code = ("import sys, trove_core.secure_rpc,"
                " trove_core.tools.credentials.cli;"
                "print(sorted(m for m in ('oslo_messaging', 'cryptography')"
                " if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout
        assert out.strip() == "[]"

    def test_is_an_oslo_serializer(self, key_dir):
        """A built serializer is an ``oslo_messaging.Serializer``."""
        import oslo_messaging

        assert isinstance(_guest(key_dir), oslo_messaging.Serializer)
