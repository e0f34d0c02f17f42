#!/usr/bin/env python3
"""The chaos schedule of deploy/mayhem: a pure function of its arguments and the seed.

Prints one event per line, "AT_MS ACTION ARG [ARG]", sorted by time:
  kill9 PICK RESTART_MS    SIGKILL the live worker number PICK % live, start it again after RESTART_MS
  term PICK                SIGTERM (drain) the live worker PICK % live, then start it again
  broker-kill DOWN_MS      SIGKILL the broker, start it again after DOWN_MS on the same data dir
  scale N                  scale the fleet to N workers (drain-stops the highest-numbered)
  cut HOST / restore HOST  partition: cut worker host HOST's link to the broker, restore it
  cell-kill CELL           (--cells N) SIGKILL cell CELL (cell-K); it stays down until its
  cell-start CELL          cell-start, --cell-down-ms later, while other events go on
The same arguments give the same lines; which worker PICK names depends on who is alive.
With --cells N a broker kill is a cell kill of one of the cells that are up, never the last one
up (so at least one cell is always up), at least --cell-gap-ms after the previous cell kill;
several cells may be down at once. Without --cells the lines are the same as before cells.
"""
import argparse
import random

KINDS = ("kill9", "term", "broker-kill", "scale")
WEIGHTS = (0.35, 0.25, 0.15, 0.25)
CELL_WEIGHTS = (0.30, 0.15, 0.35, 0.20)   # with cells: cell kills are the point of the drill


def build(a):
    rng = random.Random(a.seed)
    events = []
    blocked = []  # (start, end) windows kept free of other chaos: the partition
    if a.partition_for_ms > 0:
        cut_at = int(a.duration_ms * 0.3)
        events.append((cut_at, "cut", [1]))
        events.append((cut_at + a.partition_for_ms, "restore", [1]))
        blocked.append((cut_at - 1500, cut_at + a.partition_for_ms + 3000))

    t = a.warmup_ms
    workers = a.workers
    last_broker_kill = -10**9
    end = a.duration_ms - 1000
    cells = [f"cell-{i}" for i in range(1, a.cells + 1)]
    down = {}  # cell -> when its cell-start is due
    cell_gap_ms = a.cell_gap_ms if a.cells else a.broker_gap_ms
    while True:
        t += max(400, int(rng.expovariate(1.0 / a.interval_ms)))
        if t >= end:
            break
        kind = rng.choices(KINDS, CELL_WEIGHTS if a.cells else WEIGHTS)[0]
        pick = rng.randrange(1_000_000)
        restart_ms = rng.randint(200, 1500)
        down_ms = rng.randint(200, 2000)
        target = rng.randint(a.min_workers, a.max_workers)
        if a.cells:
            down_ms = rng.randint(*a.cell_down_ms)
            for c in [c for c, due in down.items() if due + 1000 <= t]:  # up for 1 s again
                del down[c]
        if any(s <= t <= e for s, e in blocked):
            continue
        if kind == "broker-kill" and t - last_broker_kill < cell_gap_ms:
            kind = "kill9"
        if kind == "broker-kill" and a.cells:
            up = [c for c in cells if c not in down]
            if len(up) < 2:   # never the last cell up
                kind = "kill9"
            else:
                cell = up[pick % len(up)]
                down[cell] = t + down_ms
                events.append((t, "cell-kill", [cell]))
                events.append((t + down_ms, "cell-start", [cell]))
                last_broker_kill = t
                continue
        if kind == "scale" and target == workers:
            target = a.min_workers if workers >= a.max_workers else workers + 1
        if kind == "kill9":
            events.append((t, kind, [pick, restart_ms]))
        elif kind == "term":
            events.append((t, kind, [pick]))
        elif kind == "broker-kill":
            events.append((t, kind, [down_ms]))
            last_broker_kill = t
        else:
            events.append((t, kind, [target]))
            workers = target
    events.sort(key=lambda e: e[0])
    return events


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--duration-ms", type=int, required=True, help="length of the publishing window")
    p.add_argument("--interval-ms", type=int, default=3000, help="mean time between events")
    p.add_argument("--warmup-ms", type=int, default=2000)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--min-workers", type=int, default=2)
    p.add_argument("--max-workers", type=int, default=6)
    p.add_argument("--broker-gap-ms", type=int, default=6000, help="least time between broker kills")
    p.add_argument("--partition-for-ms", type=int, default=0)
    p.add_argument("--cells", type=int, default=0, help="cells of the fleet (0: one broker)")
    p.add_argument("--cell-down-ms", default="2500:5000", help="MIN:MAX a killed cell stays down")
    p.add_argument("--cell-gap-ms", type=int, default=3000, help="least time between cell kills")
    a = p.parse_args()
    lo, _, hi = a.cell_down_ms.partition(":")
    a.cell_down_ms = (int(lo), int(hi or lo))
    for at, kind, args in build(a):
        print(at, kind, *args)


if __name__ == "__main__":
    main()
