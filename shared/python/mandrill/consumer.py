"""The asyncio consumer: leases messages, runs ``await handler(msg)`` on each in a supervised
task, keeps each lease alive while its handler runs, acks on return and nacks (with a retry
delay) on an exception, and drains cleanly on stop() / SIGTERM.

Design (the lessons of asyncio + ZeroMQ, taken from mandrill-worker, docs/handlers.md):

- ONE reader task per broker owns its socket. It never leaves a receive pending (the socket is
  read with NOBLOCK after a readiness wait, transport.Link), so nothing is ever cancelled in the
  middle of a receive and no message can be lost that way; it is stopped by a flag, never by
  cancellation. The same task sends READY on every handshake, heartbeats when idle, and
  re-creates the socket after 3 silent heartbeat intervals (READY again, same instance token,
  so the broker resumes the session and its leases).
- Every delivery's handler runs as its own task in one asyncio.TaskGroup (supervised and
  retained: no task can be garbage-collected or leak past run()).
- A lease keeper extends the leases of running handlers about a third of the lease before
  their deadline, many leases per EXTEND frame.
- ACKs, NACKs and EXTENDs collected during one event-loop pass leave as one frame each.
- When a lease is lost (LEASE_LOST, the broker restarted: a new broker_id in WELCOME, or it
  no longer knows this worker: NOT_READY), the handler's task is cancelled and the handler sees
  ``LeaseLost`` raised at its current await (not a bare CancelledError); nothing is settled
  for that delivery (the broker delivers it again).
- stop() (or SIGTERM/SIGINT with install_signal_handlers=True): CREDIT 0; running handlers
  get `grace` seconds to finish (and are acked or nacked as usual); the rest are cancelled
  (CancelledError) and nacked with delay 0; deliveries that still arrive are nacked at once;
  the broker is asked to confirm it processed the last settlements (a STATS round trip);
  DISCONNECT; run() returns. A second stop() cancels what is running at once.

This module holds the Consumer itself: configuration, run() and the dispatch of deliveries to
handler tasks. Its other concerns are one module each: message.py (the delivery record and
LeaseGuard), consumer_session.py (one broker's connection and reader), settlement.py (ACK/NACK
batching, retry delay), lease_keeper.py (extensions and lost leases), drain.py (stop()).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from . import errors
from .cells import resolve_targets, split_credit
from .consumer_session import Session
from .drain import Draining
from .errors import LeaseLost
from .lease_keeper import LeaseKeeping
from .message import LeaseGuard, Message
from .settlement import SHUTDOWN_REASON, Settling, retry_delay_ms

log = logging.getLogger("mandrill.consumer")


class Consumer(Draining, Settling, LeaseKeeping):
    """Consumes `queues` from one broker (``broker=``) or every cell of a cell map
    (``cells=``), running ``await handler(msg)`` for each message; see the module docstring.
    """

    def __init__(self, broker=None, *, cells=None, queues, handler, concurrency=16, grace=30.0,
                 retry_initial=0.5, retry_max=60.0, key=None, broker_key=None, name=None,
                 heartbeat_ms=1000, reconnect_max=5.0, install_signal_handlers=False,
                 context=None):
        if isinstance(queues, str):
            queues = [q for q in queues.split(",") if q]
        if not queues:
            raise errors.ConfigurationError("queues: name at least one queue to consume")
        if concurrency < 1:
            raise errors.ConfigurationError("concurrency must be at least 1")
        self.targets = resolve_targets(broker, cells, key, broker_key)
        self.queues = list(queues)
        self.handler = handler
        self.concurrency = int(concurrency)
        self.grace = grace
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.heartbeat_ms = heartbeat_ms
        self.reconnect_max = reconnect_max
        self.install_signal_handlers = install_signal_handlers
        self._context = context
        self._loop = None
        self._sessions = []
        self._tg = None
        self._tasks = set()        # handler tasks running
        self._stopping = False
        self._stop_calls = 0
        self._drain_grace = grace
        self._stop_event = None
        self._idle = None          # future: set when no handler runs (or on a second stop)
        self._fatal = None
        self._flush_scheduled = False
        self._running = False
        self.counters = dict(received=0, acked=0, nacked_error=0, nacked_shutdown=0,
                             lease_lost=0, lost_after_settle=0, acks_sent=0, extends_sent=0,
                             reconnects=0, errors=0)

    # -- public ------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return sum(len(s.in_flight) for s in self._sessions)

    async def run(self):
        """Consumes until stop(); then drains and returns. Raises the broker's refusal if it
        will not have this worker (InvalidArgument for a bad queue name, PermissionDenied)."""
        if self._running:
            raise RuntimeError("Consumer.run() is already running")
        self._running = True
        loop = self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if self._stop_calls:
            self._stop_event.set()
        n = len(self.targets.brokers)
        self._sessions = [
            Session(self, i, t, self.concurrency // n + (1 if i < self.concurrency % n else 0))
            for i, t in enumerate(self.targets.brokers)]
        installed = []
        if self.install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                for s in self._sessions:
                    s.task = tg.create_task(s.run(), name=f"mandrill-reader-{s.name}")
                keeper = tg.create_task(self._keep_leases(), name="mandrill-lease-keeper")
                await self._stop_event.wait()
                await self._drain()
                keeper.cancel()  # it only sleeps between passes: cancelling it loses nothing
                await asyncio.gather(*(s.close() for s in self._sessions))
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            for s in self._sessions:
                s.link.close()  # already closed unless run() was cancelled: let nacks leave
            self._running = False
            self._stopping = False
            self._stop_calls = 0  # a later run() starts afresh
        fatal, self._fatal = self._fatal, None
        c = self.counters
        log.info("consumer %s stopped: received %d, acked %d, nacked %d (error %d, shutdown %d), "
                 "lease lost %d", self.name, c["received"], c["acked"],
                 c["nacked_error"] + c["nacked_shutdown"], c["nacked_error"],
                 c["nacked_shutdown"], c["lease_lost"])
        if fatal is not None:
            raise fatal

    # -- internals ---------------------------------------------------------------------------

    def _fatal_error(self, exc):
        if self._fatal is None:
            self._fatal = exc
            log.error("consumer stops: %s", exc)
        self.stop(0)

    def _rebalance(self):
        if len(self._sessions) < 2:
            return
        loads = [(s.welcomed, s.ready_depth, len(s.in_flight)) for s in self._sessions]
        for s, credit in zip(self._sessions, split_credit(self.concurrency, loads)):
            if credit != s.credit_wanted:
                s.credit_wanted = credit
                self._schedule_flush()

    def _on_deliver(self, s, items):
        loop = self._loop
        now = loop.time()
        in_flight = s.in_flight
        counters = self.counters
        counters["received"] += len(items)
        dur = s.lease_ms / 1000.0
        create = self._tg.create_task
        tasks = self._tasks
        run = self._run_message
        for it in items:
            lease_id = it[0]
            if self._stopping:
                s.nacks.append([lease_id, 0, SHUTDOWN_REASON])
                counters["nacked_shutdown"] += 1
                self._schedule_flush()
                continue
            if lease_id in in_flight:
                counters["errors"] += 1
                log.error("lease %s (message %s) delivered twice; ignoring the second delivery",
                          lease_id, it[1])
                continue
            lease_ms = it[5]
            m = Message(s, lease_id, it[1], it[2], it[3], it[4], lease_ms, it[6],
                        it[7] if len(it) > 7 else None, now)
            m._extend_at = now + (lease_ms / 1000.0 if lease_ms else dur) - dur / 3
            in_flight[lease_id] = m
            try:
                task = create(LeaseGuard(run(m), m))
            except RuntimeError:  # the task group is shutting down (run() was cancelled)
                del in_flight[lease_id]
                s.nacks.append([lease_id, 0, SHUTDOWN_REASON])
                self._schedule_flush()
                continue
            m._task = task
            tasks.add(task)

    async def _run_message(self, m):
        try:
            try:
                await self.handler(m)
            except LeaseLost as e:
                if not m._lost:
                    self._nack(m, e)
            except asyncio.CancelledError:
                if m._lost:
                    pass
                elif m._shutdown:
                    self._nack(m, None)
                else:  # not ours (run() itself was cancelled): settle, then let it propagate
                    self._nack(m, None)
                    raise
            except Exception as e:
                self._nack(m, e)
            else:
                self._ack(m)
        finally:
            self._tasks.discard(m._task)
            m._task = None  # no task <-> message cycle: both are freed as soon as it ends
            if not self._tasks and self._idle is not None and not self._idle.done():
                self._idle.set_result(None)


__all__ = ["Consumer", "Message", "retry_delay_ms", "SHUTDOWN_REASON"]
