#!/usr/bin/env python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Server mode against p2p mode: gateway run time by inventory size, and gateway memory with live laptops.

    python benchmarks/bench_servermode.py --out DIR [--sizes 1,10,100] [--reruns 5] [--containers 4] [--sample 5]
                                          [--keep]

Both modes get the same inventories: N peer-fingerprint laptops with `sixtunnel_managed: false`, so the gateway
makes their key pairs and no laptop is contacted; the only difference is `sixtunnel_site.mode`. In server mode
they all join one tun instance; in p2p mode each gets its own instance (tap, the p2p default).

1. Control plane: one fresh gateway container per mode and size (sixtunnel-bench-sm-MODE-N), `site.yml --limit
   GATEWAY` over SSH as benchlab.ssh_access sets up. Converge once each, then no-change re-runs interleaved (size
   and mode alternate) so that the load of a shared machine hits all alike. Gateway OpenVPN RSS after the converge.
2. Live sessions, on the largest size of each mode: one full `site.yml` run exports the laptops' .ovpn profiles,
   then the profiles are spread over a few client containers (sixtunnel-bench-sm-client-K, no systemd) and each
   runs as one `openvpn --route-noexec` process. When all are up: the summed RSS of the gateway's openvpn
   processes, and ping6 from a sample of laptops (their own address, pushed or configured) to the gateway end
   (::1) of their /64. Modes one after the other, the clients stopped in between.

Writes DIR/servermode.json (seconds, MiB, counts; shape in main()).
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

import benchlab

SITE_PREFIX = "2001:db8:abba::/48"
PLAYBOOK = "sixtunnel.openvpn.site"
MODES = ("server", "p2p")
CLIENT_PREFIX = f"{benchlab.PREFIX}sm-client-"
# Where a client container keeps its profiles, logs and pid files.
CLIENT_DIR = "/run/sixtunnel-bench"


def gateway_name(mode: str, size: int) -> str:
    return f"{benchlab.PREFIX}sm-{mode}-{size}"


def write_inventory(directory: Path, mode: str, size: int, ssh_dir: Path, gateway_address: str) -> Path:
    """A fresh inventory (no ledger, no exports of an earlier run): the gateway and `size` unmanaged laptops."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    laptops = "".join(
        f"        sm{size}-laptop{number:03d}:\n          sixtunnel_tunnel_id: {number}\n" for number in range(size)
    )
    inventory = directory / "hosts.yml"
    inventory.write_text(
        "---\n"
        f"# {size} laptops Ansible does not manage (the gateway makes their keys), site mode {mode}.\n"
        "all:\n"
        "  vars:\n" + benchlab.inventory_connection(ssh_dir) + "    ansible_python_interpreter: /usr/bin/python3\n"
        "    sixtunnel_site:\n"
        f"      prefix: {SITE_PREFIX}\n"
        f"      mode: {mode}\n"
        "  children:\n"
        "    sixtunnel_gateways:\n"
        "      hosts:\n"
        f"        {gateway_name(mode, size)}:\n"
        # The exported profiles' remote: the gateway's address on the bench network.
        f"          sixtunnel_gateway_remotes: ['{gateway_address}']\n"
        "    sixtunnel_laptops:\n"
        "      vars:\n"
        "        sixtunnel_managed: false\n"
        "      hosts:\n" + laptops
    )
    return inventory


def gateway_run(inventory: Path, gateway: str, limit: bool = True) -> dict:
    """One site.yml run: wall seconds and the gateway's changed count."""
    result = benchlab.ansible_playbook(inventory, PLAYBOOK, ["--limit", gateway] if limit else [])
    return {"seconds": round(result["seconds"], 2), "changed": result["recap"][gateway]["changed"]}


def start_client(name: str) -> None:
    """A plain container for many OpenVPN clients: no systemd, a tun device, NET_ADMIN."""
    benchlab.remove_containers([name])
    benchlab.run(
        ["podman", "run", "-d", "--name", name, "--hostname", name, "--network", benchlab.NETWORK]
        + ["--cap-add", "NET_ADMIN", "--device", "/dev/net/tun", benchlab.image(), "sleep", "infinity"]
    )


def start_sessions(clients: list[str], profiles: list[Path]) -> dict[str, list[str]]:
    """Copy the profiles round-robin into the client containers and start one daemonised openvpn per profile;
    return {container: [laptop names]}."""
    shares: dict[str, list[Path]] = {client: profiles[index :: len(clients)] for index, client in enumerate(clients)}
    for client, share in shares.items():
        benchlab.sh(client, f"rm -rf {CLIENT_DIR} && mkdir -p {CLIENT_DIR}")
        for profile in share:
            benchlab.run(["podman", "cp", str(profile), f"{client}:{CLIENT_DIR}/{profile.name}"])
        # --route-noexec: every laptop is pushed or given 2000::/3; one container cannot hold 25 such routes.
        benchlab.sh(
            client,
            f"cd {CLIENT_DIR} && for profile in *.ovpn; do name=${{profile%.ovpn}}; "
            "openvpn --config $profile --route-noexec --verb 3 --daemon bench-$name "
            "--log $name.log --writepid $name.pid; sleep 0.05; done",
            timeout=300,
        )
    return {client: [profile.stem for profile in share] for client, share in shares.items()}


def wait_sessions(sessions: dict[str, list[str]], timeout: float = 300) -> tuple[int, float]:
    """Wait until every client log says the tunnel is up; return (sessions up, seconds waited)."""
    started = time.perf_counter()
    total = sum(len(names) for names in sessions.values())
    while True:
        up = sum(
            int(benchlab.sh(client, f"grep -l 'Initialization Sequence Completed' {CLIENT_DIR}/*.log | wc -l") or 0)
            for client in sessions
        )
        waited = time.perf_counter() - started
        if up >= total or waited > timeout:
            return up, round(waited, 1)
        time.sleep(3)


def laptop_addresses(client: str) -> list[str]:
    """The global IPv6 addresses of the client container's tunnel devices: one per live laptop."""
    output = benchlab.sh(client, "ip -6 -o addr show scope global | grep -v ' eth'")
    return re.findall(r"inet6 ([0-9a-f:]+)/64", output)


def ping_sample(sessions: dict[str, list[str]], sample: int) -> list[dict]:
    """ping6 (5 pings, 0.2 s apart) from `sample` laptops, spread over the containers, to ::1 of their /64."""
    candidates = [(client, address) for client in sessions for address in laptop_addresses(client)]
    step = max(1, len(candidates) // sample)
    results = []
    for client, address in candidates[::step][:sample]:
        gateway_end = str(ipaddress.ip_network(f"{address}/64", strict=False).network_address + 1)
        output = benchlab.sh(
            client, f"ping -6 -n -c 5 -i 0.2 -W 2 -I {address} {gateway_end} 2>&1", check=False, timeout=30
        )
        loss = re.search(r"(\d+(?:\.\d+)?)% packet loss", output)
        rtt = re.search(r"= [\d.]+/([\d.]+)/", output)
        results.append(
            {
                "client": client,
                "laptop_address": address,
                "gateway_end": gateway_end,
                "loss_percent": float(loss.group(1)) if loss else 100.0,
                "rtt_ms": float(rtt.group(1)) if rtt else None,
            }
        )
    return results


def stop_sessions(sessions: dict[str, list[str]]) -> None:
    """Stop the clients this bench started, by their pid files."""
    for client in sessions:
        benchlab.sh(client, f"cat {CLIENT_DIR}/*.pid | xargs -r kill; sleep 2", check=False)


def server_sessions(gateway: str) -> int | None:
    """Sessions the server instance itself lists (management `status`), or None without a server instance."""
    # The instance's management socket is root's; ask it from inside the gateway with Python (no socat there). The
    # UDP server instance's only: p2p instances have a socket too.
    script = (
        "import glob, socket\n"
        "paths = glob.glob('/etc/openvpn/server/sixtunnel_server/management.sock')\n"
        "if not paths:\n    print(-1); raise SystemExit\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(paths[0]); s.sendall(b'status 2\\n'); data = b''\n"
        "while b'\\nEND' not in data:\n    chunk = s.recv(65536)\n    data += chunk\n    if not chunk: break\n"
        "print(sum(line.startswith(b'CLIENT_LIST,') for line in data.splitlines()))\n"
    )
    output = benchlab.sh(gateway, f"python3 -c {shlex.quote(script)}", check=False).strip()
    return int(output) if output.lstrip("-").isdigit() and int(output) >= 0 else None


def live(mode: str, gateway: str, inventory: Path, clients: list[str], sample: int) -> dict:
    """Export the profiles, connect every laptop from the client containers, measure, stop them."""
    benchlab.log(f"live {mode}: exporting the profiles (site.yml without --limit)")
    export = gateway_run(inventory, gateway, limit=False)
    profiles = sorted((inventory.parent / ".sixtunnel" / "exports").glob("*.ovpn"))
    idle = benchlab.openvpn_memory(gateway)
    benchlab.log(f"live {mode}: {len(profiles)} profiles in {export['seconds']:.1f} s; starting the clients")
    sessions = start_sessions(clients, profiles)
    up, waited = wait_sessions(sessions)
    time.sleep(5)  # let the last handshakes settle before reading memory
    loaded = benchlab.openvpn_memory(gateway)
    listed = server_sessions(gateway) if mode == "server" else None
    pings = ping_sample(sessions, sample)
    client_memory = [benchlab.openvpn_memory(client) for client in clients]
    benchlab.log(f"live {mode}: {up}/{len(profiles)} up after {waited} s, gateway {loaded}, pings {pings}")
    stop_sessions(sessions)
    return {
        "export_run": export,
        "profiles": len(profiles),
        "sessions_up": up,
        "seconds_to_all_up": waited,
        "server_listed_sessions": listed,
        "gateway_idle": idle,
        "gateway_loaded": loaded,
        "client_processes": sum(memory["processes"] for memory in client_memory),
        "client_rss_mib": round(sum(memory["rss_mib"] for memory in client_memory), 1),
        "per_container": {client: len(names) for client, names in sessions.items()},
        "pings": pings,
    }


def main(argv: list[str] | None = None) -> int:
    """Writes DIR/servermode.json: {sizes, reruns, machine, runs: {MODE: {N: {converge: {seconds, changed},
    memory: {processes, rss_mib}, reruns: [...], rerun_median_s, rerun_min_s, rerun_max_s, rerun_changed_max}}},
    live: {MODE: live()'s dict}, seconds (the whole bench), load_average_after}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for servermode.json and the inventories")
    parser.add_argument("--sizes", default="1,10,100", help="laptop counts (default 1,10,100); the largest goes live")
    parser.add_argument("--reruns", type=int, default=5, help="no-change re-runs per mode and size (default 5)")
    parser.add_argument("--containers", type=int, default=4, help="client containers for the live laptops (default 4)")
    parser.add_argument("--sample", type=int, default=5, help="live laptops that ping their gateway end (default 5)")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    largest = max(sizes)
    started = time.perf_counter()

    gateways = {(mode, size): gateway_name(mode, size) for size in sizes for mode in MODES}
    clients = [f"{CLIENT_PREFIX}{number}" for number in range(args.containers)]
    base = args.out / "servermode"
    ssh_dir = base / "ssh"
    results = {"sizes": sizes, "reruns": args.reruns, "machine": benchlab.machine(), "runs": {}, "live": {}}
    try:
        for name in gateways.values():
            benchlab.start_container(name)
        benchlab.ssh_access(list(gateways.values()), ssh_dir)
        inventories = {
            key: write_inventory(
                base / f"{key[0]}-{key[1]}", key[0], key[1], ssh_dir, benchlab.container_address(gateways[key])
            )
            for key in gateways
        }
        for (mode, size), gateway in gateways.items():
            benchlab.log(f"server mode bench: converge, mode {mode}, {size} laptops")
            first = gateway_run(inventories[mode, size], gateway)
            memory = benchlab.openvpn_memory(gateway)
            benchlab.log(f"  {first['seconds']:.1f} s, changed={first['changed']}, {memory}")
            results["runs"].setdefault(mode, {})[str(size)] = {"converge": first, "memory": memory, "reruns": []}
        for round_number in range(args.reruns):
            for (mode, size), gateway in gateways.items():
                rerun = gateway_run(inventories[mode, size], gateway)
                benchlab.log(f"server mode bench: re-run {round_number + 1}, mode {mode}, {size} laptops: {rerun}")
                results["runs"][mode][str(size)]["reruns"].append(rerun)
        if not args.keep:
            # Only the largest gateways take part in the live sessions.
            benchlab.remove_containers([name for (mode, size), name in gateways.items() if size != largest])
        for client in clients:
            start_client(client)
        for mode in MODES:
            results["live"][mode] = live(
                mode, gateways[mode, largest], inventories[mode, largest], clients, args.sample
            )
    finally:
        if not args.keep:
            benchlab.remove_containers(list(gateways.values()) + clients)
            benchlab.remove_network()

    for mode in MODES:
        for size in sizes:
            run = results["runs"][mode][str(size)]
            seconds = [rerun["seconds"] for rerun in run["reruns"]]
            run["rerun_median_s"] = round(statistics.median(seconds), 2)
            run["rerun_min_s"] = min(seconds)
            run["rerun_max_s"] = max(seconds)
            run["rerun_changed_max"] = max(rerun["changed"] for rerun in run["reruns"])
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_after"] = benchlab.load_average()
    benchlab.write_json(args.out / "servermode.json", results)
    for mode in MODES:
        for size in sizes:
            run = results["runs"][mode][str(size)]
            print(
                f"{mode:6s} {size:4d} laptops: converge {run['converge']['seconds']:.1f} s, re-run median "
                f"{run['rerun_median_s']:.1f} s (changed {run['rerun_changed_max']}), "
                f"openvpn RSS {run['memory']['rss_mib']} MiB in {run['memory']['processes']} processes"
            )
        session = results["live"][mode]
        print(
            f"{mode:6s} live: {session['sessions_up']}/{session['profiles']} up, gateway RSS "
            f"{session['gateway_loaded']['rss_mib']} MiB in {session['gateway_loaded']['processes']} processes, "
            f"ping loss {[ping['loss_percent'] for ping in session['pings']]}"
        )
    print(f"{results['seconds']:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
