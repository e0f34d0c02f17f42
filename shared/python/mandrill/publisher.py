"""The asyncio publisher: ``await pub.publish(queue, payload)`` returns once the broker has
confirmed the message (made it durable under its storage policy).

How it works (the C++ mandrill-publish's design, publisher/confirm_tracker.h, in asyncio):

- Every publish() becomes one entry with one future; no task is created per message. The
  entry goes into its cell's send queue and a flush is scheduled for the end of the current
  event-loop pass, so however many coroutines publish in one pass, their messages leave in
  as few PUBLISH frames as the batch limits allow.
- At most `window` messages are unconfirmed at once; publish() waits (FIFO) for room.
- A reader task per broker drains its socket (never with a receive left pending) and resolves
  the futures of a whole CONFIRM frame at once.
- A message unconfirmed after `confirm_timeout`, or in flight on a connection that dropped,
  is sent again with the same id (the broker deduplicates it). QUEUE_FULL, BROKER_FULL,
  STORAGE_FAILED and SHUTTING_DOWN are retried with exponential backoff (per message, 50 ms
  doubling to 2 s); publish() raises the last of them (or PublishTimeout) once `timeout` has
  passed without a confirm. Other refusals raise at once (PermissionDenied, InvalidArgument,
  TooLarge, LimitReached, ...).
- With a cell map, each id goes to its rendezvous cell (cells.Rendezvous: the same cell as
  mandrill-publish picks); a cell that refuses for now passes the message on to the id's next
  cell at once, and a cell unreachable for `cell_failover` seconds is skipped until it is back
  (its messages move on: a failover can duplicate a message the cell had already stored).

This module holds the Publisher itself: configuration, connect/close, publish(). Its other
concerns are one module each, mixed into it: publish_records.py (entries, the window,
confirms), cell_link.py (one cell's socket, batching, the reader), failover.py (rendezvous
routing, cells going down), refused_frames.py (frames a broker refuses whole), publish_timers.py
(resends, backoff, give-ups).
"""
from __future__ import annotations

import asyncio
import itertools
import os
from collections import deque

from . import protocol
from .cell_link import CellLink, CellLinks
from .cells import Rendezvous, resolve_targets
from .errors import ClosedError, MandrillError
from .failover import Failover
from .publish_records import DONE, Entry, Records
from .publish_timers import Timers
from .refused_frames import RefusedFrames
from .transport import Link


def _check_headers(headers):
    if not isinstance(headers, dict):
        raise TypeError(f"headers must be a dict of str to str, not {type(headers).__name__}")
    for k, v in headers.items():
        if type(k) is not str or type(v) is not str:
            raise TypeError("headers must map str to str")


class Publisher(Records, CellLinks, Failover, RefusedFrames, Timers):
    """Use ``await Publisher.connect(...)``; see the module docstring for the semantics."""

    def __init__(self, targets, *, window=1000, timeout=60.0, confirm_timeout=5.0, batch=1000,
                 batch_bytes=1 << 20, cell_failover=2.0, context=None, id_prefix=None,
                 linger_ms=0, reconnect_max=5.0):
        if window < 1:
            raise ValueError("window must be at least 1")
        self.targets = targets
        self.window = window
        self.timeout = timeout
        self.confirm_timeout = confirm_timeout
        # Several frames in flight keep the pipe full while the broker confirms earlier ones.
        self.batch = max(1, min(batch, protocol.MAX_BATCH, max(1, window // 4)))
        self.batch_bytes = batch_bytes
        self.cell_failover = cell_failover
        self.reconnect_max = reconnect_max
        prefix = id_prefix if id_prefix is not None else "py-" + os.urandom(6).hex()
        self._prefix = prefix + "-"
        self._seq = 0
        self._loop = None
        self._context = context
        self._linger_ms = linger_ms
        self._cells = []
        self._rv = Rendezvous([t.name for t in targets.brokers])
        self._pending = {}        # queue -> {id -> entry}: every unsettled message
        self._unsettled = 0       # entries counted against the window (incl. reservations)
        self._room = deque()      # futures of publish() calls waiting for window room
        self._deadlines = deque()  # (confirm deadline, serial, [entries]) in send order
        self._admitted = deque()  # entries in admission order (give-up deadlines)
        self._backoffs = []       # heap of (at, n, entry)
        self._serials = itertools.count(1)
        self._request_ids = itertools.count(int.from_bytes(os.urandom(4), "big") << 24)
        self._flush_scheduled = False
        self._closing = False
        self._closed = False
        self._ticker = None
        self._idle = None
        self.counters = dict(published=0, confirmed=0, refused=0, retried=0, moved=0,
                             refused_for_now=0)

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def connect(cls, broker=None, *, cells=None, key=None, broker_key=None, window=1000,
                      timeout=60.0, confirm_timeout=5.0, batch=1000, batch_bytes=1 << 20,
                      cell_failover=2.0, context=None, id_prefix=None, reconnect_max=5.0):
        """A publisher to one broker (``broker="tcp://host:port"``, CURVE with ``key`` and
        ``broker_key`` files) or to the cells of a cell map (``cells="path"``, CURVE with
        ``key``). Returns at once: messages published before a broker is reachable wait for it
        (until `timeout`). `timeout` (seconds, None: forever) bounds each publish();
        `confirm_timeout` is when an unconfirmed message is sent again (same id);
        `reconnect_max` caps ZeroMQ's re-dial backoff (seconds)."""
        targets = resolve_targets(broker, cells, key, broker_key)
        pub = cls(targets, window=window, timeout=timeout, confirm_timeout=confirm_timeout,
                  batch=batch, batch_bytes=batch_bytes, cell_failover=cell_failover,
                  context=context, id_prefix=id_prefix, reconnect_max=reconnect_max)
        pub._start()
        return pub

    def _start(self):
        self._loop = asyncio.get_running_loop()
        multi = len(self.targets.brokers) > 1
        reconnect_max_ms = int(self.reconnect_max * 1000)
        if multi:
            reconnect_max_ms = min(reconnect_max_ms, 500)
        try:
            for i, target in enumerate(self.targets.brokers):
                # With cells, re-dial a cell that went away at most 500 ms apart, so a restarted
                # cell takes its own messages again soon after it is back (as mandrill-publish).
                link = Link(target, self.targets.own_key, context=self._context,
                            reconnect_max_ms=reconnect_max_ms, linger_ms=self._linger_ms,
                            on_writable=self._schedule_flush)
                link.open()
                cell = CellLink(i, link)
                cell.unwritable_since = self._loop.time()
                self._cells.append(cell)
        except BaseException:
            for c in self._cells:
                c.link.close(0)
            raise
        for c in self._cells:
            c.reader = self._loop.create_task(self._reader(c), name=f"mandrill-pub-{c.link.target.name}")
        self._ticker = self._loop.create_task(self._tick_loop(), name="mandrill-pub-ticker")

    async def close(self, grace: float = 5.0):
        """Stops publishing: waits up to `grace` seconds for outstanding confirms, fails what is
        still unconfirmed with ClosedError, and closes the sockets."""
        if self._closed:
            return
        self._closing = True
        if self._unsettled > 0 and grace > 0:
            self._idle = self._loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._idle), grace)
            except asyncio.TimeoutError:
                pass
        self._closed = True
        for w in self._room:
            if not w.done():
                w.set_exception(ClosedError("the publisher was closed"))
        self._room.clear()
        for pend in list(self._pending.values()):
            for e in list(pend.values()):
                self._fail(e, ClosedError("the publisher was closed before the broker confirmed "
                                          f"message {e.item[1]}"))
        tasks = [c.reader for c in self._cells if c.reader] + [self._ticker]
        for c in self._cells:
            c.link.interrupt()
        self._ticker.cancel()  # sleeps only; cancelling it loses nothing
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in self._cells:
            c.link.close(0)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    # -- publishing --------------------------------------------------------------------------

    @property
    def unconfirmed(self) -> int:
        return self._unsettled

    async def publish(self, queue: str, payload: bytes, id: str | None = None,
                      headers: dict | None = None) -> str:
        """Publishes one message and returns its id once the broker confirmed it. Raises a
        MandrillError subclass if the broker refuses it, PublishTimeout after `timeout`."""
        if self._closing:
            raise ClosedError("the publisher is closed")
        if type(payload) is not bytes:
            if isinstance(payload, (bytearray, memoryview)):
                payload = bytes(payload)
            else:
                raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
        if id is None:
            self._seq += 1
            id = self._prefix + str(self._seq)
        elif type(id) is not str:
            raise TypeError(f"id must be str, not {type(id).__name__}")
        if type(queue) is not str:
            raise TypeError(f"queue must be str, not {type(queue).__name__}")
        if headers is not None:
            _check_headers(headers)
        pend = self._pending.get(queue)
        if pend is None:
            pend = self._pending[queue] = {}
        elif id in pend:
            return await self._join(queue, id, payload, headers)
        if self._unsettled >= self.window or self._room:
            await self._wait_for_room()  # returns with a slot reserved for this call
            pend = self._pending.get(queue)
            if pend is None:
                pend = self._pending[queue] = {}
            elif id in pend:
                self._release(1)
                return await self._join(queue, id, payload, headers)
        else:
            self._unsettled += 1
        loop = self._loop
        timeout = self.timeout
        e = Entry([queue, id, payload, headers], loop.create_future(),
                   loop.time() + timeout if timeout is not None else None)
        pend[id] = e
        if timeout is not None:
            self._admitted.append(e)
        if len(self._cells) == 1:
            self._cells[0].queue.append(e)
        else:
            self._enqueue(e, 0)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        try:
            await e.fut
        except asyncio.CancelledError:
            if e.state != DONE:
                self._drop(e)
            raise
        return id

    async def publish_many(self, queue: str, payloads, headers: dict | None = None):
        """Publishes every payload (ids generated) and returns their ids once all are
        confirmed; the first refusal is raised after every message has settled."""
        results = await asyncio.gather(
            *(self.publish(queue, p, headers=headers) for p in payloads), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results

    async def _join(self, queue, id, payload, headers):
        """The same (queue, id) is already outstanding: its confirm answers this call too."""
        e = self._pending.get(queue, {}).get(id)
        if e is not None:
            try:
                await asyncio.shield(e.fut)
                return id
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # The first caller was cancelled: this one carries on with the message.
        return await self.publish(queue, payload, id, headers)


__all__ = ["Publisher", "MandrillError"]
