#!/usr/bin/env python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Measure what a tunnel costs a site: CPU per GB, throughput, loss and latency of each profile, side by side.

    python benchmarks/bench_dataplane.py --out DIR [--rounds 5] [--seconds 5] [--udp-rate 200M] [--keep]

For each OpenVPN version (2.6 from SIXTUNNEL_IMAGE, Debian 12; 2.7 from SIXTUNNEL_IMAGE_27, Debian 13 with
backports), playbooks/site.yml converges a gateway and a laptop container through the real roles, with three laptops
in the inventory (the seed's static key, the collection's default, tun mode), the gateway's firewall on (table
inet sixtunnel). Both containers are then committed to images, and the profiles get container pairs started from
them: one tunnel per pair (the others' units stopped), so no tunnel shares a kernel's address lists, conntrack
table or CPU queue with another one of the run. A variant is a role profile with a few directives of its rendered
configuration changed, in a pair of its own, or with only its gateway's table changed, in the pair of the profile
it varies (the table is swapped before each sample): two pairs of the same profile differ by a few per cent
(`default-2` against `default`), more than some of the changes measured.

Then, for each round, every profile in turn (A B C ... B C A ...: each round starts one later): iperf3 TCP from the
laptop to the gateway end, with the CPU time of both OpenVPN processes (/proc/PID/stat) and the packets of both
tunnel devices (/sys/class/net/DEV/statistics) read before and after; iperf3 UDP at a fixed rate for loss and
jitter; ping6 for the round-trip time; the host's load average. `default-again` is `default` once more, in the same
pair at another place in the round: its gap to `default` is the run's noise. After the rounds, the system calls per
packet of each end (perf stat on raw_syscalls:sys_enter, from the host) for the profiles in SYSCALL_PROFILES, and
what each OpenVPN said about data channel offload (DCO) when it started. Writes DIR/dataplane.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import benchlab

SITE = {"prefix": "2001:db8:abba::/48"}
PLAYBOOK = "sixtunnel.openvpn.site"

# OpenVPN versions side by side: (tag, label, environment variable naming the image).
VERSIONS = [("26", "2.6", "SIXTUNNEL_IMAGE"), ("27", "2.7", "SIXTUNNEL_IMAGE_27")]

# Laptops that the roles configure; in the converge they all live in the laptop container, each its own instance.
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
        "description": "the default with sixtunnel_dev_type: tun, as the roles render it (txqueuelen 1000)",
    },
]

# Each profile: its role profile, then what is changed. gateway/laptop: directive -> value ("" a flag, None: removed;
# "{gateway_address}" is the pair gateway's address), in a pair of its own. pair: the profile runs in that profile's
# pair (same containers, same OpenVPN processes) with only the gateway's table swapped before each of its samples,
# so the comparison carries no difference between two pairs. nft: the gateway's table (absent: as the role renders
# it by default; the converge renders the notrack chains, openvpn_server_firewall_notrack: true, and every table but
# `notrack` drops them), "conntrack" adds the return-traffic rule the roles rendered until the table became
# stateless (its `ct state` turns connection tracking on for every packet of the gateway), "notrack" that rule and
# the notrack chains, "off" no table. versions: the OpenVPN versions it runs on.
PROFILES = [
    {"name": "seed", "role": "seed", "versions": ("26", "27")},
    {"name": "default", "role": "default", "versions": ("26", "27")},
    {
        "name": "default-again",
        "role": "default",
        "pair": "default",
        "versions": ("26",),
        "description": "`default` measured again in its pair, at another place in each round: the noise control "
        "(its gap to `default` is the run's noise)",
    },
    {
        "name": "default-2",
        "role": "default",
        "versions": ("26",),
        "description": "`default` in a pair of its own: its gap to `default` is what two pairs of the same profile "
        "differ by (the noise of every comparison between two pairs)",
    },
    {
        "name": "conntrack",
        "role": "default",
        "pair": "default",
        "nft": "conntrack",
        "versions": ("26", "27"),
        "description": "the default before this change: the gateway's table with the forward chain's return-traffic "
        "rule (`ct state established,related`), which turns connection tracking on for every packet of the gateway",
    },
    {
        "name": "notrack",
        "role": "default",
        "pair": "default",
        "nft": "notrack",
        "versions": ("26",),
        "description": "`conntrack` with `openvpn_server_firewall_notrack: true`: on a gateway that tracks "
        "connections, the tunnel's UDP packets exempted (chains transport_in and transport_out)",
    },
    {
        "name": "no-firewall",
        "role": "default",
        "pair": "default",
        "nft": "off",
        "versions": ("26",),
        "description": "the default without the gateway's table inet sixtunnel (openvpn_server_firewall: none)",
    },
    {
        "name": "local",
        "role": "default",
        "gateway": {"multihome": None, "local": "{gateway_address}"},
        "versions": ("26",),
        "description": "the default with the gateway's socket bound to its address (`local ADDRESS`, so no "
        "`multihome`): what binding would save; not rendered (bound where a laptop names the gateway's own "
        "address, it saved 3.4 % on 2.6 and 0.2 % on 2.7, within the 3.9 % two pairs differed by: docs/design.md)",
    },
    {
        "name": "mtu-1414",
        "role": "default",
        "gateway": {"tun-mtu": "1414"},
        "laptop": {"tun-mtu": "1414"},
        "versions": ("26",),
        "description": "the default with `tun-mtu 1414` on both ends (`sixtunnel_tun_mtu: 1414`): the largest tap "
        "MTU whose outer packets (IPv6, UDP, AES-256-GCM) fit a 1500-byte path, so fewer packets per GB; not the "
        "default, which fits 1400-byte paths (docs/profiles.md, MTU)",
    },
    {"name": "tun", "role": "tun", "versions": ("26", "27")},
    {
        "name": "tun-500",
        "role": "tun",
        "gateway": {"txqueuelen": None},
        "laptop": {"txqueuelen": None},
        "versions": ("26",),
        "description": "tun without `txqueuelen 1000`: the tun device's own queue of 500 packets (before this change)",
    },
]
# The forward chain's return-traffic rule, rendered until the table became stateless (the `conntrack` profile).
RETURN_TRAFFIC_RULE = '\t\toifname @laptop_interfaces ct state established,related counter accept comment "return traffic to the laptops"\n'
# Profiles whose system calls per packet are counted after the rounds (a short extra TCP run each).
SYSCALL_PROFILES = ("seed", "default", "seed-2.7", "default-2.7")
NFT_FILE = "/etc/sixtunnel/nftables.nft"


def load_planner():
    path = benchlab.REPO_ROOT / "plugins" / "plugin_utils" / "planner.py"
    spec = importlib.util.spec_from_file_location("sixtunnel_planner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names(tag: str) -> dict[str, str]:
    """The converge containers of one OpenVPN version, and the images committed from them."""
    return {
        "gateway": f"{benchlab.PREFIX}{tag}-gateway",
        "laptop": f"{benchlab.PREFIX}{tag}-laptop",
        "gateway_image": f"localhost/{benchlab.PREFIX}{tag}-gateway:run",
        "laptop_image": f"localhost/{benchlab.PREFIX}{tag}-laptop:run",
    }


def write_inventory(directory: Path, ssh_dir: Path, gateway: str, laptop: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*"):
        if stale.is_file():
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
        "# The data-plane bench's converge: every laptop lives in one container, each as its own client instance;\n"
        "# the measurements run in pairs started from these two containers, one tunnel each.\n"
        "all:\n"
        "  vars:\n" + benchlab.inventory_connection(ssh_dir) + "    ansible_python_interpreter: /usr/bin/python3\n"
        "    sixtunnel_site:\n"
        f"      prefix: {SITE['prefix']}\n"
        "  children:\n"
        "    sixtunnel_gateways:\n"
        "      hosts:\n"
        f"        {gateway}:\n"
        f"          sixtunnel_gateway_remotes: [{gateway}]\n"
        "          # Rendered for the `notrack` profile; every other pair drops these chains (the default's table).\n"
        "          openvpn_server_firewall_notrack: true\n"
        "    sixtunnel_laptops:\n"
        "      vars:\n"
        f"        ansible_host: {laptop}\n"
        "      hosts:\n" + laptops
    )
    return inventory


def directives(config: str) -> list[str]:
    return [line.strip() for line in config.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";"))]


def derive(config: str, changes: dict) -> str:
    """The configuration's directives (comments dropped) with `changes` applied: a directive named there is
    removed, and written again at the end unless its value is None."""
    lines = [line for line in directives(config) if line.split()[0] not in changes]
    lines += [f"{name} {value}".strip() for name, value in changes.items() if value is not None]
    return "\n".join(lines) + "\n"


def without_notrack(table: str) -> str:
    """The rendered nft file without its notrack chains (transport_in, transport_out) and their comment: the table
    the role renders with openvpn_server_firewall_notrack false. Raises RuntimeError if they cannot be found."""
    stripped = re.sub(
        r"\n\t# The UDP tunnels' own packets.*?\n\tchain transport_out \{.*?\n\t\}\n", "\n", table, flags=re.DOTALL
    )
    if "notrack" in stripped:
        raise RuntimeError("could not take the notrack chains out of the rendered table")
    return stripped


def with_return_traffic_rule(table: str) -> str:
    """The rendered nft file with the forward chain's return-traffic rule the roles rendered until the table became stateless, after the
    laptop-to-laptop rule. Raises RuntimeError if that rule cannot be found."""
    anchor = re.search(r'\n\t\tiifname @laptop_interfaces oifname @laptop_interfaces .*"laptop to laptop"\n', table)
    if anchor is None or "ct state" in table:
        raise RuntimeError("could not add the return-traffic rule to the rendered table")
    return table[: anchor.end()] + RETURN_TRAFFIC_RULE + table[anchor.end() :]


def converge(tag: str, image_name: str, out: Path) -> dict:
    """Converge one version's gateway and laptop through site.yml, commit both to images, remove the containers.

    Returns {"converge_seconds", "versions": {openvpn, openssl, iperf3}, "crypto_gb_per_s"}; raises RuntimeError
    when the playbook fails.
    """
    n = names(tag)
    ssh_dir = out / f"dataplane-{tag}-ssh"
    inventory = write_inventory(out / f"dataplane-{tag}", ssh_dir, n["gateway"], n["laptop"])
    for name in (n["gateway"], n["laptop"]):
        benchlab.start_container(name, image_name)
    benchlab.ssh_access([n["gateway"], n["laptop"]], ssh_dir)
    benchlab.log(f"data plane {tag}: converging the bench site with playbooks/site.yml")
    result = benchlab.ansible_playbook(inventory, PLAYBOOK)
    info = {
        "converge_seconds": round(result["seconds"], 1),
        "versions": {
            "openvpn": benchlab.sh(n["gateway"], "openvpn --version | head -1").strip(),
            "openssl": benchlab.sh(n["gateway"], "openssl version").strip(),
            "iperf3": benchlab.sh(n["gateway"], "iperf3 --version | head -1").strip(),
            "debian": benchlab.sh(n["gateway"], "cat /etc/debian_version").strip(),
        },
        "crypto_gb_per_s": crypto_speed(n["gateway"]),
    }
    for role in ("gateway", "laptop"):
        benchlab.run(["podman", "commit", "-q", n[role], n[f"{role}_image"]], timeout=600)
    benchlab.remove_containers([n["gateway"], n["laptop"]])
    return info


def start_pair(profile: dict, tag: str) -> None:
    """Start the profile's pair from the committed images, leave its one tunnel running with its changes applied,
    and fill in profile's gateway/laptop containers, addresses, units and rendered directives."""
    n = names(tag)
    role = next(r for r in ROLE_PROFILES if r["name"] == profile["role"])
    gateway, laptop = profile["gateway"], profile["laptop"]
    # Every iperf3 connection starts afresh, not from what the kernel kept of the previous one (IPv6 too).
    fresh_tcp = ("net.ipv4.tcp_no_metrics_save=1",)
    benchlab.start_container(gateway, n["gateway_image"], fresh_tcp)
    benchlab.start_container(laptop, n["laptop_image"], fresh_tcp)
    for container in (gateway, laptop):
        benchlab.run(
            ["podman", "exec", container, "systemctl", "is-system-running", "--wait"], check=False, timeout=180
        )
    address = benchlab.container_address(gateway)
    profile["gateway_address"] = address
    gateway_instance = f"sixtunnel-{role['laptop']}"
    profile["gateway_unit"] = f"openvpn-server@{gateway_instance}.service"
    profile["laptop_unit"] = f"openvpn-client@{role['instance']}.service"
    others = [r for r in ROLE_PROFILES if r is not role]
    # One tunnel per pair: the other tunnels' units stop (their ports stay in the table, as on a site).
    benchlab.sh(gateway, " ".join(["systemctl stop"] + [f"openvpn-server@sixtunnel-{r['laptop']}" for r in others]))
    benchlab.sh(laptop, " ".join(["systemctl stop"] + [f"openvpn-client@{r['instance']}" for r in others]))
    # The laptop's configuration names the converge's gateway: here it is this pair's gateway, over IPv6.
    benchlab.sh(laptop, f"echo '{address} {n['gateway']}' >> /etc/hosts")
    gateway_config = f"/etc/openvpn/server/{gateway_instance}.conf"
    laptop_config = f"/etc/openvpn/client/{role['instance']}.conf"
    for container, path, key in ((gateway, gateway_config, "gateway"), (laptop, laptop_config, "laptop")):
        config = benchlab.sh(container, f"cat {path}")
        changes = {
            k: (v.format(gateway_address=address) if v else v) for k, v in profile.get(f"{key}_changes", {}).items()
        }
        profile[f"{key}_directives"] = directives(derive(config, changes))
        # verb 3 on every profile alike: OpenVPN then says at start why it does not use DCO (at its default, verb 1,
        # it says nothing); it logs nothing per packet below verb 5.
        benchlab.write_file(container, path, derive(config, changes | {"verb": "3"}), "0600")
    profile["rendered_table"] = benchlab.sh(gateway, f"cat {NFT_FILE}")
    plan_table(profile, profile["rendered_table"])
    set_table(profile)
    benchlab.sh(gateway, f"systemctl restart {profile['gateway_unit']}")
    benchlab.sh(laptop, f"systemctl restart {profile['laptop_unit']}")
    planned = profile["plan"]
    profile["interface"] = planned["interface"]
    profile["gateway_ip"] = planned["gateway_ip"]
    profile["laptop_ip"] = planned["laptop_ip"]


def gateway_table(rendered: str, nft: str | None) -> str | None:
    """The gateway's table of a profile from the converge's rendered nft file (`nft`: see PROFILES); None: no table."""
    if nft == "off":
        return None
    table = rendered if nft == "notrack" else without_notrack(rendered)
    return with_return_traffic_rule(table) if nft in ("conntrack", "notrack") else table


def plan_table(profile: dict, rendered: str) -> None:
    """Fill in the profile's gateway table (from the converge's `rendered` nft file, see gateway_table) and what its
    firewall has (firewall_of), once: set_table loads it before each sample."""
    profile["table"] = gateway_table(rendered, profile.get("nft"))
    profile["firewall"] = firewall_of(profile["table"])


def set_table(profile: dict) -> None:
    """Load the profile's table (None: delete table inet sixtunnel) on its gateway, unless it is loaded already. A
    table's `ct` rule turns connection tracking on while it is loaded; the kernel turns it off again with the last
    such rule."""
    gateway, table = profile["gateway"], profile["table"]
    if LOADED_TABLES.get(gateway, "unset") != table:
        if table is None:
            benchlab.sh(gateway, "nft delete table inet sixtunnel 2>/dev/null; true")
        else:
            benchlab.write_file(gateway, NFT_FILE, table, "0600")
            benchlab.sh(gateway, f"nft -f {NFT_FILE}")
        LOADED_TABLES[gateway] = table


def firewall_of(table: str | None) -> dict:
    return {
        "table": table is not None,
        "notrack_rules": (table or "").count("notrack"),
        "ct_rules": (table or "").count("ct state"),
    }


# The table each gateway container has loaded now (None: none), so a swap happens only when it changes.
LOADED_TABLES: dict[str, str | None] = {}


def spread(profiles: list[dict]) -> list[dict]:
    """The profiles in an order where no two neighbours, the last and the first included, run in the same pair
    (where the pairs allow it): a tunnel measured right after itself cost up to 25 % more CPU per GB than after a
    pause (measured by hand: back to back in one pair, `default` 22-25 s/GB, then `default-again` 26-32)."""
    groups: dict[str, list[dict]] = {}
    for profile in profiles:
        groups.setdefault(profile["gateway"], []).append(profile)
    order, last = [], None
    while any(groups.values()):
        candidates = [key for key, group in groups.items() if group and key != last] or [
            key for key, group in groups.items() if group
        ]
        last = max(candidates, key=lambda key: len(groups[key]))
        order.append(groups[last].pop(0))
    return order


def share_pair(profile: dict, host: dict) -> None:
    """Fill in a profile that runs in `host`'s pair: its containers, units, addresses and processes, and its own
    gateway table."""
    for key in (
        "gateway",
        "laptop",
        "gateway_address",
        "gateway_unit",
        "laptop_unit",
        "gateway_directives",
        "laptop_directives",
        "interface",
        "gateway_ip",
        "laptop_ip",
        "pids",
        "target",
    ):
        profile[key] = host[key]
    plan_table(profile, host["rendered_table"])


def resolve_pids(profile: dict) -> None:
    profile["pids"] = {}
    for end, unit in (("gateway", "gateway_unit"), ("laptop", "laptop_unit")):
        pid = int(benchlab.sh(profile[end], f"systemctl show -p MainPID --value {profile[unit]}").strip())
        if pid <= 0:
            raise RuntimeError(f"profile {profile['name']}: {profile[unit]} is not running on {profile[end]}")
        profile["pids"][end] = pid


def counters(profile: dict) -> dict[str, tuple[int, int]]:
    """Per end: (utime + stime of its OpenVPN process in clock ticks, rx + tx packets of its tunnel device)."""
    values = {}
    for end, pid in profile["pids"].items():
        output = benchlab.sh(
            profile[end],
            f"cat /proc/{pid}/stat; cat /sys/class/net/{profile['interface']}/statistics/rx_packets "
            f"/sys/class/net/{profile['interface']}/statistics/tx_packets",
        ).splitlines()
        fields = output[0].rsplit(")", 1)[1].split()
        # fields 14 and 15 of proc(5): utime, stime
        values[end] = (int(fields[11]) + int(fields[12]), int(output[1]) + int(output[2]))
    return values


def wait_for_tunnel(profile: dict, seconds: int = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ping = ["podman", "exec", profile["laptop"], "ping", "-6", "-c", "1", "-W", "1", profile["gateway_ip"]]
        if benchlab.run(ping, check=False, timeout=30).returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"profile {profile['name']}: no ping6 to {profile['gateway_ip']} within {seconds} s")


def iperf(profile: dict, extra: list[str], seconds: int) -> dict:
    """One iperf3 run from the pair's laptop to its gateway address; retried if the server was busy."""
    command = f"iperf3 -6 -c {profile['target']} -t {seconds} -J {' '.join(extra)}"
    for _attempt in range(3):
        output = benchlab.sh(profile["laptop"], command, check=False, timeout=seconds + 60)
        try:
            result = json.loads(output)
        except json.JSONDecodeError:
            result = {"error": output[-300:]}
        if "error" not in result:
            return result
        benchlab.log(f"  iperf3 to {profile['name']}: {result['error']}; restarting the server")
        restart_iperf_server(profile["gateway"])
        time.sleep(2)
    raise RuntimeError(f"profile {profile['name']}: iperf3 failed: {result['error']}")


def restart_iperf_server(container: str) -> None:
    benchlab.sh(
        container, "[ -f /run/sixtunnel-bench-iperf3.pid ] && kill $(cat /run/sixtunnel-bench-iperf3.pid); true"
    )
    time.sleep(1)
    benchlab.sh(container, "iperf3 -s -D -I /run/sixtunnel-bench-iperf3.pid")


def measure(profile: dict, seconds: int, udp_seconds: int, udp_rate: str, clock_ticks: int) -> dict:
    """One sample: TCP Mbit/s, bytes and retransmits; CPU s/GB of both ends, each end's share of a core and µs per
    tunnel packet; UDP loss % and jitter ms; ping6 RTT ms; the host's 1-minute load average."""
    sample = {"load_1min": os.getloadavg()[0]}
    before = counters(profile) if profile.get("pids") else {}
    tcp = iperf(profile, [], seconds)
    after = counters(profile) if profile.get("pids") else {}
    received = tcp["end"]["sum_received"]
    sample.update(
        tcp_mbps=received["bits_per_second"] / 1e6,
        tcp_bytes=received["bytes"],
        tcp_retransmits=tcp["end"]["sum_sent"].get("retransmits"),
    )
    if before:
        cpu = {end: (after[end][0] - before[end][0]) / clock_ticks for end in before}
        packets = {end: after[end][1] - before[end][1] for end in before}
        sample["cpu_s_per_gb"] = sum(cpu.values()) / (received["bytes"] / 1e9)
        for end in before:
            # Share of one core the end was busy: near 100 % means that end is the bottleneck.
            sample[f"{end}_core_percent"] = 100 * cpu[end] / received["seconds"]
            sample[f"{end}_us_per_packet"] = 1e6 * cpu[end] / packets[end] if packets[end] else None
            sample[f"{end}_packets"] = packets[end]
    # 1200-byte datagrams fit the smallest tunnel MTU (1280) without fragments.
    udp = iperf(profile, ["-u", "-b", udp_rate, "-l", "1200"], udp_seconds)["end"]["sum"]
    sample.update(
        udp_mbps=udp["bits_per_second"] / 1e6, udp_lost_percent=udp["lost_percent"], udp_jitter_ms=udp["jitter_ms"]
    )
    ping = benchlab.sh(profile["laptop"], f"ping -6 -q -c 20 -i 0.05 {profile['target']}", check=False)
    match = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", ping)
    if match:
        sample["rtt_ms"] = float(match.group(2))
    return sample


def host_pid(container: str, pid: int) -> int:
    """The host's PID of a process that has `pid` in the container."""
    for line in benchlab.run(["podman", "top", container, "pid", "hpid"]).stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 2 and fields[0] == str(pid):
            return int(fields[1])
    raise RuntimeError(f"{container}: no process {pid}")


def syscalls_per_packet(profile: dict, seconds: int) -> dict:
    """System calls per tunnel packet of each end during one TCP run: perf stat counts raw_syscalls:sys_enter of
    the OpenVPN process from the host while iperf3 runs, the tunnel device's packets are read around it.
    Returns {"gateway": float, "laptop": float, "gateway_syscalls": int, ...}; {} if perf is missing."""
    try:
        hpids = {end: host_pid(profile[end], pid) for end, pid in profile["pids"].items()}
    except RuntimeError:
        return {}
    before = counters(profile)
    perfs = {
        end: subprocess.Popen(
            [
                "perf",
                "stat",
                "-x",
                ",",
                "-e",
                "raw_syscalls:sys_enter",
                "-p",
                str(hpid),
                "--",
                "sleep",
                str(seconds + 2),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for end, hpid in hpids.items()
    }
    time.sleep(0.5)
    iperf(profile, [], seconds)
    result = {}
    for end, process in perfs.items():
        _out, err = process.communicate(timeout=seconds + 30)
        match = re.search(r"^(\d+),.*raw_syscalls:sys_enter", err, re.MULTILINE)
        if match:
            result[f"{end}_syscalls"] = int(match.group(1))
    after = counters(profile)
    for end in hpids:
        packets = after[end][1] - before[end][1]
        if f"{end}_syscalls" in result and packets:
            result[f"{end}_packets"] = packets
            result[end] = result[f"{end}_syscalls"] / packets
    return result


def dco_status(profile: dict) -> dict:
    """What each end's OpenVPN said about data channel offload since its (re)start, and whether its tunnel device is
    the kernel's: {"gateway": [lines], "gateway_in_use": bool, "laptop": [...], "laptop_in_use": bool}."""
    status = {}
    for end, unit in (("gateway", "gateway_unit"), ("laptop", "laptop_unit")):
        log = benchlab.sh(
            profile[end],
            f"journalctl -o cat --no-pager -u {profile[unit]} _PID={profile['pids'][end]} | grep -i -E 'dco|offload'",
            check=False,
        )
        # The version banner names [DCO] as a build feature: not news about this tunnel.
        status[end] = sorted(
            {line.strip() for line in log.splitlines() if line.strip() and not line.startswith("OpenVPN ")}
        )
        # In use: the tunnel device is an ovpn device (the kernel's data channel), not a tun/tap one.
        link = benchlab.sh(profile[end], f"ip -d link show dev {profile['interface']}", check=False)
        status[f"{end}_in_use"] = bool(re.search(r"\bovpn", link))
    return status


def summarize(samples: list[dict]) -> dict:
    summary = {}
    for key in dict.fromkeys(key for sample in samples for key in sample):
        values = [sample[key] for sample in samples if sample.get(key) is not None]
        if values:
            summary[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return summary


def crypto_speed(container: str) -> dict:
    """What the data channel's crypto alone costs: openssl speed on one core, 1400-byte blocks, GB/s of CPU time."""
    speeds = {}
    for name, options in (
        ("AES-256-GCM", "-evp aes-256-gcm"),
        ("AES-128-GCM", "-evp aes-128-gcm"),
        ("CHACHA20-POLY1305", "-evp chacha20-poly1305"),
        ("AES-256-CBC", "-evp aes-256-cbc"),
        ("HMAC-SHA256", "-hmac sha256"),
    ):
        output = benchlab.sh(container, f"openssl speed -seconds 2 -bytes 1400 {options} 2>/dev/null | tail -1")
        speeds[name] = float(output.split()[-1].rstrip("k")) * 1000 / 1e9
    # The seed encrypts and then authenticates every packet: the two costs add up.
    speeds["AES-256-CBC + HMAC-SHA256"] = 1 / (1 / speeds["AES-256-CBC"] + 1 / speeds["HMAC-SHA256"])
    return {name: round(value, 3) for name, value in speeds.items()}


def plan_profiles(only: list[str] | None, versions: list[str]) -> list[dict]:
    """The run's profiles (raw first), each with its version, containers, planned tunnel and description."""
    planner = load_planner()
    plan = planner.plan_tunnels(SITE, [{"name": p["laptop"], "tunnel_id": p["tunnel_id"]} for p in ROLE_PROFILES])
    planned = {tunnel["name"]: tunnel for tunnel in plan["tunnels"]}
    profiles = []
    for tag, label, _variable in VERSIONS:
        if tag not in versions:
            continue
        for spec in PROFILES:
            if tag not in spec["versions"]:
                continue
            name = spec["name"] if tag == "26" else f"{spec['name']}-{label}"
            if only and name not in only and spec["name"] not in ("default",) and spec["name"] != spec.get("pair"):
                continue
            role = next(r for r in ROLE_PROFILES if r["name"] == spec["role"])
            stem = f"{benchlab.PREFIX}{tag}-{spec.get('pair', spec['name'])}"
            profiles.append(
                {
                    "name": name,
                    "base": spec["name"],
                    "version": label,
                    "tag": tag,
                    "kind": "roles" if spec["name"] == spec["role"] else "variant",
                    "role": spec["role"],
                    "safe": True,
                    "description": spec.get("description", role["description"]),
                    "gateway": f"{stem}-gw",
                    "laptop": f"{stem}-lap",
                    "gateway_changes": spec.get("gateway", {}),
                    "laptop_changes": spec.get("laptop", {}),
                    "nft": spec.get("nft"),
                    "pair": None
                    if "pair" not in spec
                    else (spec["pair"] if tag == "26" else f"{spec['pair']}-{label}"),
                    "plan": planned[role["laptop"]],
                }
            )
    return profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for dataplane.json and the inventories")
    parser.add_argument("--rounds", type=int, default=8, help="measurements per profile, interleaved (default 8)")
    parser.add_argument("--seconds", type=int, default=5, help="length of each iperf3 TCP run (default 5)")
    parser.add_argument("--udp-seconds", type=int, default=3, help="length of each iperf3 UDP run (default 3)")
    parser.add_argument("--udp-rate", default="200M", help="iperf3 UDP target rate (default 200M)")
    parser.add_argument("--only", nargs="*", help="only these profiles (and default), to iterate on a few")
    parser.add_argument("--versions", nargs="+", default=["26", "27"], help="OpenVPN versions (default: 26 27)")
    parser.add_argument("--keep", action="store_true", help="leave the containers and images")
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: the report gives medians")

    profiles = plan_profiles(args.only, args.versions)
    tags = sorted({profile["tag"] for profile in profiles})
    images = {tag: os.environ.get(variable) for tag, _label, variable in VERSIONS if tag in tags}
    missing = [tag for tag, name in images.items() if not name]
    if missing:
        raise SystemExit(
            f"no image for OpenVPN {missing}: set SIXTUNNEL_IMAGE and SIXTUNNEL_IMAGE_27 (make bench does)"
        )
    results = {"machine": benchlab.machine(), "settings": vars(args) | {"out": str(args.out)}, "versions": {}}
    containers = list(dict.fromkeys(c for profile in profiles for c in (profile["gateway"], profile["laptop"])))
    by_name = {profile["name"]: profile for profile in profiles}
    try:
        for tag in tags:
            results["versions"][tag] = converge(tag, images[tag], args.out)
        hosts = [profile for profile in profiles if not profile["pair"]]
        for profile in hosts:
            benchlab.log(f"data plane: starting the pair of {profile['name']}")
            start_pair(profile, profile["tag"])
        for profile in hosts:
            wait_for_tunnel(profile)
            resolve_pids(profile)
            profile["target"] = profile["gateway_ip"]
        for profile in profiles:
            if profile["pair"]:
                share_pair(profile, by_name[profile["pair"]])
        default = next(profile for profile in profiles if profile["name"] == "default")
        raw = {
            "name": "raw",
            "base": "raw",
            "version": "–",
            "kind": "raw",
            "safe": True,
            "description": "no tunnel: the `default` pair's containers over the podman network, the ceiling",
            "gateway": default["gateway"],
            "laptop": default["laptop"],
            "target": default["gateway_address"],
        }
        profiles.insert(0, raw)
        schedule = spread(profiles)
        clock_ticks = int(benchlab.sh(default["gateway"], "getconf CLK_TCK"))
        for profile in profiles[1:]:
            restart_iperf_server(profile["gateway"])
        benchlab.log("data plane: warming up each profile")
        for profile in profiles:
            iperf(profile, [], 1)

        samples = {profile["name"]: [] for profile in profiles}
        for round_number in range(args.rounds):
            # Each round starts one profile later, in the order where no tunnel follows itself (spread).
            shift = round_number % len(schedule)
            for profile in schedule[shift:] + schedule[:shift]:
                if "table" in profile:
                    set_table(profile)
                sample = measure(profile, args.seconds, args.udp_seconds, args.udp_rate, clock_ticks)
                samples[profile["name"]].append(sample)
                benchlab.log(
                    f"data plane: round {round_number + 1}/{args.rounds} {profile['name']:18s} "
                    f"{sample['tcp_mbps']:6.0f} Mbit/s  CPU {sample.get('cpu_s_per_gb', 0):5.2f} s/GB  "
                    f"retr {sample.get('tcp_retransmits')}  load {sample['load_1min']:.1f}"
                )
        for profile in profiles:
            if "table" in profile:
                set_table(profile)
            if profile["name"] in SYSCALL_PROFILES:
                profile["syscalls_per_packet"] = syscalls_per_packet(profile, args.seconds)
                benchlab.log(
                    f"data plane: system calls per packet, {profile['name']}: {profile['syscalls_per_packet']}"
                )
            if profile.get("pids") and not profile.get("pair"):
                profile["dco"] = dco_status(profile)
        for profile in profiles:
            profile["samples"] = samples[profile["name"]]
            profile["summary"] = summarize(samples[profile["name"]])
            for key in ("pids", "plan", "target", "rendered_table", "table"):
                profile.pop(key, None)
        results["profiles"] = profiles
        results["load_average_after"] = benchlab.load_average()
    finally:
        if not args.keep:
            benchlab.remove_containers(
                containers + [c for tag in tags for c in (names(tag)["gateway"], names(tag)["laptop"])]
            )
            for tag in tags:
                for role in ("gateway", "laptop"):
                    benchlab.run(["podman", "rmi", "-f", names(tag)[f"{role}_image"]], check=False)
            benchlab.remove_network()
    benchlab.write_json(args.out / "dataplane.json", results)
    for profile in results["profiles"]:
        tcp = profile["summary"]["tcp_mbps"]
        cpu = profile["summary"].get("cpu_s_per_gb", {}).get("median", 0)
        print(
            f"{profile['name']:18s} {cpu:5.2f} CPU s/GB  {tcp['median']:8.0f} Mbit/s ({tcp['min']:.0f}-{tcp['max']:.0f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
