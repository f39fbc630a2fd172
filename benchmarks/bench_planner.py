#!/usr/bin/env python
# Copyright (c) 2024, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Time plan_tunnels() on a large inventory.

    python benchmarks/bench_planner.py [--laptops 10000] [--rounds 7] [--with-ledger] [--json] [--limit SECONDS]

Each laptop gets a scattered tunnel_id, about 1 in 10 a routed network "auto" and 1 in 100
is absent. Prints the median, min and max seconds of one plan; with --limit, exits 1 when
the median is not below it (the budget is 1 s on a 2-core machine).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path

PLANNER_PATH = Path(__file__).resolve().parent.parent / "plugins" / "plugin_utils" / "planner.py"
# A /44 gives /48 pools: 65,536 ids, and port_base + id stays below 65,536 for ids < 64,342.
SITE = {"prefix": "2001:db8:a000::/44"}
MAX_ID = 60_000
SEED = 20240601


def load_planner():
    """Load the planner by path: it needs no Ansible, so the collection need not be installed."""
    spec = importlib.util.spec_from_file_location("sixtunnel_planner", PLANNER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_laptops(count: int) -> list[dict]:
    rng = random.Random(SEED)
    laptops = []
    for number, tunnel_id in enumerate(rng.sample(range(MAX_ID), count)):
        laptop = {"name": f"laptop{number:05d}", "tunnel_id": tunnel_id}
        if number % 10 == 3:
            laptop["routed_networks"] = ["auto"]
        if number % 100 == 7:
            laptop["state"] = "absent"
        laptops.append(laptop)
    # Inventory order is not id order.
    rng.shuffle(laptops)
    return laptops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laptops", type=int, default=10_000, help="inventory size (default 10000)")
    parser.add_argument("--rounds", type=int, default=7, help="plans to time (default 7)")
    parser.add_argument("--with-ledger", action="store_true", help="pass the previous plan's ledger back in")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a line of text")
    parser.add_argument("--limit", type=float, help="exit 1 unless the median is below this many seconds")
    args = parser.parse_args(argv)
    if args.laptops > MAX_ID or args.laptops < 1 or args.rounds < 1:
        parser.error(f"--laptops must be in 1..{MAX_ID} and --rounds at least 1")

    planner = load_planner()
    laptops = make_laptops(args.laptops)
    ledger = planner.plan_tunnels(SITE, laptops)["ledger"] if args.with_ledger else None

    timings = []
    for _round in range(args.rounds):
        started = time.perf_counter()
        plan = planner.plan_tunnels(SITE, laptops, ledger)
        timings.append(time.perf_counter() - started)
    assert len(plan["tunnels"]) == args.laptops

    result = {
        "benchmark": "plan_tunnels",
        "laptops": args.laptops,
        "rounds": args.rounds,
        "with_ledger": args.with_ledger,
        "median_s": round(statistics.median(timings), 4),
        "min_s": round(min(timings), 4),
        "max_s": round(max(timings), 4),
    }
    if args.json:
        print(json.dumps(result))
    else:
        ledger_note = " with ledger" if args.with_ledger else ""
        print(
            f"plan_tunnels: {args.laptops} laptops{ledger_note}, {args.rounds} rounds: "
            f"median {result['median_s']:.3f} s, min {result['min_s']:.3f} s, max {result['max_s']:.3f} s"
        )
    if args.limit is not None and result["median_s"] >= args.limit:
        print(f"median {result['median_s']:.3f} s is not below the limit of {args.limit} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
