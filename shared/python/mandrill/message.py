"""A consumer's delivery: the Message a handler receives, and the wrapper that makes a lost
lease reach the handler as LeaseLost.

They live together because a Message's lease state (_lost, _raised) is exactly what the
wrapper reads when the task is cancelled: the record and the one way it is torn down. The
consumer (consumer.py) creates both for each delivery; nothing here talks to a broker.
"""
from __future__ import annotations

import asyncio
import collections.abc

from .errors import LeaseLost


class Message:
    """One delivery. `payload` is bytes; `attempt` is 1 on the first delivery; `headers` a
    dict (possibly empty); `lease_deadline` the lease's deadline as Unix time in seconds (moved
    on by every extension)."""

    __slots__ = ("id", "queue", "payload", "attempt", "headers", "lease_id", "lease_ms",
                 "deadline_unix_ms", "_session", "_task", "_extend_at", "_started", "_lost",
                 "_lost_why", "_raised", "_settled", "_shutdown", "_capped")

    def __init__(self, session, lease_id, id, queue, payload, attempt, lease_ms, deadline_ms,
                 headers, now):
        self.id = id
        self.queue = queue
        self.payload = payload
        self.attempt = attempt
        self.headers = headers if headers is not None else {}
        self.lease_id = lease_id
        self.lease_ms = lease_ms
        self.deadline_unix_ms = deadline_ms
        self._session = session
        self._task = None
        self._extend_at = 0.0
        self._started = now
        self._lost = False
        self._lost_why = ""
        self._raised = False
        self._settled = False
        self._shutdown = False
        self._capped = False

    @property
    def lease_deadline(self) -> float:
        return self.deadline_unix_ms / 1000.0

    @property
    def lease_lost(self) -> bool:
        return self._lost

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return (f"Message(id={self.id!r}, queue={self.queue!r}, attempt={self.attempt}, "
                f"payload={self.payload[:40]!r}{'...' if len(self.payload) > 40 else ''})")


class LeaseGuard(collections.abc.Coroutine):
    """Wraps a message task's coroutine so that the cancellation that stops a handler whose
    lease was lost arrives in it as LeaseLost. asyncio.Task delivers a cancellation by calling
    its coroutine's throw(CancelledError); this one throws LeaseLost instead (once) and undoes
    the task's cancel count, so the handler's own timeouts and task groups stay consistent."""

    __slots__ = ("_coro", "_msg")

    def __init__(self, coro, msg):
        self._coro = coro
        self._msg = msg

    def send(self, value):
        return self._coro.send(value)

    def throw(self, typ, val=None, tb=None):
        exc = typ if val is None else val
        if isinstance(exc, type):
            exc = exc()
        m = self._msg
        if m._lost and not m._raised and isinstance(exc, asyncio.CancelledError):
            m._raised = True  # LeaseLost is raised once; a later cancel is a plain one
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            exc = LeaseLost(f"lease of message {m.id} (attempt {m.attempt}) lost: {m._lost_why}",
                            queue=m.queue, ids=[m.id])
        return self._coro.throw(exc)

    def close(self):
        return self._coro.close()

    def __await__(self):  # pragma: no cover - tasks drive it through send/throw
        return self._coro.__await__()


__all__ = ["Message", "LeaseGuard"]
