#!/usr/bin/env python3
"""Publishes restart requests with the Python client and waits for every confirm, like a
small mandrill-publish.

    PYTHONPATH=shared/python python3 shared/python/examples/publish.py \\
        --broker tcp://127.0.0.1:5555 --queue restarts --count 1000

Payloads come from the arguments (one message each), else from --count (generated
``restart cattle-xxxx`` requests), else from stdin (one per line). Each confirmed id is printed
on stdout. Exit 0: all confirmed; 1: some refused; 2: some never confirmed (--timeout); 64:
bad flags.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import string
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mandrill import MandrillError, Publisher, PublishTimeout  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Publish messages and wait for their confirms.")
    p.add_argument("payload", nargs="*", help="message payloads (one message each)")
    p.add_argument("--broker", help="broker endpoint (default tcp://127.0.0.1:5555)")
    p.add_argument("--cells", help="cell map FILE instead of --broker")
    p.add_argument("--key", help="this client's CURVE secret key file (mode 0600)")
    p.add_argument("--broker-key", help="the broker's CURVE public key file")
    p.add_argument("--queue", default="restarts")
    p.add_argument("--count", type=int, help="generate N restart requests")
    p.add_argument("--id-prefix", help="ids <prefix>-<n> (default: random per run)")
    p.add_argument("--header", action="append", default=[], help="KEY=VALUE (repeatable)")
    p.add_argument("--window", type=int, default=1000, help="most unconfirmed at once")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds a message may stay unconfirmed before giving up on it")
    p.add_argument("--quiet", action="store_true", help="do not print the confirmed ids")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 64
    headers = {}
    for h in args.header:
        k, sep, v = h.partition("=")
        if not sep or not k:
            print(f"publish: --header '{h}': expected KEY=VALUE", file=sys.stderr)
            return 64
        headers[k] = v
    if not args.cells and not args.broker:
        args.broker = "tcp://127.0.0.1:5555"
    if args.payload:
        payloads = [s.encode() for s in args.payload]
    elif args.count is not None:
        rng = random.Random()
        alphabet = string.ascii_lowercase + string.digits
        payloads = [f"restart cattle-{''.join(rng.choices(alphabet, k=4))}".encode()
                    for _ in range(args.count)]
    else:
        payloads = [line.rstrip(b"\n") for line in sys.stdin.buffer if line.strip()]

    async def run():
        try:
            pub = await Publisher.connect(args.broker, cells=args.cells, key=args.key,
                                          broker_key=args.broker_key, window=args.window,
                                          timeout=args.timeout, id_prefix=args.id_prefix)
        except MandrillError as e:
            print(f"publish: {e}", file=sys.stderr)
            return 64
        start = time.monotonic()
        refused = unconfirmed = 0

        async def one(payload):
            nonlocal refused, unconfirmed
            try:
                message_id = await pub.publish(args.queue, payload, headers=headers or None)
            except PublishTimeout as e:
                unconfirmed += 1
                print(f"publish: {e}", file=sys.stderr)
            except MandrillError as e:
                refused += 1
                print(f"publish: refused: {e}", file=sys.stderr)
            else:
                if not args.quiet:
                    print(message_id, flush=False)

        async with pub:
            await asyncio.gather(*(one(x) for x in payloads))
        elapsed = time.monotonic() - start
        confirmed = len(payloads) - refused - unconfirmed
        print(f"publish: {confirmed} confirmed, {refused} refused, {unconfirmed} unconfirmed in "
              f"{elapsed:.2f} s ({confirmed / elapsed if elapsed > 0 else 0:,.0f}/s)",
              file=sys.stderr)
        sys.stdout.flush()
        return 1 if refused else 2 if unconfirmed else 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
