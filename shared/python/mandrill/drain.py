"""Stopping a consumer: stop() (or SIGTERM/SIGINT) sends CREDIT 0, gives running handlers
`grace` seconds, cancels the rest (they are nacked with delay 0) and flushes the last
settlements; a second stop() cancels at once. What follows (the STATS round trip, DISCONNECT)
is each session's close() (consumer_session.py).

A mixin of the Consumer (``Draining``), since stop() is part of its public API and the drain
works on its handler tasks and sessions.
"""
from __future__ import annotations

import logging
import signal

log = logging.getLogger("mandrill.consumer")


class Draining:
    """Mixin of the Consumer; uses its ``grace``, ``_loop``, ``_sessions``, ``_tasks``,
    ``_stopping``, ``_stop_calls``, ``_drain_grace``, ``_stop_event``, ``_idle`` and
    ``_flush``."""

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

    def _on_signal(self, sig):
        log.warning("%s: %s", signal.Signals(sig).name,
                    "draining" if self._stop_calls == 0 else "cancelling what still runs")
        self.stop()

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


__all__ = ["Draining"]
