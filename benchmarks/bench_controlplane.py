#!/usr/bin/env python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Time the gateway's converge and no-change re-run as the number of laptops grows.

    python benchmarks/bench_controlplane.py --out DIR [--sizes 1,10,50,100] [--reruns 3] [--keep]

One fresh gateway container per size (sixtunnel-bench-cpN), each with its own inventory of N laptops that exist
only in the inventory: static-key laptops, so the gateway can configure every tunnel without reaching them, and
`--limit` to the gateway, so the whole site.yml runs (plan included) but only the gateway is contacted, over SSH
as a site reaches it (an account with sudo, pipelining, connection reuse: benchlab.ssh_access). Converges
run one after another; re-runs are interleaved (1, 10, 50, 100, 1, 10, ...) so that the load of a shared machine
hits every size alike. Writes DIR/controlplane.json: wall seconds, the gateway's changed count, and the gateway's
total OpenVPN resident memory after the converge.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import benchlab

SITE_PREFIX = "2001:db8:abba::/48"
PLAYBOOK = "sixtunnel.openvpn.site"


def gateway_name(size: int) -> str:
    return f"{benchlab.PREFIX}cp{size}"


def write_inventory(directory: Path, size: int, ssh_dir: Path) -> Path:
    # A fresh inventory each run: no ledger (.sixtunnel/) or hosts of an earlier one.
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    laptops = "".join(
        f"        cp{size}-laptop{number:03d}:\n          sixtunnel_tunnel_id: {number}\n" for number in range(size)
    )
    inventory = directory / "hosts.yml"
    inventory.write_text(
        "---\n"
        f"# {size} laptops that exist only here: static keys, so the gateway needs nothing from them.\n"
        "all:\n"
        "  vars:\n" + benchlab.inventory_connection(ssh_dir) + "    ansible_python_interpreter: /usr/bin/python3\n"
        "    sixtunnel_site:\n"
        f"      prefix: {SITE_PREFIX}\n"
        "  children:\n"
        "    sixtunnel_gateways:\n"
        "      hosts:\n"
        f"        {gateway_name(size)}:\n"
        "    sixtunnel_laptops:\n"
        "      vars:\n"
        "        sixtunnel_auth: static_key\n"
        "      hosts:\n" + laptops
    )
    return inventory


def converge(inventory: Path, size: int) -> dict:
    result = benchlab.ansible_playbook(inventory, PLAYBOOK, ["--limit", gateway_name(size)])
    return {"seconds": round(result["seconds"], 2), "changed": result["recap"][gateway_name(size)]["changed"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for controlplane.json and the inventories")
    parser.add_argument("--sizes", default="1,10,50,100", help="laptop counts (default 1,10,50,100)")
    parser.add_argument("--reruns", type=int, default=3, help="no-change re-runs per size (default 3)")
    parser.add_argument("--keep", action="store_true", help="leave the gateway containers running")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    containers = [gateway_name(size) for size in sizes]
    ssh_dir = args.out / "controlplane" / "ssh"
    inventories = {
        size: write_inventory(args.out / "controlplane" / f"laptops-{size}", size, ssh_dir) for size in sizes
    }
    results = {"sizes": sizes, "reruns": args.reruns, "machine": benchlab.machine(), "runs": {}}
    try:
        for name in containers:
            benchlab.start_container(name)
        benchlab.ssh_access(containers, ssh_dir)
        for size in sizes:
            benchlab.log(f"control plane: converge with {size} laptops")
            first = converge(inventories[size], size)
            memory = benchlab.openvpn_memory(gateway_name(size))
            benchlab.log(f"  {first['seconds']:.1f} s, changed={first['changed']}, {memory}")
            results["runs"][str(size)] = {"converge": first, "memory": memory, "reruns": []}
        for round_number in range(args.reruns):
            for size in sizes:
                rerun = converge(inventories[size], size)
                benchlab.log(f"control plane: re-run {round_number + 1} with {size} laptops: {rerun}")
                results["runs"][str(size)]["reruns"].append(rerun)
    finally:
        if not args.keep:
            benchlab.remove_containers(containers)
            benchlab.remove_network()

    for size in sizes:
        run = results["runs"][str(size)]
        seconds = [rerun["seconds"] for rerun in run["reruns"]]
        run["rerun_median_s"] = round(statistics.median(seconds), 2)
        run["rerun_min_s"] = min(seconds)
        run["rerun_max_s"] = max(seconds)
        run["rerun_changed_max"] = max(rerun["changed"] for rerun in run["reruns"])
    results["load_average_after"] = benchlab.load_average()
    benchlab.write_json(args.out / "controlplane.json", results)
    for size in sizes:
        run = results["runs"][str(size)]
        print(
            f"{size:4d} laptops: converge {run['converge']['seconds']:.1f} s, re-run median {run['rerun_median_s']:.1f} s "
            f"(changed {run['rerun_changed_max']}), openvpn RSS {run['memory']['rss_mib']} MiB "
            f"in {run['memory']['processes']} processes"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
