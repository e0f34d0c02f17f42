"""The Python client against a real mandrill-broker: publish/confirm, consume/ack,
redelivery after a handler exception, lease extension, lease loss, typed errors."""
import asyncio
import signal
import subprocess
import time

import pytest

from conftest import broker_binary, run, stats_until, until
from mandrill import (Consumer, InvalidArgument, LeaseLost, Publisher, PublishTimeout, QueueFull,
                      StorageFailed, TooLarge)


def test_publish_returns_once_confirmed(broker):
    async def main():
        async with await Publisher.connect(broker.endpoint, window=64) as pub:
            ids = await asyncio.gather(*(pub.publish("orders", f"restart h-{i}".encode())
                                         for i in range(300)))
            assert len(set(ids)) == 300  # generated ids are unique
            # The same id again: confirmed (deduplicated by the broker), stored once.
            assert await pub.publish("orders", b"x", id="fixed-1") == "fixed-1"
            assert await pub.publish("orders", b"x", id="fixed-1") == "fixed-1"
            assert pub.unconfirmed == 0
            assert pub.counters["confirmed"] == 302
            # Nothing of a settled message is kept past the next timer pass (a regression: the
            # resend records used to hold one confirm-timeout of traffic).
            await until(lambda: not pub._deadlines and not pub._admitted, timeout=10,
                        what="the publisher's records of settled messages dropped")
        q = broker.queue("orders")
        assert q["published"] == 301 and q["ready"] == 301 and q["deduplicated"] == 1
    run(main())


def test_consume_acks_every_message(broker):
    async def main():
        async with await Publisher.connect(broker.endpoint) as pub:
            sent = set(await asyncio.gather(
                *(pub.publish("work", b"p", headers={"n": str(i)}) for i in range(200))))
        seen = {}
        done = asyncio.Event()

        async def handler(msg):
            assert msg.queue == "work" and msg.payload == b"p" and msg.attempt == 1
            assert msg.lease_deadline > time.time()
            seen[msg.id] = msg.header("n")
            if len(seen) == len(sent):
                done.set()

        consumer = Consumer(broker.endpoint, queues=["work"], handler=handler, concurrency=32)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), 30)
        consumer.stop()
        await asyncio.wait_for(task, 30)
        assert set(seen) == sent
        assert sorted(int(v) for v in seen.values()) == list(range(200))
        q = broker.queue("work")
        assert (q["acked"], q["ready"], q["in_flight"], q["nacked"]) == (200, 0, 0, 0)
        assert consumer.counters["acked"] == 200
    run(main())


def test_handler_exception_nacks_and_the_message_comes_back(broker):
    async def main():
        async with await Publisher.connect(broker.endpoint) as pub:
            await pub.publish("flaky", b"restart h", id="m-1")
        attempts = []
        done = asyncio.Event()

        async def handler(msg):
            attempts.append(msg.attempt)
            if msg.attempt == 1:
                raise RuntimeError("restart of h failed (simulated)")
            done.set()

        consumer = Consumer(broker.endpoint, queues=["flaky"], handler=handler,
                            retry_initial=0.05, retry_max=1.0)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), 30)
        consumer.stop()
        await asyncio.wait_for(task, 30)
        assert attempts == [1, 2]
        q = broker.queue("flaky")
        assert (q["nacked"], q["acked"], q["ready"], q["redelivered"]) == (1, 1, 0, 1)
        assert consumer.counters["nacked_error"] == 1
    run(main())


def test_lease_is_extended_while_the_handler_runs(make_broker):
    broker = make_broker(["--lease-ms", "600"])

    async def main():
        async with await Publisher.connect(broker.endpoint) as pub:
            await pub.publish("slow", b"restart h", id="slow-1")
        attempts = []
        done = asyncio.Event()

        async def handler(msg):
            attempts.append(msg.attempt)
            first_deadline = msg.lease_deadline
            await asyncio.sleep(1.8)  # three leases
            assert msg.lease_deadline > first_deadline  # extensions moved it on
            done.set()

        consumer = Consumer(broker.endpoint, queues=["slow"], handler=handler)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), 30)
        s = await stats_until(broker, lambda s: s["queues"]["slow"]["acked"] == 1,
                              what="the ack")
        consumer.stop()
        await asyncio.wait_for(task, 30)
        q = s["queues"]["slow"]
        assert attempts == [1]
        assert (q["acked"], q["expired"], q["redelivered"], q["ready"]) == (1, 0, 0, 0)
        assert consumer.counters["extends_sent"] >= 2
        assert consumer.counters["lease_lost"] == 0
    run(main())


def test_lost_lease_raises_lease_lost_in_the_handler(make_broker):
    # The handler blocks the event loop past its lease (a stuck handler): the lease expires and
    # the message is delivered again; the next EXTEND is answered LEASE_LOST, which cancels the
    # first handler with LeaseLost at its next await. Nothing is settled for that delivery.
    broker = make_broker(["--lease-ms", "400"])

    async def main():
        async with await Publisher.connect(broker.endpoint) as pub:
            await pub.publish("stuck", b"restart h", id="stuck-1")
        seen = []
        lost = asyncio.Event()
        acked = asyncio.Event()

        async def handler(msg):
            if msg.attempt > 1:
                seen.append(("ran", msg.attempt))
                acked.set()
                return
            time.sleep(1.0)  # blocks the loop: no extension can leave
            try:
                await asyncio.wait_for(inner(), 30)
            except LeaseLost as e:
                seen.append(("lost", msg.attempt, e.ids))
                lost.set()
                raise

        async def inner():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:  # wait_for passed the cancellation on
                seen.append(("inner cancelled",))
                raise

        consumer = Consumer(broker.endpoint, queues=["stuck"], handler=handler, concurrency=4)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(asyncio.gather(lost.wait(), acked.wait()), 30)
        s = await stats_until(broker, lambda s: s["queues"]["stuck"]["acked"] == 1,
                              what="the second attempt's ack")
        consumer.stop()
        await asyncio.wait_for(task, 30)
        assert ("lost", 1, ["stuck-1"]) in seen and any(e[0] == "ran" for e in seen)
        assert ("inner cancelled",) in seen
        q = s["queues"]["stuck"]
        # While the loop was blocked the redelivery may have expired too (then a third attempt
        # is the one acked): at least one expiry, one ack, never a nack.
        assert (q["acked"], q["nacked"], q["ready"]) == (1, 0, 0) and q["expired"] >= 1
        assert consumer.counters["lease_lost"] >= 1
    run(main())


def test_typed_errors(make_broker):
    broker = make_broker(["--max-payload-bytes", "1000"])

    async def main():
        async with await Publisher.connect(broker.endpoint, timeout=20) as pub:
            with pytest.raises(InvalidArgument) as e:
                await pub.publish("no spaces allowed", b"x")
            assert e.value.code == 104 and "queue name" in e.value.reason
            with pytest.raises(InvalidArgument):
                await pub.publish("ok", b"x", id="has space")
            with pytest.raises(TooLarge):
                await pub.publish("ok", b"x" * 2000)
            # Over the limit with its headers: refused alone, by id.
            with pytest.raises(TooLarge):
                await pub.publish("ok", b"x" * 900, headers={"h": "y" * 200})
            # A payload over the limit makes the broker refuse its whole frame (it cannot decode
            # it): the publisher finds which message that was; the others are confirmed.
            results = await asyncio.gather(
                *(pub.publish("ok", b"y" * (5000 if i == 7 else 10), id=f"m-{i}")
                  for i in range(20)), return_exceptions=True)
            assert isinstance(results[7], TooLarge), results[7]
            assert [r for i, r in enumerate(results) if i != 7] == [
                f"m-{i}" for i in range(20) if i != 7]
            # The publisher carries on after refusals.
            assert await pub.publish("ok", b"x", id="fine") == "fine"

        # A consumer the broker will not have: run() raises the refusal.
        consumer = Consumer(broker.endpoint, queues=["bad queue"], handler=None)
        with pytest.raises(InvalidArgument):
            await asyncio.wait_for(consumer.run(), 30)
    run(main())


def test_publish_times_out_without_a_broker():
    async def main():
        from conftest import free_port
        pub = await Publisher.connect(f"tcp://127.0.0.1:{free_port()}", timeout=0.3)
        t = time.monotonic()
        with pytest.raises(PublishTimeout):
            await pub.publish("q", b"x")
        assert time.monotonic() - t < 5
        await pub.close()
    run(main())


def test_queue_full_is_retried_until_the_deadline(make_broker):
    broker = make_broker(["--queue-limit", "5"])

    async def main():
        async with await Publisher.connect(broker.endpoint, timeout=1.0) as pub:
            await asyncio.gather(*(pub.publish("full", b"x") for _ in range(5)))
            t = time.monotonic()
            with pytest.raises(QueueFull):  # retried with backoff, raised at the deadline
                await pub.publish("full", b"x")
            assert 0.9 < time.monotonic() - t < 10
            assert pub.counters["refused_for_now"] >= 2
        # A queue that drains meanwhile: the retries get through.
        async with await Publisher.connect(broker.endpoint, timeout=30) as pub:
            more = asyncio.gather(*(pub.publish("full", b"x", id=f"late-{i}") for i in range(3)))
            await until(lambda: pub.counters["refused_for_now"] >= 3, what="refusals")

            async def handler(msg):
                pass
            consumer = Consumer(broker.endpoint, queues=["full"], handler=handler)
            consuming = asyncio.create_task(consumer.run())
            assert await asyncio.wait_for(more, 30) == [f"late-{i}" for i in range(3)]
            consumer.stop()
            await asyncio.wait_for(consuming, 30)
    run(main())


def test_storage_failed_is_retried_until_the_disk_recovers(make_broker):
    if "--fault-injection" not in subprocess.run([broker_binary(), "--help"],
                                                 capture_output=True, text=True).stdout:
        pytest.skip("this mandrill-broker has no test hooks (a Release build)")
    broker = make_broker(["--fault-injection"])

    def wait_log(text):
        deadline = time.monotonic() + 30
        while text not in broker.log():
            assert time.monotonic() < deadline, f"no '{text}' in the broker log"
            time.sleep(0.02)

    async def main():
        loop = asyncio.get_running_loop()
        async with await Publisher.connect(broker.endpoint, timeout=30) as pub:
            # SIGUSR1: journal writes fail (ENOSPC) until the next SIGUSR1.
            broker.proc.send_signal(signal.SIGUSR1)
            await loop.run_in_executor(None, wait_log, "journal writes FAIL")
            stored = asyncio.ensure_future(pub.publish("disk", b"x", id="disk-1"))
            await until(lambda: pub.counters["refused_for_now"] > 0, what="a refusal")
            broker.proc.send_signal(signal.SIGUSR1)
            assert await asyncio.wait_for(stored, 30) == "disk-1"
        async with await Publisher.connect(broker.endpoint, timeout=1.0) as pub:
            broker.proc.send_signal(signal.SIGUSR1)
            await loop.run_in_executor(None, wait_log, "fault injection #3")
            with pytest.raises(StorageFailed):
                await pub.publish("disk", b"x", id="disk-2")
    run(main())
