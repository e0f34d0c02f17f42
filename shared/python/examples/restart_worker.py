#!/usr/bin/env python3
"""The `mandrill` handler of mandrill-worker (docs/handlers.md) on the Python client.

Payload ``restart cattle-x7q2``: restarts the host (simulated: a sleep of --restart-ms MIN:MAX,
failing with probability --fail-rate with reason ``restart of cattle-x7q2 failed
(simulated)``), then, with --ledger FILE, records the attempt in the SQLite ledger
``processed(message_id, queue, attempt, worker, at_ms, outcome, error)`` (WAL mode,
synchronous=FULL; rows group-committed off the event loop), and only then returns: ``restarted``
before the ack, ``failed`` with the error before the nack (the message is retried after
--retry-initial doubled per attempt, capped at --retry-max). An attempt cancelled by a lost
lease or a shutdown records nothing.

    PYTHONPATH=shared/python python3 shared/python/examples/restart_worker.py \\
        --broker tcp://127.0.0.1:5555 --queue restarts --concurrency 64 --ledger ledger.db

SIGTERM/SIGINT drain (CREDIT 0, --grace for running restarts, the rest nacked for immediate
redelivery) and exit 0; a second signal cancels what still runs. Exit 64: bad flags; 1: the
broker refused this worker (a bad queue name, a key without the right).
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
import os
import random
import re
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mandrill import Consumer, MandrillError  # noqa: E402

log = logging.getLogger("restart_worker")


def duration(text: str) -> float:
    """Seconds from '250ms', '30s', '5m', '1h' (a bare number is milliseconds, as the C++
    flags take it)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (e.g. 250ms, 30s, 5m)")
    value, unit = float(m.group(1)), m.group(2) or "ms"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def restart_range(text: str):
    m = re.fullmatch(r"(\d+):(\d+)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"--restart-ms '{text}': expected MIN:MAX milliseconds")
    lo, hi = int(m.group(1)), int(m.group(2))
    if hi < lo:
        raise argparse.ArgumentTypeError("--restart-ms: MAX is below MIN")
    return lo, hi


def fail_rate(text: str) -> float:
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("--fail-rate must be between 0 and 1")
    return v


class Ledger:
    """The SQLite ledger, written by one thread; rows queued while a transaction commits go into
    the next one (group commit), so a busy worker writes many rows per fsync."""

    def __init__(self, path: str, worker: str):
        self.worker = worker
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ledger")
        self._db = self._pool.submit(self._open, path).result()
        self._rows = []
        self._wake = None
        self._task = None
        self._stopping = False

    @staticmethod
    def _open(path):
        db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS processed(message_id TEXT, queue TEXT, "
                   "attempt INTEGER, worker TEXT, at_ms INTEGER, outcome TEXT, error TEXT)")
        columns = {row[1] for row in db.execute("PRAGMA table_info(processed)")}
        for column in ("outcome", "error"):  # a ledger from before the outcome column
            if column not in columns:
                try:
                    db.execute(f"ALTER TABLE processed ADD COLUMN {column} TEXT")
                except sqlite3.OperationalError as e:
                    if "duplicate column" not in str(e):
                        raise
        return db

    def start(self):
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._writer())

    async def record(self, msg, outcome: str, error: str | None):
        fut = asyncio.get_running_loop().create_future()
        row = (msg.id, msg.queue, msg.attempt, self.worker, int(time.time() * 1000), outcome,
               error)
        self._rows.append((row, fut))
        self._wake.set()
        await fut  # committed (or the commit's error)

    def _commit(self, rows):
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO processed(message_id, queue, attempt, worker, at_ms, "
                           "outcome, error) VALUES(?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def _writer(self):
        loop = asyncio.get_running_loop()
        while True:
            if not self._rows:
                if self._stopping:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            batch, self._rows = self._rows, []
            try:
                await loop.run_in_executor(self._pool, self._commit, [r for r, _ in batch])
            except Exception as e:  # the handlers waiting for these rows fail (and nack)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(RuntimeError(f"ledger commit failed: {e}"))
                continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    async def stop(self):
        """After the last handler: commits what is queued, then closes the database."""
        self._stopping = True
        if self._task is not None:
            self._wake.set()
            await self._task
        self._pool.submit(self._db.close).result()
        self._pool.shutdown()


def host_of(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace")
    return text[len("restart "):] if text.startswith("restart ") else text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Restarts the hosts named in messages (simulated), like mandrill-worker's "
                    "default 'mandrill' handler.")
    p.add_argument("--broker", help="broker endpoint (default tcp://127.0.0.1:5555)")
    p.add_argument("--cells", help="cell map FILE (NAME ENDPOINT [PUBLIC_KEY_FILE] per line) "
                                   "instead of --broker: consume from every cell")
    p.add_argument("--key", help="this worker's CURVE secret key file (mode 0600)")
    p.add_argument("--broker-key", help="the broker's CURVE public key file (NAME.pub)")
    p.add_argument("--queue", default="restarts", help="queues to consume, comma-separated")
    p.add_argument("--concurrency", type=int, default=16,
                   help="messages held and handled at once (the credit)")
    p.add_argument("--name", help="worker name shown in mandrill-ctl stats (default host-pid)")
    p.add_argument("--grace", type=duration, default=30.0,
                   help="SIGTERM/SIGINT: time for running restarts before they are nacked")
    p.add_argument("--retry-initial", type=duration, default=0.5,
                   help="nack delay after a failed first attempt; doubles per attempt")
    p.add_argument("--retry-max", type=duration, default=60.0, help="longest nack delay")
    p.add_argument("--heartbeat-ms", type=int, default=1000,
                   help="heartbeat interval until the broker sets one")
    p.add_argument("--reconnect-max", type=duration, default=5.0,
                   help="longest pause between reconnection attempts")
    p.add_argument("--restart-ms", type=restart_range, default=(50, 200),
                   help="simulated restart latency MIN:MAX (ms)")
    p.add_argument("--fail-rate", type=fail_rate, default=0.0,
                   help="fraction of restarts that fail (nack)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0: random)")
    p.add_argument("--ledger", help="SQLite file recording every processed delivery")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "warn", "error"])
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 64
    logging.basicConfig(
        level=getattr(logging, {"warn": "WARNING"}.get(args.log_level, args.log_level.upper())),
        format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s")
    if args.concurrency < 1:
        print("restart_worker: --concurrency must be at least 1", file=sys.stderr)
        return 64
    if not args.cells and not args.broker:
        args.broker = "tcp://127.0.0.1:5555"
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    rng = random.Random(args.seed or None)
    lo, hi = args.restart_ms
    try:
        ledger = Ledger(args.ledger, name) if args.ledger else None
    except sqlite3.Error as e:
        print(f"restart_worker: --ledger: cannot open ledger '{args.ledger}': {e}",
              file=sys.stderr)
        return 64

    async def handle(msg):
        latency = rng.randint(lo, hi) / 1000.0
        fails = args.fail_rate > 0 and rng.random() < args.fail_rate
        host = host_of(msg.payload)
        # The restart first, then its outcome in the ledger, then the ack (or nack). A
        # cancellation (lost lease, shutdown) propagates from the sleep: nothing is recorded.
        await asyncio.sleep(latency)
        error = f"restart of {host} failed (simulated)" if fails else None
        if ledger is not None:
            await ledger.record(msg, "failed" if fails else "restarted", error)
        if fails:
            raise RuntimeError(error)

    async def run():
        try:
            consumer = Consumer(args.broker, cells=args.cells, queues=args.queue, handler=handle,
                                concurrency=args.concurrency, grace=args.grace,
                                retry_initial=args.retry_initial, retry_max=args.retry_max,
                                key=args.key, broker_key=args.broker_key, name=name,
                                heartbeat_ms=args.heartbeat_ms,
                                reconnect_max=args.reconnect_max, install_signal_handlers=True)
        except MandrillError as e:
            print(f"restart_worker: {e}", file=sys.stderr)
            return 64
        if ledger is not None:
            ledger.start()
        log.info("worker %s consuming %s from %s (concurrency %d, restarts %d-%d ms, fail rate "
                 "%g%s)", name, args.queue, args.cells or args.broker, args.concurrency, lo, hi,
                 args.fail_rate, f", ledger {args.ledger}" if args.ledger else "")
        try:
            await consumer.run()
        except MandrillError as e:
            log.error("%s", e)
            return 1
        finally:
            if ledger is not None:
                await ledger.stop()
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
