"""CURVE key files, read exactly as the C++ clients read them (shared/security/curve_keys.cpp).

A ``.key`` file holds a Z85 secret key (40 characters, surrounding whitespace ignored) and must
not be readable by group or others: it is refused otherwise, as ssh refuses such keys. A
``.pub`` file holds the Z85 public key. ``mandrill-ctl keygen NAME`` writes both; so does
write_key_files() here.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import zmq
from zmq.utils import z85

from .errors import ConfigurationError


@dataclass(frozen=True)
class KeyPair:
    public: bytes  # Z85, 40 bytes
    secret: bytes  # Z85, 40 bytes (empty for a public key alone)


def is_z85_key(text: str | bytes) -> bool:
    if isinstance(text, str):
        text = text.encode("ascii", "replace")
    if len(text) != 40:
        return False
    try:
        return len(z85.decode(text)) == 32
    except (ValueError, KeyError, IndexError, TypeError):
        return False


def _read_key_text(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise ConfigurationError(f"cannot read key file {path}: {e.strerror}") from None
    text = text.strip(b" \t\r\n")
    if not text:
        raise ConfigurationError(f"key file {path} is empty")
    if not is_z85_key(text):
        raise ConfigurationError(
            f"key file {path} does not hold a Z85 CURVE key (40 characters)")
    return text


def read_secret_key(path: str) -> KeyPair:
    """This client's key pair from its ``.key`` file (mode 0600 or stricter)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigurationError(f"cannot read secret key {path}: {e.strerror}") from None
    if st.st_mode & 0o077:
        raise ConfigurationError(
            f"secret key {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
            "chmod 600 it")
    secret = _read_key_text(path)
    try:
        public = zmq.curve_public(secret)
    except zmq.ZMQError as e:
        raise ConfigurationError(f"secret key {path}: cannot derive its public key: {e}") from None
    return KeyPair(public=public, secret=secret)


def read_public_key(path: str) -> bytes:
    """A broker's public key (Z85) from its ``.pub`` file."""
    return _read_key_text(path)


def load_client_keys(key: str | None, broker_key: str | None):
    """(own KeyPair, broker public key) for --key/--broker-key, or None when neither is given.
    Both or neither, as the C++ clients require."""
    if not key and not broker_key:
        return None
    if not key or not broker_key:
        raise ConfigurationError("key and broker_key go together (CURVE needs both)")
    own = read_secret_key(key)
    broker = read_public_key(broker_key)
    if broker == own.secret:
        raise ConfigurationError(
            f"broker_key {broker_key} holds this client's secret key: give the broker's .pub file")
    return own, broker


def write_key_files(directory: str, name: str) -> KeyPair:
    """Generates a key pair as ``mandrill-ctl keygen`` does: DIR/NAME.key (0600) and
    DIR/NAME.pub (0644); refuses to overwrite either."""
    if not name or "/" in name:
        raise ConfigurationError(f"key name '{name}' must be non-empty and contain no '/'")
    public, secret = zmq.curve_keypair()
    base = os.path.join(directory or ".", name)
    _write_new(base + ".key", secret + b"\n", 0o600)
    try:
        _write_new(base + ".pub", public + b"\n", 0o644)
    except BaseException:
        os.unlink(base + ".key")  # no half-written pair
        raise
    return KeyPair(public=public, secret=secret)


def _write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
