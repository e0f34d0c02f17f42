#!/usr/bin/env python3
"""The verdict of a chaos drill (deploy/mayhem): publisher confirms against worker ledgers.

A ledger row is one finished attempt with its outcome: 'restarted' (the restart completed; the
row is committed before the ack) or 'failed' (committed before the nack; the broker retries it).
Ledgers written before rows carried an outcome have NULL there, read as 'restarted'.

Every id in --confirmed must have a 'restarted' row in some worker's ledger (processed) or be in
the dead-letter list (dead); anything else is LOST, whatever 'failed' rows it has. Failed
attempts are expected retries, counted, never duplicates. DUPLICATED counts the successful
attempts beyond the first of each id (an id restarted three times counts 2): each one is
whose ack never counted, and is attributed to the event that explains it (the worker's SIGKILL
or SIGTERM, a broker kill, the partition of its host) when the row was written shortly before
that event; what no event explains is set against the broker's expired leases (--expired), and
only what is left is unexplained. The count per event is checked against what the event could
have cost at most (the killed worker's credit; all live credit for a broker kill).
Prints the breakdown, then the verdict line; exits 1 if anything was lost, 3 if nothing was lost
but the partition check failed (work done on the cut host during the cut was not redone elsewhere).

With cells (--cells N, deploy/mayhem --cells): the ledgers are the workers' (each worker serves
every cell) and --dlq holds the dead letters of every cell, so "processed or dead" is checked
across all cells; after the drain nothing is queued anywhere (--queued says how many were, when
the drain did not finish: up to that many of the LOST may still be waiting in a cell). A cell
kill (events kind cell-sigkill, from the kill to the restart) explains a duplicate whose first
processing lies between shortly before the kill and shortly after the restart: an ack lost with
the cell, or a message the publisher moved to its next cell that the down cell had already
stored (the failover duplicate: both cells deliver it). Its bound is the live credit plus the
messages the publisher moved (--moved). The verdict line gains CELLS, CELL_KILLS, MOVED,
LONGEST_STALL_MS and STALL_LIMIT_MS (the publisher's longest time without a confirm; the limit
is checked by mayhem).
"""
import argparse
import collections
import glob
import json
import os
import sqlite3


def read_ids(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_ledgers(directory):
    """id -> [(at_ms, worker, attempt)] of successful attempts, and the failed attempts' count."""
    rows = collections.defaultdict(list)
    failed = 0
    for db in sorted(glob.glob(os.path.join(directory, "*.db"))):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            columns = {c[1] for c in con.execute("PRAGMA table_info(processed)")}
            outcome = "outcome" if "outcome" in columns else "NULL"
            for mid, worker, attempt, at, out in con.execute(
                    f"SELECT message_id, worker, attempt, at_ms, {outcome} FROM processed"):
                if out == "failed":
                    failed += 1
                else:
                    rows[mid].append((at, worker, attempt))
        except sqlite3.OperationalError:
            pass  # a worker killed before it created its table
        finally:
            con.close()
    for r in rows.values():
        r.sort()
    return rows, failed


def read_events(path):
    events = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 6 or parts[0] == "start_ms":
                    continue
                start, end, kind, target, in_flight, credit = parts[:6]
                events.append({"start": int(start), "end": int(end), "kind": kind, "target": target,
                               "in_flight": int(in_flight), "credit": int(credit), "dups": 0})
    return events


def read_kv(path):
    kv = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    kv[k] = v
    return kv


KILL_SLACK_MS = 100


def explain(row, redo_at, events, partition, window):
    """The event that explains a processing whose ack did not count, or None.

    row is that processing (at_ms, worker, attempt); redo_at is when the message was processed
    next. An event explains it only if it happened after the row and before the redo (cause
    before effect), and within `window` of the row (an ack normally leaves within milliseconds).
    """
    at, worker, _ = row
    best = None
    for e in events:
        if e["kind"] == "cell-sigkill":
            # Down from start to end: the row is the cell's last before the kill (ack lost), or
            # the moved copy processed in another cell while it was down (failover duplicate).
            if e["start"] - window <= at <= e["end"] + window and e["start"] <= redo_at:
                if best is None or abs(e["start"] - at) < abs(best["start"] - at):
                    best = e
            continue
        if not at - 1000 <= e["start"] <= redo_at:
            continue
        # The kill is recorded just before the signal is sent, so a row committed a moment
        # after the recorded start (KILL_SLACK_MS) may still be the killed worker's last.
        if e["kind"] in ("worker-sigkill", "worker-sigterm") and e["target"] == worker and \
                at - KILL_SLACK_MS <= e["start"] <= at + window:
            cand = e
        elif e["kind"] == "broker-sigkill" and e["start"] - window <= at <= e["end"] + window:
            cand = e
        else:
            continue
        if best is None or abs(cand["start"] - at) < abs(best["start"] - at):
            best = cand
    if best is None and partition:
        if worker in partition["workers"] and partition["start"] - 1000 <= at <= partition["end"] \
                and redo_at > partition["start"]:
            best = partition["event"]
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--confirmed", required=True)
    p.add_argument("--ledgers", required=True)
    p.add_argument("--dlq", help="mandrill-ctl dlq list --json output")
    p.add_argument("--events", help="events.tsv written by mayhem")
    p.add_argument("--partition", help="partition.txt written by mayhem --partition")
    p.add_argument("--window-ms", type=int, default=5000)
    p.add_argument("--kills", type=int, default=0)
    p.add_argument("--restarts", type=int, default=0)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--expired", type=int, default=-1, help="broker's lease-expired count (info)")
    p.add_argument("--out", help="write the lost ids here")
    p.add_argument("--cells", type=int, default=0, help="cells of the fleet (0: one broker)")
    p.add_argument("--cell-kills", type=int, default=0)
    p.add_argument("--moved", default="?", help="the publisher's moved_to_other_cells")
    p.add_argument("--longest-stall-ms", default="?", help="the publisher's longest_stall_ms")
    p.add_argument("--stall-limit-ms", default="?")
    p.add_argument("--queued", default="0", help="messages still queued across the cells at the end")
    a = p.parse_args()
    moved = int(a.moved) if a.moved.isdigit() else 0

    confirmed = read_ids(a.confirmed)
    confirmed_set = set(confirmed)
    rows, failed_attempts = read_ledgers(a.ledgers)
    dead = {}
    if a.dlq and os.path.exists(a.dlq) and os.path.getsize(a.dlq) > 0:
        with open(a.dlq) as f:
            for item in json.load(f).get("items", []):
                dead[item["id"]] = item
    events = read_events(a.events)
    pkv = read_kv(a.partition)
    partition = None
    if pkv.get("cut_start"):
        partition = {"start": int(pkv["cut_start"]), "end": int(pkv["cut_end"]),
                     "done": int(pkv.get("cut_done", pkv["cut_start"])),
                     "workers": set(filter(None, pkv.get("host_workers", "").split(","))),
                     "event": {"kind": "partition", "target": pkv.get("host", "host 1"),
                               "start": int(pkv["cut_start"]), "end": int(pkv["cut_end"]),
                               "in_flight": int(pkv.get("in_flight_at_cut", 0)),
                               "credit": int(pkv.get("credit_at_cut", 0)), "dups": 0}}

    processed = set(rows)
    lost = [i for i in confirmed if i not in processed and i not in dead]
    unconfirmed_processed = processed - confirmed_set
    dup_ids = [i for i, r in rows.items() if len(r) > 1]
    extra_rows = sum(len(rows[i]) - 1 for i in dup_ids)

    unexplained = []
    for i in dup_ids:
        r = rows[i]
        for k, row in enumerate(r[:-1]):   # the last row is the restart whose ack counted
            e = explain(row, r[k + 1][0], events, partition, a.window_ms)
            if e is None:
                unexplained.append((i, row))
            else:
                e["dups"] += 1
    # A lease that expired while its restart was finishing (the ack then comes too late) leaves
    # a second successful attempt no event explains: the broker counts those expiries.
    by_expiry = min(len(unexplained), max(a.expired, 0))
    unexplained = unexplained[by_expiry:]

    say = lambda s: print(f"mayhem: {s}")
    say(f"confirmed {len(confirmed)} ({len(confirmed_set)} distinct), restarted {len(processed)} distinct "
        f"in {sum(len(r) for r in rows.values())} successful attempts, {failed_attempts} failed attempts "
        f"retried, dead-lettered {len(dead)}")
    if unconfirmed_processed:
        say(f"{len(unconfirmed_processed)} processed messages have no confirm (published, confirm not "
            "received before the publisher stopped): fine, at-least-once covers confirmed ones")
    if dup_ids:
        say(f"duplicates: {len(dup_ids)} messages restarted successfully more than once ({extra_rows} extra "
            "restarts); each extra restart is one whose ack never counted:")
        shown = list(events) + ([partition["event"]] if partition else [])
        for e in sorted(shown, key=lambda e: e["start"]):
            if e["kind"] not in ("worker-sigkill", "broker-sigkill", "worker-sigterm", "partition",
                                 "cell-sigkill"):
                continue
            if e["kind"] == "worker-sigterm" and e["dups"] == 0:
                continue
            bound = e["credit"] + (moved if e["kind"] == "cell-sigkill" else 0)
            verdict = "within bound" if e["dups"] <= bound else "OVER BOUND"
            say(f"  {e['kind']:<14} {e['target']:<10} at +{(e['start'] - first_ms(events, partition)) / 1000:6.1f}s: "
                f"{e['dups']:4d} duplicates; in flight ~{e['in_flight']}, "
                + (f"credit {e['credit']} + moved {moved}, down {(e['end'] - e['start']) / 1000:.1f}s"
                   if e["kind"] == "cell-sigkill" else f"credit {bound}") + f" ({verdict})")
        if by_expiry:
            say(f"  lease expiry   {by_expiry} (no kill or partition explains them; the broker counted "
                f"{a.expired} expired leases)")
        if unexplained:
            say(f"  unexplained    {len(unexplained)} (no kill of that worker or the broker, no partition "
                "between the restart and the redelivery, and more than the broker's expired leases: a worker "
                "that lost its session — see 'reconnecting' in its log — so the broker returned its leases"
                + (f"; broker counted {a.expired} expired leases" if a.expired >= 0 else "") + ")")
            for i, (at, w, att) in unexplained[:5]:
                say(f"    {i}: {w} attempt {att} at {at}, rows {rows[i]}")
    else:
        say("duplicates: none")

    if dead:
        say(f"dead letters ({len(dead)}; accounted for, not lost — requeue with mandrill-ctl dlq requeue):")
        for i, item in list(dead.items())[:20]:
            say(f"  {i}: {item.get('attempts')} attempts, last error: {item.get('last_error')}")
        if len(dead) > 20:
            say(f"  ... and {len(dead) - 20} more")

    partition_failed = False
    if partition:
        cut_workers, start, done, end = partition["workers"], partition["start"], partition["done"], partition["end"]
        def redone(i):  # processed again on the reachable host after the cut
            return any(w not in cut_workers and at > start for at, w, _ in rows[i])
        # Work finished on the cut host around or during the cut: its acks may not have counted.
        around = [i for i, r in rows.items()
                  if any(w in cut_workers and start - 1000 <= at <= end for at, w, _ in r)]
        moved = [i for i in around if redone(i)]
        # Work finished there after the link was down: its ack cannot have counted, so it must
        # have been redone on the reachable host.
        during = [i for i, r in rows.items()
                  if any(w in cut_workers and done <= at <= end for at, w, _ in r)]
        stuck = [i for i in during if not redone(i)]
        redelivered_there = [i for i, r in rows.items()
                             if any(w not in cut_workers and done <= at <= end and att > 1 for at, w, att in r)]
        say(f"partition: {pkv.get('host', 'host 1')} ({','.join(sorted(cut_workers))}) cut for "
            f"{(end - start) / 1000:.1f}s with ~{pkv.get('in_flight_at_cut', '?')} messages in flight there; "
            f"the broker declared its workers dead {pkv.get('released_after_ms', '?')} ms after the cut and "
            f"returned their {pkv.get('leases_released', '?')} leases to the queue; the reachable host "
            f"processed {len(redelivered_there)} redelivered messages (attempt > 1) during the cut; "
            f"{len(moved)} messages finished there around the cut were processed again on the reachable "
            f"host ({len(during)} finished after the link was down, {len(during) - len(stuck)} of them redone); "
            f"it reconnected {pkv.get('reconnected_after_ms', '?')} ms after the restore")
        if stuck:
            partition_failed = True
            say(f"partition check FAILED: {len(stuck)} messages finished on the cut host after the link was "
                f"down were never processed elsewhere, so acks counted across the cut: {' '.join(stuck[:10])}")

    if a.cells:
        cell_dups = sum(e["dups"] for e in events if e["kind"] == "cell-sigkill")
        say(f"cells: {a.cells}, {a.cell_kills} cell kills; the publisher moved {a.moved} messages to their "
            f"next cell (first cell down or refusing); {cell_dups} duplicates came with the cell kills "
            f"(acks lost with a cell, or moved messages the down cell had already stored: allowed); "
            f"longest publisher stall {a.longest_stall_ms} ms (limit {a.stall_limit_ms} ms)")
        if lost and a.queued not in ("0", "?"):
            say(f"{a.queued} messages were still queued in the cells when the drill ended (the drain did "
                f"not finish): up to that many LOST ids may be waiting there, not gone")
    if lost:
        say(f"LOST ids (first 20 of {len(lost)}): {' '.join(lost[:20])}")
        if a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(lost) + "\n")
    line = (f"mayhem: LOST {len(lost)} DUPLICATED {extra_rows} DEAD {len(dead)} "
            f"KILLS {a.kills} RESTARTS {a.restarts} SECONDS {a.seconds:.0f}")
    if a.cells:
        line += (f" CELLS {a.cells} CELL_KILLS {a.cell_kills} MOVED {a.moved} "
                 f"LONGEST_STALL_MS {a.longest_stall_ms} STALL_LIMIT_MS {a.stall_limit_ms}")
    print(line)
    return 1 if lost else (3 if partition_failed else 0)


def first_ms(events, partition):
    starts = [e["start"] for e in events] + ([partition["start"]] if partition else [])
    return int(os.environ.get("MAYHEM_T0_MS", min(starts) if starts else 0))


if __name__ == "__main__":
    raise SystemExit(main())
