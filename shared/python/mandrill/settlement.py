"""Settling deliveries: how a handler's outcome becomes ACK or NACK, and how the ACKs, NACKs and
EXTENDs collected during one event-loop pass leave as one frame each (per broker, in chunks of
the broker's max batch).

Two halves of one concept, as mixins because both work on state their owners hold:
``Settling`` (mixed into the Consumer) turns an outcome into a pending command on the
message's session and schedules one flush per loop pass; ``SettlementBatches`` (mixed into
each broker session) holds those pending commands and sends them when the session is
welcomed, keeping what cannot be sent yet. retry_delay_ms() is the nack's backoff.
"""
from __future__ import annotations

import logging

from . import protocol

log = logging.getLogger("mandrill.consumer")

SHUTDOWN_REASON = "worker shutting down"
_MAX_REASON = 1000


def retry_delay_ms(attempt: int, initial: float, maximum: float) -> int:
    """initial * 2^(attempt-1), capped at maximum (seconds in, milliseconds out)."""
    ms = initial * 1000.0
    cap = maximum * 1000.0
    i = 1
    while i < attempt and ms < cap:
        ms *= 2
        i += 1
    return int(max(0.0, min(ms, cap, 4e9)))


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if len(text) > _MAX_REASON:
        text = text[:_MAX_REASON] + "..."
    return text


class SettlementBatches:
    """Mixin of a broker session (consumer_session.Session): its pending ``acks`` (lease ids),
    ``nacks`` ([lease_id, delay_ms, reason]) and ``extends`` (duration_ms -> [lease_id])."""

    def _init_batches(self):
        self.acks = []
        self.nacks = []
        self.extends = {}     # duration_ms -> [lease_id]

    def flush(self):
        """Sends what accumulated: credit, acks, nacks, extends (only once welcomed: before that
        they may concern a broker that restarted). What cannot be sent stays."""
        if not self.welcomed:
            return
        want = self.effective_credit()
        if want != self.credit_announced and self.send(protocol.CREDIT, [want]):
            self.credit_announced = want
        mb = self.max_batch
        while self.acks:
            chunk = self.acks[:mb]
            if not self.send(protocol.ACK, [chunk]):
                return
            del self.acks[:mb]
            self.c.counters["acks_sent"] += len(chunk)
        while self.nacks:
            chunk = self.nacks[:mb]
            if not self.send(protocol.NACK, [chunk]):
                return
            del self.nacks[:mb]
        for duration in list(self.extends):
            leases = self.extends[duration]
            while leases:
                chunk = leases[:mb]
                if not self.send(protocol.EXTEND, [duration, chunk]):
                    return
                del leases[:mb]
                self.c.counters["extends_sent"] += len(chunk)
            del self.extends[duration]

    def drop_lease_commands(self):
        n = len(self.acks) + len(self.nacks) + sum(len(v) for v in self.extends.values())
        self.acks.clear()
        self.nacks.clear()
        self.extends.clear()
        return n


class Settling:
    """Mixin of the Consumer: acks a handler that returned, nacks one that raised (or was
    cancelled by the drain), and flushes every session once per loop pass."""

    def _schedule_flush(self):
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        for s in self._sessions:
            s.flush()

    def _release(self, m):
        """True when the message's lease is still ours to settle (then it is forgotten)."""
        if m._lost:
            return False
        m._settled = True
        s = m._session
        if s.in_flight.pop(m.lease_id, None) is None:
            return False
        return True

    def _ack(self, m):
        if not self._release(m):
            return
        m._session.acks.append(m.lease_id)
        self.counters["acked"] += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _nack(self, m, exc):
        if not self._release(m):
            return
        if exc is None:
            delay, reason = 0, SHUTDOWN_REASON
            self.counters["nacked_shutdown"] += 1
        else:
            delay = retry_delay_ms(m.attempt, self.retry_initial, self.retry_max)
            reason = _reason(exc)
            self.counters["nacked_error"] += 1
            log.warning("message %s (queue %s, attempt %d) failed: %s; nack, retry in %d ms",
                        m.id, m.queue, m.attempt, reason, delay)
        m._session.nacks.append([m.lease_id, delay, reason])
        self._schedule_flush()


__all__ = ["SHUTDOWN_REASON", "retry_delay_ms", "SettlementBatches", "Settling"]
