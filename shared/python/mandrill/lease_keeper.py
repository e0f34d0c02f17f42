"""Keeping leases: extending the leases of running handlers before they expire, taking in the
broker's EXTENDED answers, and giving up a lease the broker says is gone (its handler is
cancelled and sees LeaseLost; nothing is settled for it).

A mixin of the Consumer (``LeaseKeeping``): the keeper task and the lost-lease bookkeeping
read the sessions' in-flight messages directly, so no extra layer sits between a delivery and
its lease. Extensions go out through the session's settlement batches (settlement.py).
"""
from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("mandrill.consumer")


class LeaseKeeping:
    """Mixin of the Consumer; uses its ``_loop``, ``_sessions``, ``counters`` and
    ``_schedule_flush``."""

    async def _keep_leases(self):
        """Extends the leases of running handlers about a third of the lease before their
        deadline: every pass takes the ones due within the next sixth of a lease, so many leave
        in one EXTEND frame."""
        loop = self._loop
        while True:
            shortest = min(s.lease_ms for s in self._sessions) / 1000.0
            await asyncio.sleep(min(0.5, max(0.02, shortest / 6)))
            now = loop.time()
            due = False
            for s in self._sessions:
                if not s.in_flight:
                    continue
                dur = s.lease_ms / 1000.0
                horizon = now + dur / 6
                leases = None
                for m in s.in_flight.values():
                    if m._extend_at <= horizon and not m._settled:
                        if leases is None:
                            leases = s.extends.setdefault(s.lease_ms, [])
                        leases.append(m.lease_id)
                        # Until EXTENDED says better: as if the full duration was granted.
                        m._extend_at = now + dur * 2 / 3
                        due = True
            if due:
                self._schedule_flush()

    def _on_extended(self, s, items):
        now = self._loop.time()
        wall = time.time()
        dur = s.lease_ms / 1000.0
        for lease, left_ms in items:
            m = s.in_flight.get(lease)
            if m is None or m._settled:
                continue
            left = left_ms / 1000.0
            m.deadline_unix_ms = int((wall + left) * 1000)
            if left + 0.001 < dur:
                # The broker's max lease stopped the extension: ask again at the deadline itself,
                # which it answers "lease lost", which cancels the handler.
                if not m._capped:
                    m._capped = True
                    log.warning("message %s reached the broker's max lease: its lease ends in "
                                "%.0f ms", m.id, left * 1000)
                m._extend_at = now + left
            else:
                m._extend_at = now + left - dur / 3

    def _mark_lost(self, m, why):
        if m._lost or m._settled:
            return
        m._lost = True
        m._lost_why = why
        self.counters["lease_lost"] += 1
        m._session.in_flight.pop(m.lease_id, None)
        log.warning("lease %s of message %s (attempt %d) lost: %s; cancelling its handler (the "
                    "broker delivers the message again)", m.lease_id, m.id, m.attempt, why)
        t = m._task
        if t is not None and not t.done():
            t.cancel()

    def _mark_all_lost(self, s, why):
        for m in list(s.in_flight.values()):
            self._mark_lost(m, why)
        s.in_flight.clear()


__all__ = ["LeaseKeeping"]
