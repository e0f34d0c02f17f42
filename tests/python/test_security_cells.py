"""CURVE keys and roles (docs/security.md) and cell maps with rendezvous placement."""
import asyncio
import collections
import os
import subprocess

import pytest

from conftest import WAIT, broker_binary, run, stats_until
from mandrill import Consumer, PermissionDenied, Publisher, PublishTimeout, keys
from mandrill.cells import Rendezvous


@pytest.fixture
def secured(make_broker, tmp_path):
    kd = tmp_path / "keys"
    kd.mkdir()
    pairs = {name: keys.write_key_files(str(kd), name)
             for name in ("broker", "billing-pub", "billing-worker", "ops", "stranger")}
    auth = tmp_path / "auth"
    auth.write_text(
        "# ROLE NAME PUBLIC_KEY PATTERNS\n"
        f"publisher billing-pub {pairs['billing-pub'].public.decode()} billing.*\n"
        f"worker billing-worker {pairs['billing-worker'].public.decode()} billing.*\n"
        f"admin ops {pairs['ops'].public.decode()}\n")
    b = make_broker(["--curve-key", str(kd / "broker.key"), "--auth-file", str(auth)],
                    start=False)
    b.stats_keys = dict(key=str(kd / "ops.key"), broker_key=str(kd / "broker.pub"))
    b.start()
    return b, kd


def test_curve_publish_consume_and_permission_denied(secured):
    broker, kd = secured
    broker_pub = str(kd / "broker.pub")

    async def main():
        async with await Publisher.connect(broker.endpoint, key=str(kd / "billing-pub.key"),
                                           broker_key=broker_pub, timeout=30) as pub:
            await asyncio.gather(*(pub.publish("billing.invoices", b"x", id=f"inv-{i}")
                                   for i in range(20)))
            with pytest.raises(PermissionDenied) as e:
                await pub.publish("audit", b"x")
            assert e.value.code == 208
        seen = set()
        done = asyncio.Event()

        async def handler(msg):
            seen.add(msg.id)
            if len(seen) == 20:
                done.set()

        consumer = Consumer(broker.endpoint, queues=["billing.invoices"], handler=handler,
                            key=str(kd / "billing-worker.key"), broker_key=broker_pub)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), WAIT)
        consumer.stop()
        await asyncio.wait_for(task, WAIT)
        await stats_until(broker, lambda s: s["queues"]["billing.invoices"]["acked"] == 20,
                          what="20 acks")
        # A worker key outside its patterns: the broker refuses its READY; run() raises.
        denied = Consumer(broker.endpoint, queues=["audit"], handler=handler,
                          key=str(kd / "billing-worker.key"), broker_key=broker_pub)
        with pytest.raises(PermissionDenied):
            await asyncio.wait_for(denied.run(), WAIT)
        # A key the broker does not list never gets through the handshake.
        async with await Publisher.connect(broker.endpoint, key=str(kd / "stranger.key"),
                                           broker_key=broker_pub, timeout=1.0) as pub:
            with pytest.raises(PublishTimeout):
                await pub.publish("billing.x", b"x")
    run(main())


def test_cells_place_ids_by_rendezvous_and_consume_every_cell(make_broker, tmp_path):
    cells = [make_broker(name=f"cell-{k}") for k in (1, 2, 3)]
    cell_map = tmp_path / "cells"
    cell_map.write_text("".join(f"{b.name} {b.endpoint}\n" for b in cells))
    ids = [f"order-{i}" for i in range(90)]
    rv = Rendezvous([b.name for b in cells])
    expected = [sum(1 for i in ids if rv.first(i) == k) for k in range(3)]

    async def main():
        async with await Publisher.connect(cells=str(cell_map)) as pub:
            await asyncio.gather(*(pub.publish("orders", b"restart h", id=i) for i in ids))
        # Each id went to its rendezvous cell: the same cell mandrill-publish picks.
        for k, b in enumerate(cells):
            assert b.queue("orders").get("published", 0) == expected[k]
        seen = set()
        done = asyncio.Event()

        async def handler(msg):
            seen.add(msg.id)
            if len(seen) == len(ids):
                done.set()

        consumer = Consumer(cells=str(cell_map), queues=["orders"], handler=handler,
                            concurrency=12)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), WAIT)
        consumer.stop()
        await asyncio.wait_for(task, WAIT)
        assert seen == set(ids)
        for k, b in enumerate(cells):
            await stats_until(b, lambda s: s["queues"]["orders"]["acked"] == expected[k],
                              what=f"{b.name}'s acks")
    run(main())


def test_publisher_fails_over_to_the_next_cell(make_broker, tmp_path):
    up, down = make_broker(name="cell-a"), make_broker(name="cell-b")
    cell_map = tmp_path / "cells"
    cell_map.write_text(f"{up.name} {up.endpoint}\n{down.name} {down.endpoint}\n")
    down.kill()
    rv = Rendezvous([up.name, down.name])
    ids = [f"job-{i}" for i in range(40)]
    to_down = [i for i in ids if rv.first(i) == 1]
    assert to_down

    async def main():
        async with await Publisher.connect(cells=str(cell_map), cell_failover=0.5,
                                           timeout=30) as pub:
            await asyncio.gather(*(pub.publish("jobs", b"x", id=i) for i in ids))
            assert pub.counters["moved"] >= len(to_down)
        # cell-b was unreachable past the failover: its ids went to their next cell.
        assert up.queue("jobs")["published"] == len(ids)
    run(main())


def keygen(name, key_dir):
    """A key pair made by mandrill-ctl keygen (beside the broker binary), as an operator would."""
    ctl = os.path.join(os.path.dirname(broker_binary()), "mandrill-ctl")
    subprocess.run([ctl, "keygen", name, "--dir", str(key_dir)], check=True, timeout=30,
                   stdout=subprocess.DEVNULL)
    return (key_dir / f"{name}.pub").read_text().strip()


def test_cells_with_curve_each_cell_its_own_key(make_broker, tmp_path):
    kd = tmp_path / "keys"
    kd.mkdir()
    names = ["cell-1", "cell-2", "cell-3"]
    client = {n: keygen(n, kd) for n in ("orders-pub", "orders-worker", "ops")}
    auth = tmp_path / "auth"
    auth.write_text(f"publisher orders-pub {client['orders-pub']} orders\n"
                    f"worker orders-worker {client['orders-worker']} orders\n"
                    f"admin ops {client['ops']}\n")
    cells = []
    for name in names:
        keygen(name, kd)
        b = make_broker(["--curve-key", str(kd / f"{name}.key"), "--auth-file", str(auth)],
                        name=name, start=False)
        b.stats_keys = dict(key=str(kd / "ops.key"), broker_key=str(kd / f"{name}.pub"))
        cells.append(b.start())
    assert len({(kd / f"{n}.pub").read_text() for n in names}) == 3  # three distinct keys
    cell_map = tmp_path / "cells"
    # Key paths relative to the map's directory, as the C++ clients read them.
    cell_map.write_text("".join(f"{b.name} {b.endpoint} keys/{b.name}.pub\n" for b in cells))
    ids = [f"order-{i}" for i in range(150)]
    rv = Rendezvous(names)
    expected = [sum(1 for i in ids if rv.first(i) == k) for k in range(3)]
    assert all(expected)

    async def main():
        async with await Publisher.connect(cells=str(cell_map), key=str(kd / "orders-pub.key"),
                                           timeout=30) as pub:
            await asyncio.gather(*(pub.publish("orders", b"restart h", id=i) for i in ids))
            assert pub.counters["confirmed"] == len(ids)
            assert pub.counters["moved"] == 0
        for k, b in enumerate(cells):
            assert b.queue("orders").get("published", 0) == expected[k], b.name
        seen = collections.Counter()
        done = asyncio.Event()

        async def handler(msg):
            seen[msg.id] += 1
            if len(seen) == len(ids):
                done.set()

        consumer = Consumer(cells=str(cell_map), queues=["orders"], handler=handler,
                            key=str(kd / "orders-worker.key"), concurrency=12)
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), WAIT)
        for k, b in enumerate(cells):
            s = await stats_until(b, lambda s: s["queues"]["orders"]["acked"] == expected[k],
                                  what=f"{b.name}'s acks")
            # Each cell knows the worker by its CURVE key's name from its auth file.
            peers = [w["peer"] for w in s["workers"] if w["name"] == consumer.name]
            assert peers and all("orders-worker" in p for p in peers), (b.name, s["workers"])
        consumer.stop()
        await asyncio.wait_for(task, WAIT)
        assert set(seen) == set(ids)
        assert set(seen.values()) == {1}  # each consumed once, none redelivered
        assert consumer.counters["acked"] == len(ids)
        assert consumer.counters["nacked_error"] == consumer.counters["lease_lost"] == 0
        for b in cells:
            q = b.queue("orders")
            assert (q["ready"], q["in_flight"], q["redelivered"]) == (0, 0, 0), (b.name, q)
    run(main())
