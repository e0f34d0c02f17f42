"""Placing messages on cells and moving them when a cell fails.

With a cell map each id goes to its rendezvous cell (cells.Rendezvous: the cell mandrill-publish
picks for it); a cell that refuses a message for now passes it to the id's next cell, and a cell
unreachable for `cell_failover` seconds is marked down: its messages move to their next cells
(which can duplicate one the cell had already stored) and new ones skip it until it is writable
again. A cell whose connection dropped has its in-flight messages sent to it again.

A mixin of the Publisher (``Failover``): routing is one decision per message on the publish
path, so it works directly on the entries and cells the Publisher holds.
"""
from __future__ import annotations

import logging

from .publish_records import IN_FLIGHT, QUEUED

log = logging.getLogger("mandrill.publisher")


class Failover:
    """Mixin of the Publisher; uses its ``_cells``, ``_rv``, ``cell_failover``, ``counters``,
    ``_entries`` and ``_schedule_flush``."""

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
        e.state = QUEUED
        if len(self._cells) > 1:
            cell, hop, _up = self._route(e.item[1], from_hop)
            if cell != e.cell and (e.serial or e.hop or from_hop):
                self.counters["moved"] += 1
            e.cell, e.hop = cell, hop
        self._cells[e.cell].queue.append(e)

    def _resend_in_flight(self, c):
        """The cell's connection went: what was in flight to it may be lost with it."""
        n = 0
        for e in list(self._entries()):
            if e.cell == c.index and e.state == IN_FLIGHT:
                self._enqueue(e, e.hop)
                n += 1
        if n:
            self._schedule_flush()
        return n

    def _evacuate(self, c):
        n = 0
        for e in list(self._entries()):
            if e.cell != c.index or e.state not in (IN_FLIGHT, QUEUED):
                continue
            if not self._route(e.item[1], e.hop + 1)[2]:
                if e.state == IN_FLIGHT:  # every other cell is down too: it stays
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


__all__ = ["Failover"]
