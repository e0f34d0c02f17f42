"""The broker SIGKILLed mid-way and restarted on its journal: nothing confirmed is lost."""
import asyncio
import signal

import pytest

from conftest import WAIT, run, stats_until, until
from mandrill import Consumer, LeaseLost, Publisher


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_broker_killed_and_restarted_loses_no_confirmed_message(broker, sig):
    # SIGKILL: no flush, no DISCONNECT; SIGTERM: the broker refuses what arrives SHUTTING_DOWN
    # (retried), sends its last confirms and DISCONNECT, and exits.
    n = 3000

    async def main():
        loop = asyncio.get_running_loop()
        processed = set()
        lost = []
        slow_running = 0
        killed = asyncio.Event()
        confirmed = set()

        def maybe_kill():
            # Mid-way, while publishing and consuming, with a slow handler running.
            if not killed.is_set() and len(confirmed) >= n // 3 and slow_running:
                broker.kill(sig)
                killed.set()

        async def handler(msg):
            nonlocal slow_running
            # Every 50th message delivered before the kill is slow: it runs until the consumer
            # learns (from the new broker's WELCOME) that its lease is gone.
            slow = not killed.is_set() and msg.id.endswith("0") and msg.id[-2] in "05"
            try:
                if slow:
                    slow_running += 1
                    maybe_kill()
                    await asyncio.sleep(60)
                else:
                    await asyncio.sleep(0.002)
            except LeaseLost:  # running when the broker died: its new incarnation redelivers it
                lost.append(msg.id)
                raise
            finally:
                if slow:
                    slow_running -= 1
            processed.add(msg.id)

        consumer = Consumer(broker.endpoint, queues=["jobs"], handler=handler, concurrency=64,
                            reconnect_max=0.5)
        consuming = asyncio.create_task(consumer.run())
        pub = await Publisher.connect(broker.endpoint, window=200, timeout=90,
                                      confirm_timeout=3.0, reconnect_max=0.5)
        before = broker.stats()["broker_id"]

        async def one(i):
            confirmed.add(await pub.publish("jobs", f"restart h-{i}".encode(), id=f"job-{i}"))
            maybe_kill()

        publishing = asyncio.gather(*(one(i) for i in range(n)))
        await asyncio.wait_for(killed.wait(), WAIT)
        killed_at = len(confirmed)
        # Restart on the same port and data dir (off the loop: it waits for STATS).
        await loop.run_in_executor(None, broker.start)
        assert broker.stats()["broker_id"] != before
        await asyncio.wait_for(publishing, 90)  # every publish confirmed, retried across the kill
        assert len(confirmed) == n and killed_at < n
        await until(lambda: confirmed <= processed, timeout=60,
                    what=lambda: f"{len(confirmed - processed)} confirmed ids not processed")
        await stats_until(broker, lambda s: s["queues"]["jobs"]["ready"] == 0
                          and s["queues"]["jobs"]["in_flight"] == 0, what="an empty queue")
        consumer.stop()
        await asyncio.wait_for(consuming, WAIT)
        await pub.close()
        assert confirmed - processed == set()  # LOST 0
        # The slow handlers running at the kill learnt it from the new broker's WELCOME.
        assert lost and consumer.counters["lease_lost"] >= len(lost)
        assert not set(lost) - processed and slow_running == 0

    run(main(), timeout=180)


def test_consumer_reconnects_to_a_broker_that_froze(make_broker):
    # SIGSTOP: the connection stays up but the broker falls silent. After 3 silent heartbeat
    # intervals the consumer re-creates its socket and announces itself again (same instance);
    # once the broker runs again the work in progress is settled exactly once.
    broker = make_broker(["--heartbeat-ms", "300"])

    async def main():
        async with await Publisher.connect(broker.endpoint) as pub:
            await pub.publish("frozen", b"restart h", id="f-1")
        started = asyncio.Event()
        release = asyncio.Event()
        runs = []

        async def handler(msg):
            runs.append(msg.attempt)
            started.set()
            await release.wait()

        consumer = Consumer(broker.endpoint, queues=["frozen"], handler=handler,
                            reconnect_max=0.5)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(started.wait(), WAIT)
        broker.proc.send_signal(signal.SIGSTOP)
        try:
            await until(lambda: consumer.counters["reconnects"] >= 1, what="a reconnect")
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        release.set()
        s = await stats_until(broker, lambda s: s["queues"]["frozen"]["acked"] == 1
                              and s["queues"]["frozen"]["in_flight"] == 0, what="the ack")
        consumer.stop()
        await asyncio.wait_for(task, WAIT)
        assert s["queues"]["frozen"]["ready"] == 0
        assert len([w for w in s["workers"] if w["name"] == consumer.name]) <= 1
        assert runs[0] == 1
    run(main())
