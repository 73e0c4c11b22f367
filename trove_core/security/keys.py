"""Per-guest secure RPC keys: generation, storage (0600) and derivation.

Kept apart from :mod:`trove_core.secure_rpc` so that the provisioning
command does not import oslo.messaging.
"""

import base64
import binascii
import os
import secrets
import stat

from trove_core import exceptions
from trove_core import models

__all__ = ["KEY_BYTES", "check_instance_id", "generate_key", "key_path",
           "load_key", "write_key"]

KEY_BYTES = 32
INSTANCE_RE = models.GUEST_ID_RE


def check_instance_id(instance_id):
    """Validate an instance id (letters, digits and dashes, as a UUID).

    :param instance_id: the id to check.
    :returns: the id.
    :raises InvalidIdentifier: when it is not acceptable.
    """
    return models.check_guest_id(instance_id, kind="instance")



def generate_key():
    """Return a new random key, base64 text (32 bytes from ``secrets``)."""
    return base64.urlsafe_b64encode(
        secrets.token_bytes(KEY_BYTES)).decode("ascii")


def key_path(key_dir, instance_id):
    """Return where the control plane keeps one guest's key.

    :param key_dir: the ``[secure_rpc] key_dir`` directory.
    :param instance_id: the guest's instance id (validated).
    :returns: ``<key_dir>/<instance_id>.key``.
    """
    return os.path.join(key_dir, check_instance_id(instance_id) + ".key")


def write_key(path, key):
    """Write *key* to *path* with mode 0600 (never replacing a file).

    :param path: destination file.
    :param key: key text from :func:`generate_key`.
    :raises FileExistsError: when the file exists (delete it first).
    """
    directory = os.path.dirname(os.fspath(path)) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")


def load_key(path, instance_id):
    """Read a key file and derive the instance's AEAD key from it.

    :param path: the key file; it must not be readable by group or others.
    :param instance_id: the instance the key belongs to.
    :returns: a 32-byte AES-GCM key bound to *instance_id*.
    :raises SecureRPCKeyError: when the file is missing, too open or
        malformed.
    """
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise exceptions.SecureRPCKeyError(
                instance_id=instance_id,
                reason="key file %r has mode %o; run 'chmod 600' on it"
                       % (path, stat.S_IMODE(mode)))
        with open(path, encoding="ascii") as handle:
            raw = base64.urlsafe_b64decode(handle.read().strip())
    except OSError as exc:
        raise exceptions.SecureRPCKeyError(
            instance_id=instance_id,
            reason="cannot read key file %r (%s); create it with "
                   "'trove-guest-credentials create --rpc-key-dir'"
                   % (path, exc.strerror)) from None
    except (ValueError, binascii.Error):
        raise exceptions.SecureRPCKeyError(
            instance_id=instance_id,
            reason="key file %r is not base64 text" % path) from None
    if len(raw) != KEY_BYTES:
        raise exceptions.SecureRPCKeyError(
            instance_id=instance_id,
            reason="key file %r holds %d bytes, expected %d"
                   % (path, len(raw), KEY_BYTES))
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf import hkdf
    except ImportError:
        # a refusal naming the cause (exit 2), not a traceback
        raise exceptions.SecureRPCKeyError(
            instance_id=instance_id,
            reason="secure RPC needs the 'cryptography' package; run "
                   "pip install 'trove-core[secure]'") from None
    return hkdf.HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
        info=b"trove-core secure-rpc v1 instance " + instance_id.encode(),
    ).derive(raw)


