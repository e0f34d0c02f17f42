#!/usr/bin/env python3
"""The Python client's throughput beside the C++ CLIs', against one broker, in one run.

For each round: the Python publisher and mandrill-publish each publish N messages of
--payload-bytes with confirms (window --window: many publishes in flight), then the Python
consumer (no-op handler, --concurrency) and ``mandrill-worker --handler noop`` each consume
one of those queues. Publishers report their own rate (first publish to last confirm;
mandrill-publish's --json-summary "rate"). Consumers are timed the same way for both, from
outside: STATS polled every 10 ms, from the first ack the broker counts to the last (the
Python consumer's own figure, first delivery to last handler return, is shown beside it).
Every client runs as its own process; rounds alternate which side goes first (this machine's
speed drifts); medians are printed with `nproc`.

    python3 tests/bench/python/bench.py                   # from the project root
    python3 tests/bench/python/bench.py -n 200000 --rounds 3 --broker-bin build/release/bin/mandrill-broker

The broker binary: --broker-bin, else $MANDRILL_BROKER, else build/release/bin, else the first
build/*/bin; mandrill-publish and mandrill-worker from the same directory.
"""
from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PYTHON_DIR = os.path.join(ROOT, "shared", "python")
sys.path.insert(0, PYTHON_DIR)

from mandrill import Consumer, Publisher, admin  # noqa: E402


# -- roles run as child processes ------------------------------------------------------------

async def role_publish(args):
    pub = await Publisher.connect(args.broker, window=args.window, timeout=120)
    payload = b"p" * args.payload_bytes
    n = args.count
    per = [n // args.window + (1 if i < n % args.window else 0) for i in range(args.window)]

    async def publisher(k):
        publish = pub.publish
        q = args.queue
        for _ in range(k):
            await publish(q, payload)

    await pub.publish(args.queue + "-warmup", payload)  # connected before the clock starts
    start = time.perf_counter()
    await asyncio.gather(*(publisher(k) for k in per if k))
    elapsed = time.perf_counter() - start
    await pub.close()
    print(json.dumps({"count": n, "seconds": elapsed, "rate": n / elapsed}))


async def role_consume(args):
    n = args.count
    seen = 0
    first = last = 0.0
    consumer = None

    async def handler(msg):
        nonlocal seen, first, last
        if seen == 0:
            first = time.perf_counter()
        seen += 1
        if seen == n:
            last = time.perf_counter()
            consumer.stop()

    consumer = Consumer(args.broker, queues=[args.queue], handler=handler,
                        concurrency=args.concurrency, name="py-bench")
    await consumer.run()
    print(json.dumps({"count": seen, "seconds": last - first,
                      "rate": (seen - 1) / (last - first) if last > first else 0.0}))


# -- the orchestrator ------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_broker(arg):
    for cand in [arg, os.environ.get("MANDRILL_BROKER"),
                 os.path.join(ROOT, "build", "release", "bin", "mandrill-broker"),
                 *sorted(glob.glob(os.path.join(ROOT, "build", "*", "bin", "mandrill-broker")))]:
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    sys.exit("bench: no mandrill-broker (give --broker-bin or set MANDRILL_BROKER)")


def acked(endpoint, queue):
    return admin.stats_sync(endpoint, timeout=10)["queues"].get(queue, {}).get("acked", 0)


def time_consumer(endpoint, queue, n, proc, timeout=300):
    """(msgs/s from the broker's view: first ack seen to the n-th, STATS every 10 ms)."""
    deadline = time.monotonic() + timeout
    t0 = a0 = None
    while True:
        a = acked(endpoint, queue)
        now = time.perf_counter()
        if t0 is None and a > 0:
            t0, a0 = now, a
        if a >= n:
            return (n - a0) / (now - t0) if now > t0 else float("nan")
        if proc.poll() is not None and proc.returncode != 0:
            raise RuntimeError(f"consumer exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"consumer did not ack {n} within {timeout} s (acked {a})")
        time.sleep(0.01)


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_python_publish(endpoint, queue, a):
    out = subprocess.run([sys.executable, __file__, "--role", "publish", "--broker", endpoint,
                          "--queue", queue, "-n", str(a.n), "--window", str(a.window),
                          "--payload-bytes", str(a.payload_bytes)],
                         check=True, capture_output=True, env=child_env(), timeout=600)
    return json.loads(out.stdout)["rate"]


def run_cpp_publish(bindir, endpoint, queue, a):
    out = subprocess.run([os.path.join(bindir, "mandrill-publish"), "--broker", endpoint,
                          "--queue", queue, "--count", str(a.n), "--payload-bytes",
                          str(a.payload_bytes), "--window", str(a.window), "--json-summary",
                          "--log-level", "error"], check=True, capture_output=True, timeout=600)
    return json.loads(out.stdout)["rate"]


def run_python_consume(endpoint, queue, a):
    proc = subprocess.Popen([sys.executable, __file__, "--role", "consume", "--broker", endpoint,
                             "--queue", queue, "-n", str(a.n), "--concurrency",
                             str(a.concurrency)], stdout=subprocess.PIPE, env=child_env())
    try:
        outside = time_consumer(endpoint, queue, a.n, proc)
        out, _ = proc.communicate(timeout=60)
        inside = json.loads(out)["rate"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return outside, inside


def run_cpp_consume(bindir, endpoint, queue, a):
    proc = subprocess.Popen([os.path.join(bindir, "mandrill-worker"), "--broker", endpoint,
                             "--queue", queue, "--handler", "noop", "--concurrency",
                             str(a.concurrency), "--name", "cpp-bench", "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return time_consumer(endpoint, queue, a.n, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--role", choices=["publish", "consume"], help=argparse.SUPPRESS)
    p.add_argument("--broker", help=argparse.SUPPRESS)
    p.add_argument("--queue", help=argparse.SUPPRESS)
    p.add_argument("--count", "-n", dest="n", type=int, default=200_000,
                   help="messages per measurement [200000]")
    p.add_argument("--payload-bytes", type=int, default=100)
    p.add_argument("--window", type=int, default=2000, help="publishes in flight [2000]")
    p.add_argument("--concurrency", type=int, default=256, help="consumer credit [256]")
    p.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported [3]")
    p.add_argument("--fsync", default="always", help="broker --fsync [always]")
    p.add_argument("--broker-bin", help="mandrill-broker to start")
    p.add_argument("--keep", action="store_true", help="keep the broker's data dir and log")
    a = p.parse_args()
    if a.role:
        a.count = a.n
        asyncio.run(role_publish(a) if a.role == "publish" else role_consume(a))
        return

    broker_bin = find_broker(a.broker_bin)
    bindir = os.path.dirname(broker_bin)
    for tool in ("mandrill-publish", "mandrill-worker"):
        if not os.access(os.path.join(bindir, tool), os.X_OK):
            sys.exit(f"bench: {tool} missing next to {broker_bin}")
    work = tempfile.mkdtemp(prefix="mandrill-py-bench.")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    log = open(os.path.join(work, "broker.log"), "wb")
    broker = subprocess.Popen([broker_bin, "--bind", endpoint, "--data-dir",
                               os.path.join(work, "data"), "--fsync", a.fsync,
                               "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    build = "?"
    cache = os.path.join(os.path.dirname(bindir), "CMakeCache.txt")
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("CMAKE_BUILD_TYPE:"):
                build = line.split("=", 1)[1].strip() or "(none)"
    print(f"python bench: nproc {os.cpu_count()}, python {sys.version.split()[0]}, broker "
          f"{broker_bin} ({build}), journal --fsync {a.fsync}; {a.n} messages of "
          f"{a.payload_bytes} B per measurement, window {a.window}, consumer concurrency "
          f"{a.concurrency}, {a.rounds} rounds", flush=True)
    results = {k: [] for k in ("py_pub", "cpp_pub", "py_con", "py_con_inside", "cpp_con")}
    try:
        admin.wait_until_up(endpoint, timeout=30)
        for r in range(a.rounds):
            py_q, cpp_q = f"py-{r}", f"cpp-{r}"
            order = [0, 1] if r % 2 == 0 else [1, 0]
            for side in order:
                if side == 0:
                    results["py_pub"].append(run_python_publish(endpoint, py_q, a))
                else:
                    results["cpp_pub"].append(run_cpp_publish(bindir, endpoint, cpp_q, a))
            for side in order:
                if side == 0:
                    outside, inside = run_python_consume(endpoint, py_q, a)
                    results["py_con"].append(outside)
                    results["py_con_inside"].append(inside)
                else:
                    results["cpp_con"].append(run_cpp_consume(bindir, endpoint, cpp_q, a))
            print(f"round {r + 1}: publish python {results['py_pub'][-1]:,.0f} / C++ "
                  f"{results['cpp_pub'][-1]:,.0f} msgs/s; consume python "
                  f"{results['py_con'][-1]:,.0f} (own view {results['py_con_inside'][-1]:,.0f}) "
                  f"/ C++ {results['cpp_con'][-1]:,.0f} msgs/s", flush=True)
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(30)
        except subprocess.TimeoutExpired:
            broker.kill()
        log.close()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"median of {a.rounds}: publish with confirms  python {med['py_pub']:,.0f} msgs/s   "
          f"mandrill-publish {med['cpp_pub']:,.0f} msgs/s ({med['py_pub'] / med['cpp_pub']:.0%})")
    print(f"median of {a.rounds}: consume, no-op handler python {med['py_con']:,.0f} msgs/s   "
          f"mandrill-worker --handler noop {med['cpp_con']:,.0f} msgs/s "
          f"({med['py_con'] / med['cpp_con']:.0%}); python's own view {med['py_con_inside']:,.0f}")
    print(f"nproc {os.cpu_count()}")


if __name__ == "__main__":
    main()
