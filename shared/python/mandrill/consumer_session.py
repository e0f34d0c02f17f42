"""The consumer's connection to one broker (one per cell): its socket, the reader task that
owns it, the session handshake (READY until WELCOME, same instance token across reconnects),
heartbeats and the task report, reconnecting after 3 silent heartbeat intervals, the broker's
frames, and close() (the STATS round trip that proves the last settlements were processed,
then DISCONNECT).

The reader never leaves a receive pending (the socket is read with NOBLOCK after a readiness
wait, transport.Link), so nothing can be lost to a cancellation; it is stopped by a flag.
Deliveries and lease answers are handed to the consumer (consumer.py, lease_keeper.py); the
pending settlements and their flush are settlement.SettlementBatches.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
import os
import random

from . import errors, protocol
from .settlement import SettlementBatches
from .transport import EVENT_DISCONNECTED, EVENT_HANDSHAKE, Link

log = logging.getLogger("mandrill.consumer")

_LIVENESS = 3
_READY_RETRY = 0.5


class Session(SettlementBatches):
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
        self._init_batches()  # acks, nacks, extends
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
                self.c._on_extended(self, f[0])
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


__all__ = ["Session"]
