#!/usr/bin/env python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Measure what a tunnel costs: throughput, loss, latency and CPU per GB of each profile, side by side.

    python benchmarks/bench_dataplane.py --out DIR [--rounds 3] [--seconds 5] [--udp-rate 200M] [--keep]

Two fresh containers, sixtunnel-bench-gateway and sixtunnel-bench-laptop, on the IPv6 network sixtunnel-bench.
playbooks/site.yml converges them through the real roles with three laptops in the inventory that all live in the
laptop container (each its own client instance): the seed profile (static key), the collection's default and tun
mode. Variants are the default's rendered configuration on both ends with a few directives changed, started as
extra OpenVPN processes on ports and /64s of their own. Raw container-to-container traffic is the ceiling.

Then, for each round, every profile in turn (A B C ... A B C ...): iperf3 TCP from the laptop to the gateway
end, with the CPU time of both OpenVPN processes read from /proc before and after; iperf3 UDP at a fixed rate for
loss and jitter; ping6 for the round-trip time. Writes DIR/dataplane.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
import time
from pathlib import Path

import benchlab

GATEWAY = f"{benchlab.PREFIX}gateway"
LAPTOP = f"{benchlab.PREFIX}laptop"
SITE = {"prefix": "2001:db8:abba::/48"}
PLAYBOOK = "sixtunnel.openvpn.site"
BENCH_DIR = "/etc/openvpn/sixtunnel-bench"
# The collection's data-plane tuning (openvpn_server_socket_buffer, openvpn_server_fast_io).
TUNING_DIRECTIVES = ("sndbuf", "rcvbuf", "fast-io")

# Laptops that the roles configure; each lives in the laptop container as its own client instance.
ROLE_PROFILES = [
    {
        "name": "seed",
        "laptop": "bench-seed",
        "tunnel_id": 1,
        "inventory": {"sixtunnel_auth": "static_key"},
        "instance": "sixtunnel-seed",
        "description": "the seed's static key (AES-256-CBC + HMAC-SHA256), tap, as the roles render static_key mode",
    },
    {
        "name": "default",
        "laptop": "bench-default",
        "tunnel_id": 0,
        "inventory": {},
        "instance": "sixtunnel",
        "description": "the collection's default as the roles render it: peer-fingerprint TLS, AES-256-GCM, tap",
    },
    {
        "name": "tun",
        "laptop": "bench-tun",
        "tunnel_id": 2,
        "inventory": {"sixtunnel_dev_type": "tun"},
        "instance": "sixtunnel-tun",
        "description": "the default with sixtunnel_dev_type: tun, as the roles render it",
    },
]

# Hand-made from the default's rendered configuration, on both ends: directive -> value ("" for a flag, None to
# remove it). The first three take the collection's tuning apart; the others change one thing the default ships.
VARIANTS = [
    {
        "name": "untuned",
        "changes": dict.fromkeys(TUNING_DIRECTIVES),
        "safe": True,
        "description": "the default without this collection's tuning: OpenVPN 2.6's own socket buffers and I/O",
    },
    {
        "name": "no-fast-io",
        "changes": {"fast-io": None},
        "safe": True,
        "description": "the default without fast-io (socket buffers only)",
    },
    {
        "name": "no-buffers",
        "changes": {"sndbuf": None, "rcvbuf": None},
        "safe": True,
        "description": "the default without its socket buffers (fast-io only)",
    },
    {
        "name": "txqueuelen",
        "changes": {"txqueuelen": "1000"},
        "safe": True,
        "description": "the default + txqueuelen 1000 (a tap device has 1000 already, a tun device 500)",
    },
    {
        "name": "aes-128-gcm",
        "changes": {"data-ciphers": "AES-128-GCM"},
        "safe": True,
        "description": "the default with data channel AES-128-GCM instead of the negotiated AES-256-GCM",
    },
    {
        "name": "chacha20",
        "changes": {"data-ciphers": "CHACHA20-POLY1305"},
        "safe": True,
        "description": "the default with data channel CHACHA20-POLY1305",
    },
    {
        "name": "mtu-1500",
        "changes": {"tun-mtu": "1500"},
        "safe": True,
        "description": "the default with tun-mtu 1500, OpenVPN's own (its mssfix keeps TCP's outer packets within "
        "1492 bytes; other packets are fragmented on paths below 1560)",
    },
    {
        "name": "mtu-9000",
        "changes": {"tun-mtu": "9000", "mssfix": "0"},
        "safe": False,
        "description": "the default with tun-mtu 9000 and no mssfix: outer packets of 9 kB, IP-fragmented on any "
        "real path",
    },
]


def load_planner():
    path = benchlab.REPO_ROOT / "plugins" / "plugin_utils" / "planner.py"
    spec = importlib.util.spec_from_file_location("sixtunnel_planner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inventory(directory: Path, ssh_dir: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*"):
        stale.unlink()
    laptops = ""
    for profile in ROLE_PROFILES:
        laptops += f"        {profile['laptop']}:\n          sixtunnel_tunnel_id: {profile['tunnel_id']}\n"
        laptops += f"          openvpn_client_instance: {profile['instance']}\n"
        for key, value in profile["inventory"].items():
            laptops += f"          {key}: {value}\n"
    inventory = directory / "hosts.yml"
    inventory.write_text(
        "---\n"
        "# The data-plane bench: every laptop lives in one container, each as its own client instance.\n"
        "all:\n"
        "  vars:\n" + benchlab.inventory_connection(ssh_dir) + "    ansible_python_interpreter: /usr/bin/python3\n"
        "    sixtunnel_site:\n"
        f"      prefix: {SITE['prefix']}\n"
        "  children:\n"
        "    sixtunnel_gateways:\n"
        "      hosts:\n"
        f"        {GATEWAY}:\n"
        f"          sixtunnel_gateway_remotes: [{GATEWAY}]\n"
        "    sixtunnel_laptops:\n"
        "      vars:\n"
        f"        ansible_host: {LAPTOP}\n"
        "      hosts:\n" + laptops
    )
    return inventory


def directives(config: str) -> list[str]:
    return [line.strip() for line in config.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";"))]


def derive(config: str, changes: dict, replace: dict) -> str:
    """The configuration with directives changed: `replace` (dev, port, up, remote port) and `changes`."""
    lines = []
    for line in directives(config):
        name = line.split()[0]
        if name in changes:
            continue
        if name == "remote":
            host = line.split()[1]
            line = f"remote {host} {replace['port']}"
        elif name in replace:
            line = f"{name} {replace[name]}"
        lines.append(line)
    for name, value in changes.items():
        if value is not None:
            lines.append(f"{name} {value}".strip())
    return "\n".join(lines) + "\n"


def up_script(address: str) -> str:
    return f'#!/bin/sh\nset -eu\nip link set dev "$1" up\nip -6 addr replace {address} dev "$1" nodad\n'


def start_variants(profiles: list[dict]) -> None:
    default = next(profile for profile in profiles if profile["name"] == "default")
    gateway_config = benchlab.sh(GATEWAY, f"cat {default['gateway_config']}")
    laptop_config = benchlab.sh(LAPTOP, f"cat {default['laptop_config']}")
    for container in (GATEWAY, LAPTOP):
        benchlab.sh(container, f"mkdir -p {BENCH_DIR}")
    for number, variant in enumerate(VARIANTS):
        prefix = f"2001:db8:beef:{number:x}::"
        profile = {
            **variant,
            "kind": "variant",
            "gateway_ip": prefix + "1",
            "laptop_ip": prefix + "2",
            "interface": f"sbench{number}",
        }
        ends = {}
        for container, config, end, address in (
            (GATEWAY, gateway_config, "gateway", prefix + "1/64"),
            (LAPTOP, laptop_config, "laptop", prefix + "2/64"),
        ):
            path = f"{BENCH_DIR}/{variant['name']}-{end}"
            replace = {"dev": profile["interface"], "port": 1400 + number, "up": f"{path}-up.sh"}
            derived = derive(config, variant["changes"], replace)
            benchlab.write_file(container, f"{path}.conf", derived, "0600")
            benchlab.write_file(container, f"{path}-up.sh", up_script(address), "0700")
            benchlab.sh(
                container,
                f"openvpn --config {path}.conf --writepid {path}.pid --log {path}.log --daemon sixtunnel-bench",
            )
            ends[end] = {"pidfile": f"{path}.pid"}
            profile[f"{end}_directives"] = directives(derived)
        profile["ends"] = ends
        profiles.append(profile)


def resolve_pids(profiles: list[dict]) -> None:
    for profile in profiles:
        if profile["kind"] == "raw":
            profile["pids"] = {}
        elif profile["kind"] == "roles":
            gateway_pid = benchlab.sh(GATEWAY, f"systemctl show -p MainPID --value {profile['gateway_unit']}").strip()
            laptop_pid = benchlab.sh(LAPTOP, f"systemctl show -p MainPID --value {profile['laptop_unit']}").strip()
            profile["pids"] = {GATEWAY: int(gateway_pid), LAPTOP: int(laptop_pid)}
        else:
            profile["pids"] = {
                GATEWAY: int(benchlab.sh(GATEWAY, f"cat {profile['ends']['gateway']['pidfile']}")),
                LAPTOP: int(benchlab.sh(LAPTOP, f"cat {profile['ends']['laptop']['pidfile']}")),
            }
        if profile["pids"] and min(profile["pids"].values()) <= 0:
            raise RuntimeError(f"profile {profile['name']}: an OpenVPN process is not running: {profile['pids']}")


def cpu_ticks(profile: dict) -> dict[str, int]:
    """utime + stime of the profile's OpenVPN process in each container, in clock ticks."""
    ticks = {}
    for container, pid in profile["pids"].items():
        stat = benchlab.sh(container, f"cat /proc/{pid}/stat")
        fields = stat.rsplit(")", 1)[1].split()
        ticks[container] = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5): utime, stime
    return ticks


def wait_for_tunnel(profile: dict, seconds: int = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ping = ["podman", "exec", LAPTOP, "ping", "-6", "-c", "1", "-W", "1", profile["gateway_ip"]]
        if benchlab.run(ping, check=False, timeout=30).returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"profile {profile['name']}: no ping6 to {profile['gateway_ip']} within {seconds} s")


def iperf(profile: dict, extra: list[str], seconds: int) -> dict:
    """One iperf3 run from the laptop to the profile's gateway address; retried once if the server was busy."""
    command = f"iperf3 -6 -c {profile['gateway_ip']} -t {seconds} -J {' '.join(extra)}"
    for _attempt in range(3):
        output = benchlab.sh(LAPTOP, command, check=False, timeout=seconds + 60)
        try:
            result = json.loads(output)
        except json.JSONDecodeError:
            result = {"error": output[-300:]}
        if "error" not in result:
            return result
        benchlab.log(f"  iperf3 to {profile['name']}: {result['error']}; restarting the server")
        restart_iperf_server()
        time.sleep(2)
    raise RuntimeError(f"profile {profile['name']}: iperf3 failed: {result['error']}")


def restart_iperf_server() -> None:
    benchlab.sh(GATEWAY, "[ -f /run/sixtunnel-bench-iperf3.pid ] && kill $(cat /run/sixtunnel-bench-iperf3.pid); true")
    time.sleep(1)
    benchlab.sh(GATEWAY, "iperf3 -s -D -I /run/sixtunnel-bench-iperf3.pid")


def measure(profile: dict, seconds: int, udp_seconds: int, udp_rate: str, clock_ticks: int) -> dict:
    ticks_before = cpu_ticks(profile)
    tcp = iperf(profile, [], seconds)
    ticks_after = cpu_ticks(profile)
    received = tcp["end"]["sum_received"]
    sample = {
        "tcp_mbps": received["bits_per_second"] / 1e6,
        "tcp_bytes": received["bytes"],
        "tcp_retransmits": tcp["end"]["sum_sent"].get("retransmits"),
    }
    if profile["pids"]:
        gateway_seconds = (ticks_after[GATEWAY] - ticks_before[GATEWAY]) / clock_ticks
        laptop_seconds = (ticks_after[LAPTOP] - ticks_before[LAPTOP]) / clock_ticks
        sample["cpu_s_per_gb"] = (gateway_seconds + laptop_seconds) / (received["bytes"] / 1e9)
        # Share of one core each end was busy during the run: near 100 % means that end is the bottleneck.
        sample["gateway_core_percent"] = 100 * gateway_seconds / received["seconds"]
        sample["laptop_core_percent"] = 100 * laptop_seconds / received["seconds"]
    # 1200-byte datagrams fit the smallest tunnel MTU (1280) without fragments.
    udp = iperf(profile, ["-u", "-b", udp_rate, "-l", "1200"], udp_seconds)["end"]["sum"]
    sample.update(
        udp_mbps=udp["bits_per_second"] / 1e6, udp_lost_percent=udp["lost_percent"], udp_jitter_ms=udp["jitter_ms"]
    )
    ping = benchlab.sh(LAPTOP, f"ping -6 -q -c 20 -i 0.05 {profile['gateway_ip']}", check=False)
    match = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", ping)
    if match:
        sample["rtt_ms"] = float(match.group(2))
    return sample


def summarize(samples: list[dict]) -> dict:
    summary = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples if sample.get(key) is not None]
        if values:
            summary[key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
    return summary


def crypto_speed() -> dict:
    """What the data channel's crypto alone costs: openssl speed on one core, 1400-byte blocks, GB/s of CPU time."""
    speeds = {}
    for name, options in (
        ("AES-256-GCM", "-evp aes-256-gcm"),
        ("AES-128-GCM", "-evp aes-128-gcm"),
        ("CHACHA20-POLY1305", "-evp chacha20-poly1305"),
        ("AES-256-CBC", "-evp aes-256-cbc"),
        ("HMAC-SHA256", "-hmac sha256"),
    ):
        output = benchlab.sh(GATEWAY, f"openssl speed -seconds 2 -bytes 1400 {options} 2>/dev/null | tail -1")
        speeds[name] = float(output.split()[-1].rstrip("k")) * 1000 / 1e9
    # The seed encrypts and then authenticates every packet: the two costs add up.
    speeds["AES-256-CBC + HMAC-SHA256"] = 1 / (1 / speeds["AES-256-CBC"] + 1 / speeds["HMAC-SHA256"])
    return {name: round(value, 3) for name, value in speeds.items()}


def container_versions() -> dict:
    return {
        "openvpn": benchlab.sh(GATEWAY, "openvpn --version | head -1").strip(),
        "openssl": benchlab.sh(GATEWAY, "openssl version").strip(),
        "iperf3": benchlab.sh(GATEWAY, "iperf3 --version | head -1").strip(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for dataplane.json and the inventory")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per profile, interleaved (default 5)")
    parser.add_argument("--seconds", type=int, default=5, help="length of each iperf3 TCP run (default 5)")
    parser.add_argument("--udp-seconds", type=int, default=3, help="length of each iperf3 UDP run (default 3)")
    parser.add_argument("--udp-rate", default="200M", help="iperf3 UDP target rate (default 200M)")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: the report gives medians")

    planner = load_planner()
    plan = planner.plan_tunnels(SITE, [{"name": p["laptop"], "tunnel_id": p["tunnel_id"]} for p in ROLE_PROFILES])
    planned = {tunnel["name"]: tunnel for tunnel in plan["tunnels"]}
    ssh_dir = args.out / "dataplane-ssh"
    inventory = write_inventory(args.out / "dataplane", ssh_dir)
    results = {"machine": benchlab.machine(), "settings": vars(args) | {"out": str(args.out)}}
    try:
        for name in (GATEWAY, LAPTOP):
            benchlab.start_container(name)
        benchlab.ssh_access([GATEWAY, LAPTOP], ssh_dir)
        benchlab.log("data plane: converging the bench site with playbooks/site.yml")
        converge = benchlab.ansible_playbook(inventory, PLAYBOOK)
        results["converge_seconds"] = round(converge["seconds"], 1)
        results["versions"] = container_versions()
        results["crypto_gb_per_s"] = crypto_speed()

        profiles = [
            {
                "name": "raw",
                "kind": "raw",
                "safe": True,
                "description": "no tunnel: container to container over the podman network, the ceiling",
                "gateway_ip": benchlab.container_address(GATEWAY),
            }
        ]
        for role_profile in ROLE_PROFILES:
            tunnel = planned[role_profile["laptop"]]
            instance = f"sixtunnel-{role_profile['laptop']}"
            profile = {
                "name": role_profile["name"],
                "kind": "roles",
                "safe": True,
                "description": role_profile["description"],
                "gateway_ip": tunnel["gateway_ip"],
                "laptop_ip": tunnel["laptop_ip"],
                "interface": tunnel["interface"],
                "gateway_unit": f"openvpn-server@{instance}.service",
                "laptop_unit": f"openvpn-client@{role_profile['instance']}.service",
                "gateway_config": f"/etc/openvpn/server/{instance}.conf",
                "laptop_config": f"/etc/openvpn/client/{role_profile['instance']}.conf",
            }
            profile["gateway_directives"] = directives(benchlab.sh(GATEWAY, f"cat {profile['gateway_config']}"))
            profile["laptop_directives"] = directives(benchlab.sh(LAPTOP, f"cat {profile['laptop_config']}"))
            profiles.append(profile)
        start_variants(profiles)
        for profile in profiles:
            wait_for_tunnel(profile)
        resolve_pids(profiles)
        clock_ticks = int(benchlab.sh(GATEWAY, "getconf CLK_TCK"))
        restart_iperf_server()
        benchlab.log("data plane: warming up each profile")
        for profile in profiles:
            iperf(profile, [], 1)

        samples = {profile["name"]: [] for profile in profiles}
        for round_number in range(args.rounds):
            for profile in profiles:
                sample = measure(profile, args.seconds, args.udp_seconds, args.udp_rate, clock_ticks)
                samples[profile["name"]].append(sample)
                benchlab.log(
                    f"data plane: round {round_number + 1}/{args.rounds} {profile['name']:12s} "
                    f"{sample['tcp_mbps']:8.0f} Mbit/s  CPU {sample.get('cpu_s_per_gb', 0):5.2f} s/GB  "
                    f"UDP loss {sample['udp_lost_percent']:.2f}%  RTT {sample.get('rtt_ms', 0):.3f} ms"
                )
        for profile in profiles:
            profile["samples"] = samples[profile["name"]]
            profile["summary"] = summarize(samples[profile["name"]])
            for key in ("pids", "ends", "gateway_config", "laptop_config"):
                profile.pop(key, None)
        results["profiles"] = profiles
        results["load_average_after"] = benchlab.load_average()
    finally:
        if not args.keep:
            benchlab.remove_containers([GATEWAY, LAPTOP])
            benchlab.remove_network()
    benchlab.write_json(args.out / "dataplane.json", results)
    for profile in results["profiles"]:
        tcp = profile["summary"]["tcp_mbps"]
        cpu = profile["summary"].get("cpu_s_per_gb", {}).get("median", 0)
        print(
            f"{profile['name']:12s} {tcp['median']:8.0f} Mbit/s ({tcp['min']:.0f}-{tcp['max']:.0f})  {cpu:5.2f} CPU s/GB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
