"""The publisher's clock: every 0.1 s it sends again what is unconfirmed after
`confirm_timeout` (same id: the broker deduplicates it), takes messages out of backoff, fails
what passed its `timeout` (with the last retryable refusal, else PublishTimeout), watches the
cells for failover, and pokes links that were blocked.

A mixin of the Publisher (``Timers``) rather than a timer per message: one task and a few
ordered queues (``_deadlines``, ``_backoffs``, ``_admitted``) serve any number of messages.
"""
from __future__ import annotations

import asyncio
import heapq
import logging

from . import errors
from .errors import PublishTimeout
from .publish_records import BACKOFF, DONE, IN_FLIGHT

log = logging.getLogger("mandrill.publisher")

_TICK = 0.1


class Timers:
    """Mixin of the Publisher; uses its ``_deadlines``, ``_backoffs``, ``_admitted``, ``_cells``,
    ``_enqueue``, ``_fail``, ``_watch_cells`` and ``_schedule_flush``."""

    async def _tick_loop(self):
        while not self._closed:
            await asyncio.sleep(_TICK)
            try:
                self._tick()
            except Exception:  # a bug must not silently stop retries and deadlines
                log.exception("publisher timer failed")

    def _tick(self):
        now = self._loop.time()
        requeued = False
        deadlines = self._deadlines
        while deadlines:
            at, serial, batch = deadlines[0]
            if at > now:
                # Not due: drop it anyway once nothing of its frame is still in flight from that
                # send, so the records hold about one window of messages rather than one
                # confirm-timeout of traffic (confirms arrive in send order, mostly).
                if any(e.state == IN_FLIGHT and e.serial == serial for e in batch):
                    break
                deadlines.popleft()
                continue
            deadlines.popleft()
            for e in batch:
                if e.state == IN_FLIGHT and e.serial == serial:
                    self._enqueue(e, e.hop)  # same cell unless it is down now
                    requeued = True
        backoffs = self._backoffs
        while backoffs and backoffs[0][0] <= now:
            _, _, e = heapq.heappop(backoffs)
            if e.state == BACKOFF:
                self._enqueue(e, 0)  # every cell refused it: start again at its first choice
                requeued = True
        admitted = self._admitted
        while admitted:
            e = admitted[0]
            if e.state == DONE:
                admitted.popleft()
                continue
            if e.give_up_at > now:
                break
            admitted.popleft()
            if e.error is not None:
                code, reason = e.error
                exc = errors.from_code(code, reason, queue=e.item[0], ids=[e.item[1]])
            else:
                exc = PublishTimeout(f"message {e.item[1]} was not confirmed within "
                                     f"{self.timeout:g} s (broker {self.targets.describe()})")
            self._fail(e, exc)
        if len(self._cells) > 1:
            self._watch_cells(now)
        for c in self._cells:
            if c.link.blocked:
                c.link.poke()  # a safety net: the fd's edge for POLLOUT is not relied on alone
        if requeued or any(c.queue for c in self._cells):
            self._schedule_flush()


__all__ = ["Timers"]
