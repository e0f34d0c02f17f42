"""The publisher's record of every unsettled message and the window that bounds them.

Each publish() is one Entry (the PUBLISH item as sent, the caller's future, its state and
cell, its retry bookkeeping). ``Records`` (a mixin of the Publisher, whose ``_pending``,
``_unsettled`` and ``_room`` it keeps) admits callers FIFO when the window is full, settles
entries (a CONFIRM resolves a whole frame's futures at once; a failure or a cancel drops one)
and hands freed room to the next waiter. Keeping the bookkeeping here and the sockets
elsewhere (cell_link.py) is what lets a confirm, a timeout and a cancel all settle through
the same few lines.
"""
from __future__ import annotations

import asyncio

QUEUED, IN_FLIGHT, BACKOFF, DONE = range(4)
BACKOFF_INITIAL = 0.05
BACKOFF_MAX = 2.0


class Entry:
    """One unsettled message."""

    __slots__ = ("item", "fut", "state", "cell", "hop", "refusals", "serial", "give_up_at",
                 "backoff", "error")

    def __init__(self, item, fut, give_up_at):
        self.item = item  # [queue, id, payload, headers]: the PUBLISH item as sent
        self.fut = fut
        self.state = QUEUED
        self.cell = 0
        self.hop = 0          # position in the id's cell order
        self.refusals = 0     # retryable refusals since it last started at its first cell
        self.serial = 0       # the frame that last carried it
        self.give_up_at = give_up_at
        self.backoff = BACKOFF_INITIAL
        self.error = None     # the last retryable refusal: raised if the deadline passes


class Records:
    """Mixin of the Publisher; uses its ``window``, ``_loop``, ``_pending``, ``_unsettled``,
    ``_room``, ``_idle`` and ``counters``."""

    async def _wait_for_room(self):
        fut = self._loop.create_future()
        self._room.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(1)  # a slot was handed to us just before the cancel
            else:
                try:
                    self._room.remove(fut)
                except ValueError:
                    pass
            raise

    def _release(self, n):
        self._unsettled -= n
        room = self._room
        while room and self._unsettled < self.window:
            w = room.popleft()
            if w.done():
                continue
            self._unsettled += 1
            w.set_result(None)
        if self._unsettled == 0 and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _drop(self, e):
        """The caller gave up on the message (cancelled): stop tracking it. It may still be
        stored by the broker."""
        e.state = DONE
        queue, id = e.item[0], e.item[1]
        pend = self._pending.get(queue)
        if pend is not None and pend.get(id) is e:
            del pend[id]
            if not pend:
                del self._pending[queue]
        self._release(1)

    def _fail(self, e, exc):
        if e.state == DONE:
            return
        self._drop(e)
        if not e.fut.done():
            e.fut.set_exception(exc)

    def _entries(self):
        for pend in self._pending.values():
            yield from pend.values()

    def _on_confirm(self, queue, ids):
        pend = self._pending.get(queue)
        if pend is None:
            return
        pop = pend.pop
        n = 0
        for id in ids:
            e = pop(id, None)
            if e is None:
                continue
            e.state = DONE
            fut = e.fut
            if not fut.done():
                fut.set_result(None)
            n += 1
        if not pend:
            del self._pending[queue]
        if n:
            self.counters["confirmed"] += n
            self._release(n)


__all__ = ["QUEUED", "IN_FLIGHT", "BACKOFF", "DONE", "BACKOFF_INITIAL", "BACKOFF_MAX", "Entry",
           "Records"]
