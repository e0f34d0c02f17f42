"""The publisher's link to one cell (one broker): its socket, its send queue, the flush that
packs every message queued during one event-loop pass into as few PUBLISH frames as the batch
limits allow, and the reader task that drains the socket and dispatches CONFIRM and ERROR.

The reader never leaves a receive pending (transport.Link reads with NOBLOCK after a
readiness wait), so closing the publisher cannot lose a frame to a cancellation. Retryable
refusals go to the id's next cell or into backoff here; what happens to a cell that stays
unreachable is failover.py, and a frame refused whole is refused_frames.py.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque

from . import errors, protocol
from .publish_records import BACKOFF, BACKOFF_MAX, DONE, IN_FLIGHT, QUEUED
from .transport import EVENT_DISCONNECTED, EVENT_HANDSHAKE

log = logging.getLogger("mandrill.publisher")

_PUBLISH = protocol.PUBLISH
_pack = protocol.pack


class CellLink:
    """One cell's socket and the publisher's state for it."""

    __slots__ = ("index", "link", "queue", "down", "unwritable_since", "reader", "probes",
                 "barriers")

    def __init__(self, index, link):
        self.index = index
        self.link = link
        self.queue = deque()  # entries to send (stale ones are skipped)
        self.down = False
        self.unwritable_since = None
        self.reader = None
        # Isolating a frame the broker refused whole (see refused_frames.py): the suspects, sent
        # one per frame, and the STATS barriers that tell which frame an id-less ERROR answers.
        self.probes = None     # list of entries while probing, None otherwise
        self.barriers = deque()  # (request_id, entry sent just before it, or None)


class CellLinks:
    """Mixin of the Publisher: sending to and receiving from its cells (``_cells``)."""

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
                    if e.state != QUEUED or e.cell != index:
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
                    e.state = IN_FLIGHT
                    if e.serial:
                        retried += 1
                    e.serial = serial
                self.counters["published"] += len(batch) - retried
                self.counters["retried"] += retried
                self._deadlines.append((deadline, serial, batch))

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
            if e is None or e.state in (DONE, BACKOFF):
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
            e.state = BACKOFF
            heapq.heappush(self._backoffs, (now + e.backoff, next(self._serials), e))
            e.backoff = min(e.backoff * 2, BACKOFF_MAX)
        if refused:
            self.counters["refused"] += refused
            log.debug("broker refused %d messages (first %s): %s (%s)", refused, ids[0], reason,
                      name)
        elif retry:
            log.debug("broker refused %d messages for now: %s (%s); retrying", len(ids), reason,
                      name)
        self._schedule_flush()


__all__ = ["CellLink", "CellLinks"]
