"""Broker statistics (STATS / STATS_REPLY), the way ``mandrill-ctl stats`` reads them: every
page, parsed into plain dicts. Admin keys only when the broker runs with CURVE."""
from __future__ import annotations

import itertools
import os
import time

import zmq

from . import errors, protocol
from .cells import Target, check_endpoint
from .errors import ConfigurationError, MandrillError
from .keys import load_client_keys

QUEUE_FIELDS = ("name", "ready", "in_flight", "deferred", "dead", "published", "acked", "nacked",
                "redelivered", "expired", "dead_lettered", "deduplicated", "refused_full",
                "oldest_ready_ms", "consumers")
WORKER_FIELDS = ("name", "peer", "queues", "credit", "in_flight", "delivered", "acked", "nacked",
                 "idle_ms", "tasks")

_ids = itertools.count(int.from_bytes(os.urandom(3), "big") << 20)


def _parse_reply(f, out):
    out["request_id"], out["broker_id"], out["uptime_ms"] = f[0], f[1], f[2]
    for q in f[3]:
        out["queues"][q[0]] = dict(zip(QUEUE_FIELDS, q))
    for w in f[4]:
        out["workers"].append(dict(zip(WORKER_FIELDS, w)))
    for name, value in f[5]:
        out["counters"][name] = value
    return protocol.field(f, 6, "")


def stats_sync(broker: str, *, key=None, broker_key=None, timeout: float = 5.0,
               context=None) -> dict:
    """{"broker_id", "uptime_ms", "queues": {name: {...}}, "workers": [...], "counters": {...}}
    from the broker at `broker`. Raises TimeoutError when no reply comes within `timeout`
    seconds (the broker is not up), a MandrillError when the broker refuses."""
    why = check_endpoint(broker)
    if why:
        raise ConfigurationError(why)
    keys = load_client_keys(key, broker_key)
    ctx = context or zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    try:
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IMMEDIATE, 1)
        if keys:
            own, pub = keys
            s.curve_serverkey = pub
            s.curve_publickey = own.public
            s.curve_secretkey = own.secret
        s.connect(broker)
        deadline = time.monotonic() + timeout
        out = {"queues": {}, "workers": [], "counters": {}}
        after = ""
        while True:
            rid = next(_ids)
            body = protocol.pack([rid, after, 0])
            while True:  # IMMEDIATE: a send before the connection is up would block
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no STATS_REPLY from {broker} within {timeout:g} s")
                if s.poll(int(min(left, 0.05) * 1000) + 1, zmq.POLLOUT):
                    s.send_multipart((protocol.VERSION_FRAME, protocol.STATS, body))
                    break
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not s.poll(int(left * 1000) + 1, zmq.POLLIN):
                    raise TimeoutError(f"no STATS_REPLY from {broker} within {timeout:g} s")
                command, f = protocol.split(s.recv_multipart())
                if command == protocol.STATS_REPLY and f[0] == rid:
                    break
                if command == protocol.ERROR and protocol.field(f, 6) == rid:
                    raise errors.from_code(f[0], f[1])
            after = _parse_reply(f, out)
            if not after:
                return out
    finally:
        s.close(0)


def wait_until_up(broker: str, timeout: float = 30.0, **kw) -> dict:
    """Polls STATS until the broker answers (bounded by `timeout`); returns the first reply."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"broker {broker} did not answer within {timeout:g} s ({last})")
        try:
            return stats_sync(broker, timeout=min(1.0, left), **kw)
        except TimeoutError as e:
            last = e


__all__ = ["stats_sync", "wait_until_up", "MandrillError", "Target"]
