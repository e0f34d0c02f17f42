#!/usr/bin/env python3
"""The runtime benchmarks' asyncio equivalents; prints the same "name value" lines.

spawn   TaskGroup.create_task of trivial coroutines, steady (waves of 1,000) and burst; best of
        3 rounds (as the C++ side), plus the first burst round alone (cold)
post    loop.call_soon_threadsafe throughput from one producer thread
wake    call_soon_threadsafe latency from an idle loop (p50/p99, microseconds)
timers  loop.call_later: 1,000,000 pending timers, insert and fire
The *_cpu_* lines are the loop thread's CPU time for the same run (time.thread_time_ns).
SPAWN_TASKS defaults to 200,000 rather than the C++ side's 1,000,000 only to keep the run
short: asyncio's cost per task is the same at 1,000,000 within noise (ASYNCIO_SPAWN_TASKS).
Usage: asyncio_bench.py [spawn|post|wake|timers]...  (default: all)
"""
import asyncio
import os
import random
import sys
import threading
import time

SPAWN_TASKS = int(os.environ.get("ASYNCIO_SPAWN_TASKS", "200000"))
POSTS = int(os.environ.get("ASYNCIO_POSTS", "1000000"))
WAKE_SAMPLES = 2000
TIMERS = 1_000_000


async def trivial():
    return None


async def spawn_burst(n):
    start = time.perf_counter_ns()
    cpu = time.thread_time_ns()
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(trivial())
    return (time.perf_counter_ns() - start) / n, (time.thread_time_ns() - cpu) / n


async def spawn_steady(n, wave=1000):
    start = time.perf_counter_ns()
    cpu = time.thread_time_ns()
    async with asyncio.TaskGroup() as tg:
        for _ in range(0, n, wave):
            for _ in range(wave):
                tg.create_task(trivial())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
    return (time.perf_counter_ns() - start) / n, (time.thread_time_ns() - cpu) / n


def bench_spawn():
    burst, steady = [], []
    for _ in range(3):  # interleaved like the C++ side
        burst.append(asyncio.run(spawn_burst(SPAWN_TASKS)))
        steady.append(asyncio.run(spawn_steady(SPAWN_TASKS)))
    print(f"spawn_steady_ns_per_task {min(w for w, _ in steady):.1f}")
    print(f"spawn_steady_cpu_ns_per_task {min(c for _, c in steady):.1f}")
    print(f"spawn_burst_ns_per_task {min(w for w, _ in burst):.1f}")
    print(f"spawn_burst_cpu_ns_per_task {min(c for _, c in burst):.1f}")
    print(f"spawn_burst_cold_ns_per_task {burst[0][0]:.1f}")


async def post_throughput(n):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = [0]
    times = {}

    def cb():
        count[0] += 1
        if count[0] == n:
            times["end"] = time.perf_counter()
            done.set_result(None)

    def producer():
        times["start"] = time.perf_counter()
        for _ in range(n):
            loop.call_soon_threadsafe(cb)

    t = threading.Thread(target=producer)
    t.start()
    await done
    t.join()
    return n / (times["end"] - times["start"])


async def wake_latency(samples):
    loop = asyncio.get_running_loop()
    lat = []
    ack = threading.Event()

    def cb(sent):
        lat.append((time.perf_counter_ns() - sent) / 1000)
        ack.set()

    def producer():
        for _ in range(samples):
            time.sleep(0.0002)  # let the loop go idle
            ack.clear()
            loop.call_soon_threadsafe(cb, time.perf_counter_ns())
            ack.wait()

    await asyncio.to_thread(producer)
    lat.sort()
    return lat[len(lat) // 2], lat[len(lat) * 99 // 100]


async def timers(n):
    loop = asyncio.get_running_loop()
    rng = random.Random(42)
    fired = [0]
    done = loop.create_future()

    def cb():
        fired[0] += 1
        if fired[0] == n:
            done.set_result(None)

    start = time.perf_counter_ns()
    cpu = time.thread_time_ns()
    for _ in range(n):
        loop.call_later(rng.randint(0, 1000) / 1e6, cb)
    insert = (time.perf_counter_ns() - start) / n
    await done
    return (insert, (time.perf_counter_ns() - start) / n,
            (time.thread_time_ns() - cpu) / n)


def main():
    want = set(sys.argv[1:]) or {"spawn", "post", "wake", "timers"}
    print(f"nproc {os.cpu_count()}")
    if "spawn" in want:
        bench_spawn()
    if "post" in want:
        print(f"post_callbacks_per_s {asyncio.run(post_throughput(POSTS)):.0f}")
    if "wake" in want:
        p50, p99 = asyncio.run(wake_latency(WAKE_SAMPLES))
        print(f"wake_p50_us {p50:.1f}")
        print(f"wake_p99_us {p99:.1f}")
    if "timers" in want:
        insert, total, total_cpu = asyncio.run(timers(TIMERS))
        print(f"timers_insert_ns {insert:.1f}")
        print(f"timers_insert_fire_ns {total:.1f}")
        print(f"timers_insert_fire_cpu_ns {total_cpu:.1f}")


if __name__ == "__main__":
    main()
