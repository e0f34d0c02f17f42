"""Fixtures for the Python client tests: a real mandrill-broker per test (binary from
$MANDRILL_BROKER) on a free loopback port with a temp data dir, started and waited for by its
STATS answer (bounded), and always killed by PID at teardown."""
from __future__ import annotations

import asyncio
import glob
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON_DIR = os.path.join(ROOT, "shared", "python")
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

from mandrill import admin  # noqa: E402

# Sanitizer builds of the broker are 2-5x slower and the CI machine is small and busy: every
# wait is bounded, and generously.
START_TIMEOUT = 30.0
WAIT = 30.0


def broker_binary() -> str:
    path = os.environ.get("MANDRILL_BROKER")
    if path:
        return path
    found = sorted(glob.glob(os.path.join(ROOT, "build", "*", "bin", "mandrill-broker")))
    if not found:
        pytest.fail("set MANDRILL_BROKER to the mandrill-broker binary (none found in build/*/bin)")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One mandrill-broker process; start() again restarts it on the same port and data dir."""

    def __init__(self, workdir, flags=(), name="broker"):
        self.workdir = str(workdir)
        self.name = name
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.data_dir = os.path.join(self.workdir, f"{name}-data")
        self.flags = list(flags)
        self.proc = None
        self.starts = 0
        self.stats_keys = {}  # key/broker_key for STATS when the broker runs with CURVE

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = os.path.join(self.workdir, f"{self.name}-{self.starts}.log")
        argv = [broker_binary(), "--bind", self.endpoint, "--data-dir", self.data_dir,
                "--log-level", "info"] + self.flags
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"broker exited with {self.proc.returncode}:\n{self.log()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"broker did not answer STATS within {timeout} s:\n"
                                     f"{self.log()}")
            try:
                return admin.stats_sync(self.endpoint, timeout=min(1.0, left), **self.stats_keys)
            except TimeoutError:
                pass

    def stats(self):
        return admin.stats_sync(self.endpoint, timeout=10.0, **self.stats_keys)

    def queue(self, name):
        return self.stats()["queues"].get(name, {})

    def kill(self, sig=signal.SIGKILL, timeout=WAIT):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        self.proc.wait(timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""


@pytest.fixture
def make_broker(tmp_path):
    started = []

    def make(flags=(), name=None, start=True):
        b = Broker(tmp_path, flags, name or f"broker{len(started) + 1}")
        started.append(b)
        if start:
            b.start()
        return b

    yield make
    for b in started:
        if b.proc is not None and b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait(10)


@pytest.fixture
def broker(make_broker):
    return make_broker()


def run(coro, timeout=60.0):
    """Runs a test coroutine with a bound on the whole of it."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def until(predicate, timeout=WAIT, what="condition", interval=0.02):
    """Polls a cheap local predicate (or broker STATS) until it holds, bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for "
                                 f"{what() if callable(what) else what}")
        await asyncio.sleep(interval)


async def stats_until(broker, predicate, timeout=WAIT, what="broker stats"):
    """Polls the broker's STATS (off the loop) until predicate(stats) holds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = await asyncio.get_running_loop().run_in_executor(None, broker.stats)
        if predicate(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last stats: "
                                 f"{last['queues']}")
        await asyncio.sleep(0.05)


def python_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
