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
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
from collections import deque

from . import errors, protocol
from .cells import Rendezvous, resolve_targets
from .errors import ClosedError, MandrillError, PublishTimeout
from .transport import EVENT_DISCONNECTED, EVENT_HANDSHAKE, Link

log = logging.getLogger("mandrill.publisher")

_QUEUED, _IN_FLIGHT, _BACKOFF, _DONE = range(4)
_BACKOFF_INITIAL = 0.05
_BACKOFF_MAX = 2.0
_TICK = 0.1
_PUBLISH = protocol.PUBLISH
_pack = protocol.pack


def _check_headers(headers):
    if not isinstance(headers, dict):
        raise TypeError(f"headers must be a dict of str to str, not {type(headers).__name__}")
    for k, v in headers.items():
        if type(k) is not str or type(v) is not str:
            raise TypeError("headers must map str to str")


class _Entry:
    __slots__ = ("item", "fut", "state", "cell", "hop", "refusals", "serial", "give_up_at",
                 "backoff", "error")

    def __init__(self, item, fut, give_up_at):
        self.item = item  # [queue, id, payload, headers]: the PUBLISH item as sent
        self.fut = fut
        self.state = _QUEUED
        self.cell = 0
        self.hop = 0          # position in the id's cell order
        self.refusals = 0     # retryable refusals since it last started at its first cell
        self.serial = 0       # the frame that last carried it
        self.give_up_at = give_up_at
        self.backoff = _BACKOFF_INITIAL
        self.error = None     # the last retryable refusal: raised if the deadline passes


class _Cell:
    __slots__ = ("index", "link", "queue", "down", "unwritable_since", "reader", "probes",
                 "barriers")

    def __init__(self, index, link):
        self.index = index
        self.link = link
        self.queue = deque()  # entries to send (stale ones are skipped)
        self.down = False
        self.unwritable_since = None
        self.reader = None
        # Isolating a frame the broker refused whole (see _start_probing): the suspects, sent
        # one per frame, and the STATS barriers that tell which frame an id-less ERROR answers.
        self.probes = None     # list of entries while probing, None otherwise
        self.barriers = deque()  # (request_id, entry sent just before it, or None)


class Publisher:
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
                cell = _Cell(i, link)
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
        e = _Entry([queue, id, payload, headers], loop.create_future(),
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
            if e.state != _DONE:
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
        e.state = _DONE
        queue, id = e.item[0], e.item[1]
        pend = self._pending.get(queue)
        if pend is not None and pend.get(id) is e:
            del pend[id]
            if not pend:
                del self._pending[queue]
        self._release(1)

    def _fail(self, e, exc):
        if e.state == _DONE:
            return
        self._drop(e)
        if not e.fut.done():
            e.fut.set_exception(exc)

    # -- routing -----------------------------------------------------------------------------

    def _route(self, id, from_hop):
        """(cell, hop, up): the id's cell from `from_hop` on, skipping cells that are down; if
        every cell is down, the one at `from_hop` (it waits there for a cell to come back)."""
        cells = self._cells
        n = len(cells)
        if from_hop == 0:
            first = self._rv.first(id)
            if not cells[first].down:
                return first, 0, True
        order = self._rv.order(id)
        for hop in range(from_hop, from_hop + n):
            c = order[hop % n]
            if not cells[c].down:
                return c, hop, True
        return order[from_hop % n], from_hop, False

    def _enqueue(self, e, from_hop):
        e.state = _QUEUED
        if len(self._cells) > 1:
            cell, hop, _up = self._route(e.item[1], from_hop)
            if cell != e.cell and (e.serial or e.hop or from_hop):
                self.counters["moved"] += 1
            e.cell, e.hop = cell, hop
        self._cells[e.cell].queue.append(e)

    def _entries(self):
        for pend in self._pending.values():
            yield from pend.values()

    def _resend_in_flight(self, c):
        """The cell's connection went: what was in flight to it may be lost with it."""
        n = 0
        for e in list(self._entries()):
            if e.cell == c.index and e.state == _IN_FLIGHT:
                self._enqueue(e, e.hop)
                n += 1
        if n:
            self._schedule_flush()
        return n

    def _evacuate(self, c):
        n = 0
        for e in list(self._entries()):
            if e.cell != c.index or e.state not in (_IN_FLIGHT, _QUEUED):
                continue
            if not self._route(e.item[1], e.hop + 1)[2]:
                if e.state == _IN_FLIGHT:  # every other cell is down too: it stays
                    self._enqueue(e, e.hop)
                continue
            self._enqueue(e, e.hop + 1)
            n += 1
        if n:
            self._schedule_flush()
        return n

    def _mark_down(self, c, why):
        if c.down:
            return
        c.down = True
        if c.unwritable_since is None:
            c.unwritable_since = self._loop.time()
        moved = self._evacuate(c)
        log.warning("cell %s (%s) is down (%s): %d of its messages go to their next cells (a "
                    "failover can duplicate a message the cell had already stored)",
                    c.link.target.name, c.link.target.endpoint, why, moved)

    def _watch_cells(self, now):
        revived = False
        for c in self._cells:
            if c.link.writable:
                if c.down:
                    log.warning("cell %s (%s) is reachable again: it takes its own messages "
                                "again", c.link.target.name, c.link.target.endpoint)
                    revived = True
                c.down = False
                c.unwritable_since = None
                continue
            if c.unwritable_since is None:
                c.unwritable_since = now
                self._resend_in_flight(c)
            if not c.down and now - c.unwritable_since >= self.cell_failover:
                self._mark_down(c, f"unreachable for {self.cell_failover:g} s")
        if revived:
            for c in self._cells:
                if c.down:
                    self._evacuate(c)

    # -- sending -----------------------------------------------------------------------------

    def _schedule_flush(self):
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        if self._closed:
            return
        deadline = self._loop.time() + self.confirm_timeout
        max_items = self.batch
        max_bytes = self.batch_bytes
        for c in self._cells:
            if c.probes is not None:
                self._send_probes(c, deadline)
                continue  # nothing else goes to this broker until the probes are answered
            q = c.queue
            link = c.link
            index = c.index
            while q and not link.blocked:
                batch = []
                nbytes = 0
                popleft = q.popleft
                while q and len(batch) < max_items and nbytes < max_bytes:
                    e = popleft()
                    if e.state != _QUEUED or e.cell != index:
                        continue  # settled or moved since it was queued
                    batch.append(e)
                    nbytes += len(e.item[2]) + 32
                if not batch:
                    break
                if not link.send(_PUBLISH, _pack([[e.item for e in batch]])):
                    q.extendleft(reversed(batch))  # kept: sent when the link is writable
                    break
                serial = next(self._serials)
                retried = 0
                for e in batch:
                    e.state = _IN_FLIGHT
                    if e.serial:
                        retried += 1
                    e.serial = serial
                self.counters["published"] += len(batch) - retried
                self.counters["retried"] += retried
                self._deadlines.append((deadline, serial, batch))

    # -- receiving ---------------------------------------------------------------------------

    async def _reader(self, c):
        link = c.link
        while not self._closed:
            for _ in range(64):
                frames = link.recv()
                if frames is None:
                    break
                self._handle(c, frames)
            else:
                await asyncio.sleep(0)  # more waiting: let the confirmed publishers run first
                continue
            for event in link.events():
                if event == EVENT_DISCONNECTED:
                    c.probes = None
                    c.barriers.clear()
                    n = self._resend_in_flight(c)
                    log.info("lost the connection to %s (%s); %d messages in flight are sent "
                             "again once it is back", link.target.name, link.target.endpoint, n)
                elif event == EVENT_HANDSHAKE:
                    log.info("connected to %s (%s)", link.target.name, link.target.endpoint)
                    self._schedule_flush()
            await link.wait(0.25)

    def _handle(self, c, frames):
        try:
            command, f = protocol.split(frames)
            if command == protocol.CONFIRM:
                self._on_confirm(f[0], f[1])
            elif command == protocol.ERROR:
                self._on_error(c, f)
            elif command == protocol.DISCONNECT:
                reason = f[0] if f else ""
                if len(self._cells) > 1:
                    self._mark_down(c, f"going away: {reason}")
                else:
                    log.warning("broker is going away (%s); unconfirmed messages are sent again "
                                "when it is back", reason)
            elif command == protocol.STATS_REPLY:
                self._on_barrier(c, f[0])
            elif command != protocol.HEARTBEAT:
                log.debug("ignoring an unexpected %s from the broker",
                          protocol.command_name(command))
        except (ValueError, IndexError, TypeError, KeyError) as e:
            log.warning("ignoring an undecodable frame from %s: %s", c.link.target.name, e)

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
            e.state = _DONE
            fut = e.fut
            if not fut.done():
                fut.set_result(None)
            n += 1
        if not pend:
            del self._pending[queue]
        if n:
            self.counters["confirmed"] += n
            self._release(n)

    def _on_error(self, c, f):
        code, reason, answers = f[0], f[1], f[2]
        queue = protocol.field(f, 3, "")
        ids = protocol.field(f, 4, [])
        name = errors.CODE_NAMES.get(code, str(code))
        if answers == protocol.STATS_BYTE and c.barriers:
            # A publisher key may not read STATS: the refusal answers the barrier all the same.
            self._on_barrier(c, protocol.field(f, 6, 0))
            return
        if answers == protocol.PUBLISH_BYTE and not ids and code not in errors.RETRYABLE:
            self._on_frame_refused(c, code, reason)
            return
        if answers != protocol.PUBLISH_BYTE or not ids:
            log.warning("broker error: %s (code %s %s)", reason, code, name)
            return
        pend = self._pending.get(queue)
        if pend is None:
            return
        retry = code in errors.RETRYABLE
        now = self._loop.time()
        refused = 0
        for id in ids:
            e = pend.get(id)
            if e is None or e.state in (_DONE, _BACKOFF):
                continue
            if not retry:
                refused += 1
                self._fail(e, errors.from_code(code, reason, queue=queue, ids=[id]))
                continue
            e.error = (code, reason)
            self.counters["refused_for_now"] += 1
            e.refusals += 1
            if e.refusals < len(self._cells):
                self._enqueue(e, e.hop + 1)  # the next cell in its order takes it now
                continue
            e.refusals = 0
            e.state = _BACKOFF
            heapq.heappush(self._backoffs, (now + e.backoff, next(self._serials), e))
            e.backoff = min(e.backoff * 2, _BACKOFF_MAX)
        if refused:
            self.counters["refused"] += refused
            log.debug("broker refused %d messages (first %s): %s (%s)", refused, ids[0], reason,
                      name)
        elif retry:
            log.debug("broker refused %d messages for now: %s (%s); retrying", len(ids), reason,
                      name)
        self._schedule_flush()

    # -- frames refused whole ----------------------------------------------------------------
    #
    # The broker refuses a PUBLISH frame as a whole, with an ERROR naming no ids, when it cannot
    # decode it: a payload over its --max-payload-bytes, a string over 4096 bytes, more than 64
    # headers. Which of the frames in flight it answers is not said, so the messages that were
    # in flight to that broker are sent again one per frame, each followed by a STATS request
    # (a barrier: the broker answers frames in order, and both a decode error and STATS at once).
    # An id-less refusal that arrives before barrier k's answer, and after barrier k-1's, answers
    # probe k alone: that message raises the error; the others are confirmed as usual (the
    # broker deduplicates the ones it already had). Nothing else is sent to that broker until the
    # barriers are answered, one round trip later.

    def _on_frame_refused(self, c, code, reason):
        if c.barriers:
            _rid, e = c.barriers[0]
            if e is not None and e.state != _DONE:
                self.counters["refused"] += 1
                self._fail(e, errors.from_code(code, reason, queue=e.item[0], ids=[e.item[1]]))
            return
        suspects = [e for e in self._entries() if e.cell == c.index and e.state == _IN_FLIGHT]
        suspects.sort(key=lambda e: e.serial)
        log.warning("broker %s refused a whole PUBLISH frame: %s (%s); sending the %d messages "
                    "that were in flight one per frame to find the one it concerns",
                    c.link.target.name, reason, errors.CODE_NAMES.get(code, code), len(suspects))
        for e in suspects:
            e.state = _QUEUED
        c.probes = suspects
        self._schedule_flush()

    def _send_probes(self, c, deadline):
        if c.barriers or c.link.blocked:
            return  # sent; waiting for the barriers
        link = c.link
        first = next(self._request_ids)
        if not link.send(protocol.STATS, _pack([first])):
            return  # not connected: tried again when it is writable
        # Frame-level refusals of frames sent before: answered before this barrier; ignored.
        c.barriers.append((first, None))
        for e in c.probes:
            if e.state != _QUEUED:
                continue
            rid = next(self._request_ids)
            if not link.send(_PUBLISH, _pack([[e.item]])):
                break
            serial = next(self._serials)
            e.state = _IN_FLIGHT
            e.serial = serial
            self._deadlines.append((deadline, serial, [e]))
            self.counters["retried"] += 1
            if not link.send(protocol.STATS, _pack([rid])):
                break
            c.barriers.append((rid, e))
        for e in c.probes:  # the rest (the link would block): back to the queue
            if e.state == _QUEUED:
                c.queue.append(e)
        c.probes = []

    def _on_barrier(self, c, request_id):
        barriers = c.barriers
        while barriers:
            rid, _e = barriers.popleft()
            if rid == request_id:
                break
        if not barriers and c.probes is not None:
            c.probes = None  # every probe answered: back to batches
            self._schedule_flush()

    # -- timers ------------------------------------------------------------------------------

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
                if any(e.state == _IN_FLIGHT and e.serial == serial for e in batch):
                    break
                deadlines.popleft()
                continue
            deadlines.popleft()
            for e in batch:
                if e.state == _IN_FLIGHT and e.serial == serial:
                    self._enqueue(e, e.hop)  # same cell unless it is down now
                    requeued = True
        backoffs = self._backoffs
        while backoffs and backoffs[0][0] <= now:
            _, _, e = heapq.heappop(backoffs)
            if e.state == _BACKOFF:
                self._enqueue(e, 0)  # every cell refused it: start again at its first choice
                requeued = True
        admitted = self._admitted
        while admitted:
            e = admitted[0]
            if e.state == _DONE:
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


__all__ = ["Publisher", "MandrillError"]
