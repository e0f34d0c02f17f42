"""The Mandrill wire protocol, version 1 (docs/protocol.md): frames, command bytes, limits.

Every message is three ZeroMQ frames: ``b"MDL\\x01"``, one command byte, and a msgpack
array whose elements are the command's fields in order. Payloads are msgpack ``bin`` and every
name, id, reason and header value is ``str``; msgpack-python packs ``bytes`` as ``bin`` and
``str`` as ``str`` and unpacks them back the same way with ``raw=False``.

Only framing lives here; what each command means is the publisher's and consumer's business.
"""
from __future__ import annotations

import msgpack

VERSION = 1
VERSION_FRAME = b"MDL\x01"

# Command bytes (shared/protocol/command.h), as the one-byte frames sent on the wire.
PUBLISH = b"\x01"
CONFIRM = b"\x02"
ERROR = b"\x03"
READY = b"\x10"
WELCOME = b"\x11"
CREDIT = b"\x12"
DELIVER = b"\x13"
ACK = b"\x14"
EXTEND = b"\x15"
EXTENDED = b"\x16"
NACK = b"\x17"
HEARTBEAT = b"\x20"
DISCONNECT = b"\x21"
STATS = b"\x30"
STATS_REPLY = b"\x31"
QUEUES = b"\x32"
QUEUES_REPLY = b"\x33"

COMMAND_NAMES = {
    PUBLISH: "PUBLISH", CONFIRM: "CONFIRM", ERROR: "ERROR", READY: "READY",
    WELCOME: "WELCOME", CREDIT: "CREDIT", DELIVER: "DELIVER", ACK: "ACK", EXTEND: "EXTEND",
    EXTENDED: "EXTENDED", NACK: "NACK", HEARTBEAT: "HEARTBEAT", DISCONNECT: "DISCONNECT",
    STATS: "STATS", STATS_REPLY: "STATS_REPLY", QUEUES: "QUEUES", QUEUES_REPLY: "QUEUES_REPLY",
}

# ERROR's `answers` field names the request by its command byte as an integer.
PUBLISH_BYTE = PUBLISH[0]
READY_BYTE = READY[0]
STATS_BYTE = STATS[0]

# Limits (shared/protocol/limits.h). A WELCOME may announce the broker's own.
MAX_BATCH = 10_000
MAX_PAYLOAD_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 20
MAX_STRING_BYTES = 4096
MAX_HEADERS = 64
MAX_QUEUE_NAME_BYTES = 128
MAX_MESSAGE_ID_BYTES = 256
MAX_TASK_REPORTS = 64

_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def pack(fields) -> bytes:
    """The body frame for `fields` (a list: the command's fields in order)."""
    return _packb(fields)


def unpack(body: bytes):
    """The fields of a body frame. Raises ValueError for anything that is not one msgpack
    array (msgpack's own errors are ValueError subclasses too)."""
    fields = msgpack.unpackb(body, raw=False, use_list=True, strict_map_key=False)
    if not isinstance(fields, list):
        raise ValueError("body is not a msgpack array")
    return fields


def split(frames):
    """(command byte, fields) of a received message; ValueError if it is not a version-1 frame
    set. Extra trailing fields are left in place: callers read the fields they know."""
    if len(frames) != 3:
        raise ValueError(f"expected 3 frames (version, command, body), got {len(frames)}")
    version, command, body = frames
    if len(version) != 4 or version[:3] != b"MDL":
        raise ValueError("first frame is not MDL + version byte")
    if version[3] != VERSION:
        raise ValueError(f"protocol version {version[3]}, this client speaks {VERSION}")
    if len(command) != 1:
        raise ValueError("command frame is not one byte")
    return command, unpack(body)


def command_name(command: bytes) -> str:
    return COMMAND_NAMES.get(command, f"0x{command.hex()}")


def field(fields, index, default=None):
    """An optional trailing field (docs/protocol.md: [bracketed] fields may be missing)."""
    return fields[index] if len(fields) > index else default
