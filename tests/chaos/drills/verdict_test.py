#!/usr/bin/env python3
"""deploy/lib/verdict.py on hand-made ledgers: what counts as processed, lost and duplicated.

A failed attempt is a retry, never a processing: a confirmed id whose only rows are 'failed' is
LOST, and failed-then-restarted is neither lost nor duplicated. Two successful restarts are a
duplicate, explained by a kill of the first worker even when its row was committed a moment
after the kill's recorded start; DUPLICATED counts successful restarts beyond each id's first;
a ledger without the outcome column still reads as processed.
The previous verdict counted failed rows as processed and their retries as duplicates.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VERDICT = os.path.join(ROOT, "deploy", "lib", "verdict.py")


def ledger(path, rows, with_outcome=True):
    con = sqlite3.connect(path)
    extra = ", outcome TEXT, error TEXT" if with_outcome else ""
    con.execute(f"CREATE TABLE processed(message_id TEXT, queue TEXT, attempt INTEGER, worker TEXT, "
                f"at_ms INTEGER{extra})")
    for r in rows:
        con.execute(f"INSERT INTO processed VALUES({', '.join('?' * len(r))})", r)
    con.commit()
    con.close()


def run(tmp, confirmed, events="", expired=0):
    with open(os.path.join(tmp, "confirmed.txt"), "w") as f:
        f.write("\n".join(confirmed) + "\n")
    with open(os.path.join(tmp, "events.tsv"), "w") as f:
        f.write("start_ms\tend_ms\tkind\ttarget\tin_flight\tcredit\n" + events)
    out = subprocess.run([sys.executable, VERDICT, "--confirmed", os.path.join(tmp, "confirmed.txt"),
                          "--ledgers", os.path.join(tmp, "ledgers"), "--events",
                          os.path.join(tmp, "events.tsv"), "--expired", str(expired)],
                         capture_output=True, text=True)
    return out.returncode, out.stdout


def main():
    failures = []

    def check(cond, what, out):
        if not cond:
            failures.append(f"{what}\n{out}")

    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "ledgers"))
        ledger(os.path.join(tmp, "ledgers", "worker-1.db"), [
            ("only-failed", "q", 1, "worker-1", 1000, "failed", "boom"),
            ("retried", "q", 1, "worker-1", 1000, "failed", "boom"),
            ("retried", "q", 2, "worker-1", 1100, "restarted", None),
            # Committed 2 ms after the recorded start of worker-1's SIGKILL: its ack never left.
            ("killed", "q", 1, "worker-1", 5002, "restarted", None),
        ])
        ledger(os.path.join(tmp, "ledgers", "worker-2.db"), [
            ("killed", "q", 2, "worker-2", 6000, "restarted", None),
            # Restarted three times, no kill near: two successes beyond the first, which the
            # broker's two expired leases account for.
            ("thrice", "q", 1, "worker-2", 7000, "restarted", None),
            ("thrice", "q", 2, "worker-2", 8000, "restarted", None),
            ("thrice", "q", 3, "worker-2", 9000, "restarted", None),
        ])
        ledger(os.path.join(tmp, "ledgers", "worker-3.db"), [
            ("legacy", "q", 1, "worker-3", 1000),
        ], with_outcome=False)
        rc, out = run(tmp, ["only-failed", "retried", "killed", "legacy", "thrice"],
                      "5000\t5010\tworker-sigkill\tworker-1\t1\t16\n", expired=2)
        last = out.strip().splitlines()[-1] if out.strip() else ""
        check(rc == 1, f"exit {rc}, expected 1 (one id lost)", out)
        check(last.startswith("mayhem: LOST 1 DUPLICATED 3 DEAD 0"), f"verdict line: {last}", out)
        check("LOST ids (first 20 of 1): only-failed" in out, "only-failed must be the lost id", out)
        check("2 failed attempts retried" in out, "failed attempts are counted as retries", out)
        check("unexplained" not in out, "the kill and the expired leases explain the duplicates", out)
        check("lease expiry   2" in out, "two duplicates are set against expired leases", out)
    if failures:
        print("\n\n".join(failures))
        return 1
    print("PASS: verdict counts restarts, not rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
