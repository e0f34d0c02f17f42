"""Typed errors. Every error the broker can answer (docs/protocol.md, error codes) maps to a
subclass of MandrillError carrying the code and the broker's reason."""
from __future__ import annotations

import asyncio

# Error codes (shared/protocol/error_code.h).
MALFORMED = 100
UNSUPPORTED_VERSION = 101
UNKNOWN_COMMAND = 102
TOO_LARGE = 103
INVALID_ARGUMENT = 104
UNEXPECTED_COMMAND = 105
QUEUE_FULL = 200
UNKNOWN_QUEUE = 201
LEASE_LOST = 202
NOT_READY = 203
STORAGE_FAILED = 204
SHUTTING_DOWN = 205
BROKER_FULL = 206
LIMIT_REACHED = 207
PERMISSION_DENIED = 208
INTERNAL = 299

CODE_NAMES = {
    MALFORMED: "MALFORMED", UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
    UNKNOWN_COMMAND: "UNKNOWN_COMMAND", TOO_LARGE: "TOO_LARGE",
    INVALID_ARGUMENT: "INVALID_ARGUMENT", UNEXPECTED_COMMAND: "UNEXPECTED_COMMAND",
    QUEUE_FULL: "QUEUE_FULL", UNKNOWN_QUEUE: "UNKNOWN_QUEUE", LEASE_LOST: "LEASE_LOST",
    NOT_READY: "NOT_READY", STORAGE_FAILED: "STORAGE_FAILED", SHUTTING_DOWN: "SHUTTING_DOWN",
    BROKER_FULL: "BROKER_FULL", LIMIT_REACHED: "LIMIT_REACHED",
    PERMISSION_DENIED: "PERMISSION_DENIED", INTERNAL: "INTERNAL",
}

# Refusals that say "not now": the publisher retries them with backoff (same id).
RETRYABLE = frozenset({QUEUE_FULL, BROKER_FULL, STORAGE_FAILED, SHUTTING_DOWN})


class MandrillError(Exception):
    """Base of every error of this package. `code` is the protocol's error code (0 for errors
    raised by the client itself), `reason` the broker's text."""

    code = 0

    def __init__(self, reason: str = "", *, code: int | None = None, queue: str = "",
                 ids=()):
        super().__init__(reason)
        if code is not None:
            self.code = code
        self.reason = reason
        self.queue = queue
        self.ids = list(ids)

    def __str__(self):
        name = CODE_NAMES.get(self.code)
        return f"{self.reason} ({name})" if name else self.reason


class ProtocolError(MandrillError):
    """A frame could not be understood (MALFORMED, UNSUPPORTED_VERSION, UNKNOWN_COMMAND,
    UNEXPECTED_COMMAND), by the broker or by this client."""

    code = MALFORMED


class TooLarge(MandrillError):
    """A limit was exceeded: payload plus headers over --max-payload-bytes, a string, a batch."""

    code = TOO_LARGE


class InvalidArgument(MandrillError):
    """Well-formed but meaningless: a bad queue name or message id, READY with no queues."""

    code = INVALID_ARGUMENT


class QueueFull(MandrillError):
    """The queue is at its depth limit (retried internally until the publish deadline)."""

    code = QUEUE_FULL


class UnknownQueue(MandrillError):
    code = UNKNOWN_QUEUE


class LeaseLost(MandrillError, asyncio.CancelledError):
    """The message's lease is gone (expired, the broker restarted or declared this worker dead):
    it is delivered again. Raised into a running handler at its current await; re-raise it
    (or return): nothing is settled for that delivery.

    It is also an asyncio.CancelledError, because it is how the handler's task is cancelled:
    asyncio's own constructs then pass the cancellation on as they should (wait_for cancels
    what it waits for, a TaskGroup in the handler cancels its children)."""

    code = LEASE_LOST


class NotReady(MandrillError):
    code = NOT_READY


class StorageFailed(MandrillError):
    """The broker could not make the message durable: not accepted (retried internally)."""

    code = STORAGE_FAILED


class ShuttingDown(MandrillError):
    """The broker is stopping (retried internally until the publish deadline)."""

    code = SHUTTING_DOWN


class BrokerFull(MandrillError):
    """The broker's --max-memory is spent (retried internally until the publish deadline)."""

    code = BROKER_FULL


class LimitReached(MandrillError):
    """A broker-wide bound (--max-queues, --max-peers) refuses the request."""

    code = LIMIT_REACHED


class PermissionDenied(MandrillError):
    """The client's CURVE key does not allow this (docs/security.md). Not retried."""

    code = PERMISSION_DENIED


class InternalError(MandrillError):
    """A broker bug (INTERNAL): logged and counted by the broker."""

    code = INTERNAL


class PublishTimeout(MandrillError, TimeoutError):
    """No confirm within the publisher's `timeout` (and no refusal to report instead)."""


class ClosedError(MandrillError):
    """The publisher or consumer was closed before the operation completed."""


class ConfigurationError(MandrillError, ValueError):
    """Bad client configuration: a key file, a cell map, an endpoint, conflicting arguments."""


_BY_CODE = {
    MALFORMED: ProtocolError, UNSUPPORTED_VERSION: ProtocolError,
    UNKNOWN_COMMAND: ProtocolError, UNEXPECTED_COMMAND: ProtocolError,
    TOO_LARGE: TooLarge, INVALID_ARGUMENT: InvalidArgument, QUEUE_FULL: QueueFull,
    UNKNOWN_QUEUE: UnknownQueue, LEASE_LOST: LeaseLost, NOT_READY: NotReady,
    STORAGE_FAILED: StorageFailed, SHUTTING_DOWN: ShuttingDown, BROKER_FULL: BrokerFull,
    LIMIT_REACHED: LimitReached, PERMISSION_DENIED: PermissionDenied, INTERNAL: InternalError,
}


def from_code(code: int, reason: str, *, queue: str = "", ids=()) -> MandrillError:
    """The typed error for an ERROR frame's code (MandrillError for a code this client does not
    know)."""
    cls = _BY_CODE.get(code, MandrillError)
    return cls(reason, code=code, queue=queue, ids=ids)
