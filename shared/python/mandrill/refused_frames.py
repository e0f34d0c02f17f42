"""Frames a broker refuses whole.

The broker refuses a PUBLISH frame as a whole, with an ERROR naming no ids, when it cannot
decode it: a payload over its --max-payload-bytes, a string over 4096 bytes, more than 64
headers. Which of the frames in flight it answers is not said, so the messages that were
in flight to that broker are sent again one per frame, each followed by a STATS request
(a barrier: the broker answers frames in order, and both a decode error and STATS at once).
An id-less refusal that arrives before barrier k's answer, and after barrier k-1's, answers
probe k alone: that message raises the error; the others are confirmed as usual (the
broker deduplicates the ones it already had). Nothing else is sent to that broker until the
barriers are answered, one round trip later.

A mixin of the Publisher (``RefusedFrames``): the probing takes over a cell's sending (see
cell_link.CellLinks._flush) until every barrier is answered.
"""
from __future__ import annotations

import logging

from . import errors, protocol
from .publish_records import DONE, IN_FLIGHT, QUEUED

log = logging.getLogger("mandrill.publisher")

_PUBLISH = protocol.PUBLISH
_pack = protocol.pack


class RefusedFrames:
    """Mixin of the Publisher; uses its ``_entries``, ``_fail``, ``_deadlines``, ``_serials``,
    ``_request_ids``, ``counters`` and ``_schedule_flush``."""

    def _on_frame_refused(self, c, code, reason):
        if c.barriers:
            _rid, e = c.barriers[0]
            if e is not None and e.state != DONE:
                self.counters["refused"] += 1
                self._fail(e, errors.from_code(code, reason, queue=e.item[0], ids=[e.item[1]]))
            return
        suspects = [e for e in self._entries() if e.cell == c.index and e.state == IN_FLIGHT]
        suspects.sort(key=lambda e: e.serial)
        log.warning("broker %s refused a whole PUBLISH frame: %s (%s); sending the %d messages "
                    "that were in flight one per frame to find the one it concerns",
                    c.link.target.name, reason, errors.CODE_NAMES.get(code, code), len(suspects))
        for e in suspects:
            e.state = QUEUED
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
            if e.state != QUEUED:
                continue
            rid = next(self._request_ids)
            if not link.send(_PUBLISH, _pack([[e.item]])):
                break
            serial = next(self._serials)
            e.state = IN_FLIGHT
            e.serial = serial
            self._deadlines.append((deadline, serial, [e]))
            self.counters["retried"] += 1
            if not link.send(protocol.STATS, _pack([rid])):
                break
            c.barriers.append((rid, e))
        for e in c.probes:  # the rest (the link would block): back to the queue
            if e.state == QUEUED:
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


__all__ = ["RefusedFrames"]
