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
"""
from __future__ import annotations

import asyncio
import collections.abc
import heapq
import logging
import os
import random
import signal
import socket
import time

from . import errors, protocol
from .cells import resolve_targets, split_credit
from .errors import LeaseLost
from .transport import EVENT_DISCONNECTED, EVENT_HANDSHAKE, Link

log = logging.getLogger("mandrill.consumer")

SHUTDOWN_REASON = "worker shutting down"
_MAX_REASON = 1000
_LIVENESS = 3
_READY_RETRY = 0.5


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


class _LeaseGuard(collections.abc.Coroutine):
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


class _Session:
    """The consumer's connection to one broker (one per cell)."""

    def __init__(self, consumer, index, target, credit):
        c = consumer
        self.c = c
        self.index = index
        self.name = target.name
        # A random base per socket so workers that lost the same broker do not re-dial together.
        self.link = Link(target, c.targets.own_key, context=c._context,
                         heartbeat_ms=c.heartbeat_ms, reconnect_ms=random.randint(100, 200),
                         reconnect_max_ms=int(c.reconnect_max * 1000), linger_ms=2000,
                         on_writable=c._schedule_flush)
        self.instance = os.urandom(16).hex()  # 128 bits: names this session across reconnects
        self.in_flight = {}   # lease_id -> Message, the leases this session holds
        self.acks = []
        self.nacks = []
        self.extends = {}     # duration_ms -> [lease_id]
        self.connected = False
        self.welcomed = False
        self.broker_id = ""
        self.epoch = 0
        self.heartbeat = c.heartbeat_ms / 1000.0
        self.lease_ms = 30_000
        self.max_batch = protocol.MAX_BATCH
        self.credit_wanted = credit
        self.credit_announced = None
        self.ready_credit = 0
        self.ready_depth = 0
        self.last_heard = self.last_sent = self.last_ready = self.last_report = 0.0
        self.reported_tasks = False
        self.reopen_at = None
        self.reconnects = 0
        self.finished = False
        self.sync_id = None
        self.sync_fut = None
        self.task = None

    # -- sending -----------------------------------------------------------------------------

    def send(self, command, fields) -> bool:
        if self.link.send(command, protocol.pack(fields)):
            self.last_sent = self.c._loop.time()
            return True
        return False

    def effective_credit(self):
        return 0 if self.c._stopping else self.credit_wanted

    def send_ready(self):
        self.last_ready = self.c._loop.time()
        credit = self.effective_credit()
        if self.send(protocol.READY, [self.c.name, self.c.queues, credit, self.instance]):
            self.ready_credit = credit
            log.debug("READY sent to %s (credit %d)", self.link.target.endpoint, credit)

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

    # -- the reader --------------------------------------------------------------------------

    async def run(self):
        try:
            await self._run()
        except Exception as e:  # a bug: stop the consumer rather than run deaf
            log.exception("reader of %s failed", self.name)
            self.c._fatal_error(e)

    async def _run(self):
        loop = self.c._loop
        link = self.link
        link.open()
        self.last_heard = loop.time()
        handle = self.handle
        while not self.finished:
            n = 0
            while n < 64:
                frames = link.recv()
                if frames is None:
                    break
                n += 1
                handle(frames)
            if n:
                self.last_heard = loop.time()
            for event in link.events():
                self.on_event(event)
            self.timers(loop.time())
            if n == 64:
                await asyncio.sleep(0)  # more waiting: let the handlers run in between
                continue
            await link.wait(self.heartbeat / 4)

    def on_event(self, event):
        now = self.c._loop.time()
        if event == EVENT_HANDSHAKE:
            self.connected = True
            self.welcomed = False
            self.last_heard = now
            log.info("connected to %s; announcing worker %s", self.link.target.endpoint,
                     self.c.name)
            self.send_ready()
        elif event == EVENT_DISCONNECTED:
            self.connected = False
            self.welcomed = False
            self.reconnects += 1
            self.c.counters["reconnects"] += 1
            log.warning("lost connection to broker %s; ZeroMQ re-dials it",
                        self.link.target.endpoint)
            self.c._rebalance()
            if self.sync_fut is not None and not self.sync_fut.done():
                self.sync_fut.set_result(False)

    def timers(self, now):
        if not self.link.is_open:
            if self.reopen_at is not None and now >= self.reopen_at:
                log.info("re-creating the connection to %s", self.link.target.endpoint)
                self.reopen_at = None
                self.link.open()
                self.last_heard = now
            return
        if self.link.blocked:
            self.link.poke()  # a safety net: the fd's edge for POLLOUT is not relied on alone
        if self.connected and not self.welcomed and now - self.last_ready > _READY_RETRY:
            self.send_ready()
        if self.welcomed and now - self.last_report >= self.heartbeat:
            self.last_report = now
            self.report_tasks(now)
        if self.connected and now - self.last_sent >= self.heartbeat:
            self.send(protocol.HEARTBEAT, [[], 0])
        if self.connected and now - self.last_heard > self.heartbeat * _LIVENESS:
            self.reconnects += 1
            self.c.counters["reconnects"] += 1
            ceiling = min(self.c.reconnect_max, 0.1 * 2 ** min(self.reconnects - 1, 16))
            delay = random.uniform(ceiling / 2, ceiling)
            log.warning("broker %s silent for %.0f ms; re-creating the connection in %.0f ms",
                        self.link.target.endpoint, (now - self.last_heard) * 1000, delay * 1000)
            self.link.close(0)
            self.connected = False
            self.welcomed = False
            self.reopen_at = now + delay
            self.c._rebalance()

    def report_tasks(self, now):
        """The handlers running now, longest first (at most 64), for mandrill-ctl top; an empty
        report once when the last one ended."""
        running = [m for m in self.in_flight.values() if not m._settled]
        if len(running) > protocol.MAX_TASK_REPORTS:
            running = heapq.nsmallest(protocol.MAX_TASK_REPORTS, running, key=lambda m: m._started)
        else:
            running.sort(key=lambda m: m._started)
        tasks = [[m.lease_id, int((now - m._started) * 1000)] for m in running]
        if (tasks or self.reported_tasks) and self.send(protocol.HEARTBEAT, [tasks, 0]):
            self.reported_tasks = bool(tasks)

    # -- frames ------------------------------------------------------------------------------

    def handle(self, frames):
        try:
            command, f = protocol.split(frames)
        except ValueError as e:
            self.c.counters["errors"] += 1
            log.error("undecodable frame from broker %s ignored: %s", self.name, e)
            return
        try:
            if command == protocol.DELIVER:
                self.c._on_deliver(self, f[0])
            elif command == protocol.EXTENDED:
                self.on_extended(f[0])
            elif command == protocol.WELCOME:
                self.on_welcome(f)
            elif command == protocol.ERROR:
                self.on_error(f)
            elif command == protocol.HEARTBEAT:
                ready = protocol.field(f, 1, 0) or 0
                if ready != self.ready_depth:
                    self.ready_depth = ready
                    self.c._rebalance()
            elif command == protocol.DISCONNECT:
                log.warning("broker %s said DISCONNECT (%s); will announce again when it is back",
                            self.name, protocol.field(f, 0, ""))
                self.welcomed = False
                self.c._rebalance()
            elif command == protocol.STATS_REPLY:
                if f[0] == self.sync_id and self.sync_fut is not None and not self.sync_fut.done():
                    self.sync_fut.set_result(True)
            else:
                log.warning("unexpected %s from broker ignored", protocol.command_name(command))
        except (IndexError, TypeError, ValueError, KeyError, AttributeError) as e:
            self.c.counters["errors"] += 1
            log.error("malformed %s from broker %s ignored: %r", protocol.command_name(command),
                      self.name, e)

    def on_welcome(self, f):
        broker_id, heartbeat_ms, lease_ms = f[0], f[1], f[2]
        self.welcomed = True
        self.reconnects = 0
        if heartbeat_ms:
            self.heartbeat = heartbeat_ms / 1000.0
        if lease_ms:
            self.lease_ms = lease_ms
        max_batch = protocol.field(f, 6, 0)
        self.max_batch = max_batch or protocol.MAX_BATCH
        self.epoch = protocol.field(f, 7, 0)
        self.credit_announced = self.ready_credit
        if self.broker_id and broker_id != self.broker_id:
            dropped = self.drop_lease_commands()
            log.warning("broker %s restarted (%s -> %s): every lease held before is gone%s",
                        self.name, self.broker_id, broker_id,
                        f"; dropped {dropped} unsent commands for its leases" if dropped else "")
            self.broker_id = broker_id
            self.c._mark_all_lost(self, "the broker restarted")
        else:
            self.broker_id = broker_id
            if self.in_flight:
                # Re-announced to the same broker: it may have released leases meanwhile;
                # extending them all now makes it say which are gone.
                leases = self.extends.setdefault(self.lease_ms, [])
                for m in self.in_flight.values():
                    if not m._settled:
                        leases.append(m.lease_id)
        log.info("welcomed by broker %s (%s) epoch %s (heartbeat %s ms, lease %s ms)", broker_id,
                 self.name, self.epoch, heartbeat_ms, lease_ms)
        self.c._rebalance()
        self.c._schedule_flush()

    def on_error(self, f):
        code, reason, answers = f[0], f[1], f[2]
        leases = protocol.field(f, 5, []) or []
        request_id = protocol.field(f, 6, 0)
        if code == errors.LEASE_LOST:
            for lease in leases:
                m = self.in_flight.get(lease)
                if m is None:
                    self.c.counters["lost_after_settle"] += 1
                    log.warning("the broker refused our ack/nack/extend of lease %s: lease lost "
                                "(it expired or was released first); the message is delivered "
                                "again", lease)
                else:
                    self.c._mark_lost(m, "the broker no longer holds it")
        elif code == errors.NOT_READY:
            self.welcomed = False
            self.drop_lease_commands()
            log.warning("broker %s does not know this worker any more (it declared it dead): "
                        "every lease is gone; announcing again", self.name)
            self.c._mark_all_lost(self, "the broker declared this worker dead")
            self.send_ready()
        elif request_id and request_id == self.sync_id:
            # A CURVE worker may not read STATS: the refusal proves the round trip all the same.
            if self.sync_fut is not None and not self.sync_fut.done():
                self.sync_fut.set_result(True)
        elif answers == protocol.READY_BYTE and (100 <= code < 200
                                                 or code == errors.PERMISSION_DENIED):
            # About what READY says (queue names, the key's rights): announcing again every
            # 500 ms would be refused forever.
            self.c._fatal_error(errors.from_code(code, f"the broker refused this worker: {reason}"))
        else:
            self.c.counters["errors"] += 1
            log.error("broker %s error %s (%s): %s", self.name, code,
                      errors.CODE_NAMES.get(code, "?"), reason)

    def on_extended(self, items):
        now = self.c._loop.time()
        wall = time.time()
        dur = self.lease_ms / 1000.0
        for lease, left_ms in items:
            m = self.in_flight.get(lease)
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

    # -- closing -----------------------------------------------------------------------------

    async def close(self):
        """After the last settlements: make sure the broker processed them (it handles a closed
        connection before frames still queued from it), say DISCONNECT, stop the reader."""
        loop = self.c._loop
        self.flush()
        if self.acks or self.nacks:
            log.warning("%d acks and %d nacks could not be sent to %s before stopping; the "
                        "broker will redeliver those messages", len(self.acks), len(self.nacks),
                        self.name)
        if self.welcomed and self.connected:
            self.sync_id = int.from_bytes(os.urandom(7), "big") | 1
            self.sync_fut = loop.create_future()
            if self.send(protocol.STATS, [self.sync_id]):
                wait = min(self.heartbeat * _LIVENESS, 5.0)
                try:
                    ok = await asyncio.wait_for(asyncio.shield(self.sync_fut), wait)
                except asyncio.TimeoutError:
                    ok = False
                if not ok:
                    log.warning("the broker %s did not confirm our last settlements before we "
                                "stopped", self.name)
        if self.connected:
            self.send(protocol.DISCONNECT, ["worker stopping"])
        self.finished = True
        self.link.interrupt()
        if self.task is not None:
            await self.task
        self.link.close()  # linger (2 s) lets the DISCONNECT and last settlements leave


class Consumer:
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

    def stop(self, grace: float | None = None):
        """Drains and makes run() return: see the module docstring. Callable from any code on
        the loop (a signal handler too); a second call cancels running handlers at once."""
        self._stop_calls += 1
        if self._stop_calls == 1:
            self._drain_grace = self.grace if grace is None else grace
        else:
            self._drain_grace = 0
        if self._drain_grace <= 0:
            self._wake_idle()
        if self._stop_event is not None:
            self._stop_event.set()

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
            _Session(self, i, t, self.concurrency // n + (1 if i < self.concurrency % n else 0))
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

    def _on_signal(self, sig):
        log.warning("%s: %s", signal.Signals(sig).name,
                    "draining" if self._stop_calls == 0 else "cancelling what still runs")
        self.stop()

    def _fatal_error(self, exc):
        if self._fatal is None:
            self._fatal = exc
            log.error("consumer stops: %s", exc)
        self.stop(0)

    def _wake_idle(self):
        if self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    async def _wait_idle(self, timeout):
        if not self._tasks:
            return
        self._idle = self._loop.create_future()
        handle = self._loop.call_later(timeout, self._wake_idle) if timeout is not None else None
        try:
            await self._idle
        finally:
            if handle is not None:
                handle.cancel()

    async def _drain(self):
        self._stopping = True
        self._schedule_flush()  # CREDIT 0 first
        grace = self._drain_grace
        if self._tasks and grace > 0:
            log.info("draining: %d handlers running, %g s to finish", len(self._tasks), grace)
            await self._wait_idle(grace)
        if self._tasks:
            log.info("cancelling %d handlers still running; their messages are nacked for "
                     "immediate redelivery", len(self._tasks))
            for s in self._sessions:
                for m in s.in_flight.values():
                    if not m._settled:
                        m._shutdown = True
            for t in list(self._tasks):
                t.cancel()
            await self._wait_idle(None)
        self._flush()

    def _schedule_flush(self):
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        for s in self._sessions:
            s.flush()

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
                task = create(_LeaseGuard(run(m), m))
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


__all__ = ["Consumer", "Message", "retry_delay_ms", "SHUTDOWN_REASON"]
