"""One DEALER connection to one broker, driven from an asyncio loop without ever leaving a
receive pending.

The socket is a plain (synchronous) pyzmq socket used only with NOBLOCK: nothing is ever
awaited *inside* ZeroMQ, so there is no receive future that a cancellation could lose a
message from. The owner's reader task drains it (recv until EAGAIN) and then waits on an
asyncio future that the ZMQ_FD reader callback, a send, or a timeout completes.

ZMQ_FD is edge-triggered: it signals that the socket's state *may* have changed, and reading
ZMQ_EVENTS (or any send/recv) consumes that signal. So after every send the events are read
again, and a pending POLLIN wakes the reader even though the fd will not fire for it.

Socket options are those of shared/protocol/transport.cpp's ConfigureDealer (docs/protocol.md,
"Socket options"): IMMEDIATE=1 (nothing is queued to a connection that is not up: a send fails
with EAGAIN and the caller keeps the message), reconnect 100 ms backing off to 5 s, HWMs of
100,000, ZMTP heartbeats (3x timeout), TCP keepalive, no routing id. A monitor reports
handshakes and disconnections.
"""
from __future__ import annotations

import asyncio
import logging
import struct

import zmq

from . import protocol
from .errors import ConfigurationError

log = logging.getLogger("mandrill")

EVENT_HANDSHAKE = zmq.EVENT_HANDSHAKE_SUCCEEDED
EVENT_DISCONNECTED = zmq.EVENT_DISCONNECTED
_NOBLOCK = zmq.NOBLOCK
_POLLIN = zmq.POLLIN
_POLLOUT = zmq.POLLOUT
_EVENTS = zmq.EVENTS
_Again = zmq.Again
_VERSION = protocol.VERSION_FRAME


def _wake(fut):
    if not fut.done():
        fut.set_result(None)


class Link:
    """A DEALER socket to `target` (cells.Target) with this client's CURVE key pair, if any.

    on_writable: called (from the loop) when the socket turns writable while a send had
    failed with EAGAIN: the owner retries what it kept.
    """

    def __init__(self, target, own_key=None, *, context=None, heartbeat_ms=1000,
                 reconnect_ms=100, reconnect_max_ms=5000, linger_ms=2000, on_writable=None):
        self.target = target
        self.own_key = own_key
        self.context = context or zmq.Context.instance()
        self.heartbeat_ms = heartbeat_ms
        self.reconnect_ms = reconnect_ms
        self.reconnect_max_ms = reconnect_max_ms
        self.linger_ms = linger_ms
        self.on_writable = on_writable
        self.sock = None
        self.monitor = None
        self.blocked = False  # a send failed with EAGAIN: call on_writable when it can go
        self._loop = None
        self._fds = ()
        self._waiter = None

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self):
        """Creates the socket and starts connecting (ZeroMQ connects in the background)."""
        self.close(0)
        self._loop = asyncio.get_running_loop()
        s = self.context.socket(zmq.DEALER)
        try:
            s.setsockopt(zmq.IMMEDIATE, 1)
            s.setsockopt(zmq.LINGER, self.linger_ms)
            s.setsockopt(zmq.RECONNECT_IVL, self.reconnect_ms)
            s.setsockopt(zmq.RECONNECT_IVL_MAX, self.reconnect_max_ms)
            s.setsockopt(zmq.SNDHWM, 100_000)
            s.setsockopt(zmq.RCVHWM, 100_000)
            s.setsockopt(zmq.HEARTBEAT_IVL, self.heartbeat_ms)
            s.setsockopt(zmq.HEARTBEAT_TIMEOUT, self.heartbeat_ms * 3)
            s.setsockopt(zmq.HEARTBEAT_TTL, self.heartbeat_ms * 3)
            s.setsockopt(zmq.TCP_KEEPALIVE, 1)
            if self.target.public_key:
                s.curve_serverkey = self.target.public_key
                s.curve_publickey = self.own_key.public
                s.curve_secretkey = self.own_key.secret
            # Stop the monitor before its reader is closed (close()): libzmq's I/O thread sends
            # monitor events blocking, and one sent to a closed reader would hang it for good.
            self.monitor = s.get_monitor_socket(EVENT_HANDSHAKE | EVENT_DISCONNECTED)
            s.connect(self.target.endpoint)
        except zmq.ZMQError as e:
            if self.monitor is not None:
                s.disable_monitor()
                self.monitor.close(0)
                self.monitor = None
            s.close(0)
            raise ConfigurationError(
                f"cannot connect to {self.target.name} '{self.target.endpoint}': {e}") from None
        self.sock = s
        self.blocked = False
        self._fds = (s.getsockopt(zmq.FD), self.monitor.getsockopt(zmq.FD))
        for fd in self._fds:
            self._loop.add_reader(fd, self.poke)

    def close(self, linger_ms=None):
        """Closes the socket; `linger_ms` bounds how long unsent frames may still leave."""
        if self.sock is None:
            return
        for fd in self._fds:
            try:
                self._loop.remove_reader(fd)
            except (ValueError, OSError, RuntimeError):
                pass
        self._fds = ()
        try:
            self.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(0)
        self.sock.close(self.linger_ms if linger_ms is None else linger_ms)
        self.sock = None
        self.monitor = None
        if self._waiter is not None:
            _wake(self._waiter)

    @property
    def is_open(self):
        return self.sock is not None

    # -- I/O ---------------------------------------------------------------------------------

    def send(self, command: bytes, body: bytes) -> bool:
        """Sends one message; False (nothing sent) when it would block: no connection
        (IMMEDIATE) or the high-water mark."""
        s = self.sock
        if s is None:
            self.blocked = True
            return False
        try:
            s.send_multipart((_VERSION, command, body), _NOBLOCK)
        except _Again:
            self.blocked = True
            return False
        finally:
            self.poke()
        return True

    def send_fields(self, command: bytes, fields) -> bool:
        return self.send(command, protocol.pack(fields))

    def recv(self):
        """The next message's frames, or None when nothing is waiting."""
        s = self.sock
        if s is None:
            return None
        try:
            return s.recv_multipart(_NOBLOCK)
        except _Again:
            return None

    def events(self):
        """Monitor events (event ids) since the last call."""
        out = []
        m = self.monitor
        while m is not None:
            try:
                frames = m.recv_multipart(_NOBLOCK)
            except _Again:
                break
            if frames and len(frames[0]) >= 6:
                out.append(struct.unpack("=hi", frames[0][:6])[0])
        return out

    @property
    def writable(self) -> bool:
        s = self.sock
        return s is not None and bool(s.getsockopt(_EVENTS) & _POLLOUT)

    def poke(self):
        """Reads the sockets' events (consuming the fd's edge) and wakes whoever they concern."""
        s = self.sock
        if s is None:
            return
        ev = s.getsockopt(_EVENTS)
        mev = self.monitor.getsockopt(_EVENTS)
        waiter = self._waiter
        if waiter is not None and not waiter.done() and (ev | mev) & _POLLIN:
            waiter.set_result(None)
        if ev & _POLLOUT and self.blocked:
            self.blocked = False
            if self.on_writable is not None:
                self._loop.call_soon(self.on_writable)

    def readable(self) -> bool:
        s = self.sock
        if s is None:
            return False
        return bool(s.getsockopt(_EVENTS) & _POLLIN
                    or self.monitor.getsockopt(_EVENTS) & _POLLIN)

    async def wait(self, timeout: float):
        """Returns when a message or monitor event may be waiting, or after `timeout` seconds.
        Cancelling this wait loses nothing: no receive is pending."""
        if self.readable():
            return
        loop = self._loop or asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiter = fut
        handle = loop.call_later(max(0.0, timeout), _wake, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._waiter = None

    def interrupt(self):
        """Ends a wait() at once (to stop the reader, or to make it look at its timers)."""
        if self._waiter is not None:
            _wake(self._waiter)
