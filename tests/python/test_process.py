"""Consumers and publishers as separate processes: SIGTERM drains a consumer (short handlers
finish and are acked, long ones are nacked and go to another consumer, exit 0), and the
example worker and publisher work end to end with their ledger."""
import asyncio
import os
import signal
import sqlite3
import sys
import textwrap

from conftest import PYTHON_DIR, WAIT, python_env, run, stats_until
from mandrill import Consumer, Publisher

EXAMPLES = os.path.join(PYTHON_DIR, "examples")

DRAIN_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from mandrill import Consumer

    async def handler(msg):
        seconds = float(msg.payload.decode().split()[1])
        print("start", msg.id, flush=True)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            print("cancelled", msg.id, flush=True)
            raise
        print("done", msg.id, flush=True)

    consumer = Consumer(sys.argv[1], queues=["drain"], handler=handler, concurrency=10,
                        grace=float(sys.argv[2]), install_signal_handlers=True)
    asyncio.run(consumer.run())
    print("exit", consumer.counters["acked"], consumer.counters["nacked_shutdown"], flush=True)
""")


async def read_lines(proc, lines, want, timeout=WAIT):
    """Reads the child's stdout into `lines` until want(lines) holds (bounded)."""
    async def reader():
        while not want(lines):
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError(f"the child exited early; its output: {lines}")
            lines.append(line.decode().split())
    await asyncio.wait_for(reader(), timeout)


def test_sigterm_drains_short_handlers_and_nacks_long_ones(broker, tmp_path):
    script = tmp_path / "drain_worker.py"
    script.write_text(DRAIN_SCRIPT)
    short = [f"short-{i}" for i in range(4)]
    long = [f"long-{i}" for i in range(3)]

    async def main():
        async with await Publisher.connect(broker.endpoint) as pub:
            await asyncio.gather(*(pub.publish("drain", b"sleep 1.0", id=i) for i in short),
                                 *(pub.publish("drain", b"sleep 60", id=i) for i in long))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), broker.endpoint, "2.5", stdout=asyncio.subprocess.PIPE,
            env=python_env())
        try:
            lines = []
            await read_lines(proc, lines, lambda ls: sum(1 for l in ls if l[0] == "start") == 7)
            proc.send_signal(signal.SIGTERM)  # while every handler runs
            rest = (await asyncio.wait_for(proc.stdout.read(), WAIT)).decode()
            lines += [l.split() for l in rest.splitlines()]
            assert await asyncio.wait_for(proc.wait(), WAIT) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        done = {l[1] for l in lines if l[0] == "done"}
        cancelled = {l[1] for l in lines if l[0] == "cancelled"}
        assert done == set(short) and cancelled == set(long), lines
        assert ["exit", "4", "3"] in lines
        q = broker.queue("drain")
        assert (q["acked"], q["nacked"], q["ready"], q["in_flight"]) == (4, 3, 3, 0)

        # The long ones were nacked with delay 0: a second consumer gets them at once.
        again = {}
        got = asyncio.Event()

        async def handler(msg):
            again[msg.id] = msg.attempt
            if len(again) == 3:
                got.set()

        consumer = Consumer(broker.endpoint, queues=["drain"], handler=handler)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(got.wait(), WAIT)
        consumer.stop()
        await asyncio.wait_for(task, WAIT)
        assert again == {i: 2 for i in long}
        q = broker.queue("drain")
        assert (q["acked"], q["ready"]) == (7, 0)
    run(main())


def test_example_worker_and_publisher_with_a_ledger(make_broker, tmp_path):
    broker = make_broker(["--max-deliveries", "100"])  # 30% failures never dead-letter one
    ledger = tmp_path / "ledger.db"

    async def main():
        pub = await asyncio.create_subprocess_exec(
            sys.executable, os.path.join(EXAMPLES, "publish.py"), "--broker", broker.endpoint,
            "--queue", "restarts", "--count", "40", "--id-prefix", "ex",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=python_env())
        out, err = await asyncio.wait_for(pub.communicate(), WAIT)
        assert pub.returncode == 0, err.decode()
        ids = set(out.decode().split())
        assert ids == {f"ex-{i}" for i in range(1, 41)}
        worker = await asyncio.create_subprocess_exec(
            sys.executable, os.path.join(EXAMPLES, "restart_worker.py"), "--broker",
            broker.endpoint, "--queue", "restarts", "--concurrency", "8", "--restart-ms", "5:20",
            "--fail-rate", "0.3", "--seed", "7", "--retry-initial", "10ms", "--retry-max", "50ms",
            "--ledger", str(ledger), "--name", "py-example", "--log-level", "warning",
            stderr=asyncio.subprocess.PIPE, env=python_env())
        try:
            await stats_until(broker, lambda s: s["queues"]["restarts"]["acked"] == 40,
                              what="every restart acked")
            worker.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(worker.communicate(), WAIT)
            assert worker.returncode == 0, err.decode()
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        return ids

    ids = run(main())
    db = sqlite3.connect(str(ledger))
    rows = db.execute("SELECT message_id, queue, attempt, worker, at_ms, outcome, error "
                      "FROM processed").fetchall()
    restarted = [r for r in rows if r[5] == "restarted"]
    failed = [r for r in rows if r[5] == "failed"]
    assert sorted(r[0] for r in restarted) == sorted(ids)  # each restarted exactly once
    assert failed, "a fail rate of 0.3 over 40+ attempts failed none"
    assert all(r[6].startswith("restart of cattle-") and r[6].endswith("failed (simulated)")
               for r in failed)
    assert all(r[1] == "restarts" and r[3] == "py-example" and r[4] > 0 for r in rows)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    q = broker.queue("restarts")
    assert q["nacked"] == len(failed) and q["ready"] == 0
