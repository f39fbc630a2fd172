#!/usr/bin/env python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write docs/benchmarks.md and its plot from the JSON results of one `make bench` run.

    python benchmarks/report.py --results DIR --markdown docs/benchmarks.md --plot docs/benchmarks.png

Exits 1 when the control plane misses its contract: a no-change re-run that changes something, or a 50-laptop
re-run longer than twice the 1-laptop re-run; or, when DIR has servermode.json, server mode misses its targets
(servermode_section).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

# Earlier control-plane measurements, newest first, kept as history: the same script with earlier code or connection.
HISTORY = Path(__file__).resolve().parent / "history-controlplane.json"
# A no-change re-run with this many laptops may take at most BOUND_FACTOR times the 1-laptop re-run.
BOUND_SIZE = 50
BOUND_FACTOR = 2.0


def median(summary: dict, key: str) -> float | None:
    return summary.get(key, {}).get("median")


def span(summary: dict, key: str, digits: int = 0) -> str:
    if key not in summary:
        return "–"
    values = summary[key]
    return f"{values['median']:.{digits}f} ({values['min']:.{digits}f}–{values['max']:.{digits}f})"


def ratio(value: float | None, reference: float | None, digits: int = 2) -> str:
    if value is None or not reference:
        return "–"
    return f"{value / reference:.{digits}f}×"


def machine_table(dataplane: dict, controlplane: dict) -> list[str]:
    machine = dataplane["machine"]
    versions = dataplane.get("versions", {})
    software = "; ".join(
        f"{info['versions']['openvpn']} (Debian {info['versions'].get('debian', '?')}); {info['versions']['openssl']}"
        for info in versions.values()
    )
    iperf = next(iter(versions.values()), {}).get("versions", {}).get("iperf3", "?")
    rows = [
        (
            "CPU",
            f"{machine['cpu']}, {machine['cores']} cores (crypto: {', '.join(machine['cpu_crypto_flags']) or 'none'})",
        ),
        ("Memory", f"{machine['memory_gib']} GiB"),
        ("Kernel", machine["kernel"]),
        ("Containers", f"{machine['podman']}, Debian 12 and 13 images built by tests/podman/build-image.sh"),
        (
            "Tunnel software",
            f"{software}; {iperf}",
        ),
        ("Controller", f"{machine['ansible']}, Python {machine['python']}"),
        (
            "Load average (1, 5, 15 min)",
            (
                f"data plane {machine['load_average']} before, {dataplane.get('load_average_after')} after"
                + (
                    f"; control plane {controlplane['machine']['load_average']} before, "
                    f"{controlplane.get('load_average_after')} after"
                    if controlplane
                    else ""
                )
            ),
        ),
        ("Measured", machine["date"]),
    ]
    return ["| | |", "| --- | --- |"] + [f"| {name} | {value} |" for name, value in rows]


def crypto_lines(dataplane: dict, profiles: dict, goal_met: bool) -> list[str]:
    """How much of the measured CPU per GB the ciphers themselves explain."""
    # Measured in each version's gateway; OpenVPN 2.6's (Debian 12's OpenSSL) is the reference.
    per_version = dataplane.get("versions", {})
    speeds = dataplane.get("crypto_gb_per_s") or per_version.get("26", {}).get("crypto_gb_per_s")
    if not speeds:
        return []
    lines = [
        "",
        (
            "Crypto alone (`openssl speed`, one core, 1400-byte blocks, CPU time) against the measured cost; a tunnel "
            "encrypts each byte at one end and decrypts it at the other, so its crypto costs about 2 / speed per GB:"
        ),
        "",
        "| cipher | GB/s | crypto s/GB, both ends | measured s/GB, both ends | crypto share |",
        "| --- | --- | --- | --- | --- |",
    ]
    measured = {
        "AES-256-GCM": median(profiles["default"]["summary"], "cpu_s_per_gb"),
        "AES-256-CBC + HMAC-SHA256": median(profiles["seed"]["summary"], "cpu_s_per_gb"),
    }
    for name, key in (("aes-128-gcm", "AES-128-GCM"), ("chacha20", "CHACHA20-POLY1305")):
        if name in profiles:
            measured[key] = median(profiles[name]["summary"], "cpu_s_per_gb")
    for name, speed in speeds.items():
        crypto = 2 / speed
        if measured.get(name):
            lines.append(
                f"| {name} | {speed:.2f} | {crypto:.2f} | {measured[name]:.2f} | {100 * crypto / measured[name]:.0f} % |"
            )
        else:
            lines.append(f"| {name} | {speed:.2f} | {crypto:.2f} | – | – |")
    default_cpu, seed_cpu = measured["AES-256-GCM"], measured["AES-256-CBC + HMAC-SHA256"]
    seed_crypto = 2 / speeds["AES-256-CBC + HMAC-SHA256"]
    default_crypto = 2 / speeds["AES-256-GCM"]
    if goal_met:
        return lines
    lines += [
        "",
        (
            f"Where the CPU goes: the bulk ciphers explain only {seed_crypto:.1f} of the seed's {seed_cpu:.1f} CPU "
            f"s/GB and {default_crypto:.1f} of the default's {default_cpu:.1f}. The rest is work on every packet "
            "outside the cipher: reading the tap or tun device, the UDP socket's send and receive, copies, setting "
            "up the cipher for the packet and OpenVPN's own processing, in one thread per instance (the per-packet "
            f"table above). Without any cipher at all the default would still spend {default_cpu - default_crypto:.1f}. "
            "What would remove that work is the data channel in the kernel, OpenVPN's DCO (below)."
        ),
    ]
    return lines


def dataplane_section(dataplane: dict) -> tuple[list[str], dict]:
    """The data-plane section as markdown lines, and its verdict for the JSON summary.

    The verdict holds the default's CPU per GB against the seed's and against `conntrack` (today's default: the
    gateway's table with its `ct state` rule, which turns connection tracking on), the run's noise, and per change
    its gain and whether it beats the noise (fractions: 0.05 is 5 %).
    """
    profiles = {profile["name"]: profile for profile in dataplane["profiles"]}
    noise = noise_control(profiles)
    lines = dataplane_table(profiles, dataplane["settings"])
    goal, verdict = goal_lines(profiles, noise)
    lines += goal
    changes, verdict["changes"] = change_lines(profiles, noise)
    lines += changes
    lines += version_lines(profiles)
    lines += per_packet_lines(profiles)
    lines += crypto_lines(dataplane, profiles, False)
    lines += dco_lines(profiles)
    lines += profile_listing(profiles)
    return lines, verdict


def cpu(profiles: dict[str, dict], name: str) -> float | None:
    return median(profiles[name]["summary"], "cpu_s_per_gb") if name in profiles else None


def dataplane_table(profiles: dict[str, dict], settings: dict) -> list[str]:
    """How the data plane was measured, and one row per profile: CPU s/GB (the headline), × the seed of the same
    OpenVPN version, TCP Mbit/s with the host's load average beside it, TCP retransmits, µs of CPU per tunnel packet
    and busy % of a core per end, UDP loss %, RTT ms."""
    lines = [
        "## Data plane",
        "",
        (
            "Each profile runs in a container pair of its own, one tunnel per pair, started from the gateway and "
            "laptop that `playbooks/site.yml` converged for that OpenVPN version (2.6: Debian 12; 2.7: Debian 13 "
            "with backports), the gateway's firewall on (table `inet sixtunnel` as the role renders it) unless the "
            "profile says otherwise; a profile that differs only in the gateway's table (`default-again`, "
            "`conntrack`, `notrack`, `no-firewall`) runs in the pair of `default` (or `default-2.7`), its table "
            "loaded before each of its samples, so that no difference between two pairs enters its comparison. "
            f"iperf3 TCP for {settings['seconds']} s from the laptop to the gateway end of the tunnel, "
            f"{settings['rounds']} rounds, the profiles interleaved (A B C … B C A …, each round starting one later) so that the load of the shared "
            "machine hits all alike: median (min–max). **CPU s/GB** is the headline: the user + system time of both "
            "OpenVPN processes (gateway and laptop end, `/proc/PID/stat`) per GB received; it hardly moves with "
            "the machine's load, which Mbit/s do (the load average column is the host's 1-minute load during the "
            "runs, median). µs/packet: each end's CPU time over the packets of its tunnel device (received + sent, "
            "`/sys/class/net/DEV/statistics`). 'Busy' is the share of one core each end used. "
            f"UDP: iperf3 offering {settings['udp_rate']}bit/s for {settings['udp_seconds']} s, 1200-byte datagrams. "
            "RTT: ping6, 20 pings 50 ms apart, mean."
        ),
        "",
        (
            "| profile | OpenVPN | CPU s/GB | CPU × seed | TCP Mbit/s | load | TCP retransmits "
            "| µs/packet: gateway / laptop | busy: gateway / laptop | UDP loss % | RTT ms |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, profile in profiles.items():
        summary = profile["summary"]
        seed = "seed" if profile.get("version") != "2.7" else "seed-2.7"
        busy = per_packet = "–"
        if "gateway_core_percent" in summary:
            busy = f"{median(summary, 'gateway_core_percent'):.0f} % / {median(summary, 'laptop_core_percent'):.0f} %"
        if "gateway_us_per_packet" in summary:
            per_packet = (
                f"{median(summary, 'gateway_us_per_packet'):.1f} / {median(summary, 'laptop_us_per_packet'):.1f}"
            )
        label = f"**{name}**" if profile.get("base") in ("seed", "default") else name
        lines.append(
            f"| {label} | {profile.get('version', '–')} | {span(summary, 'cpu_s_per_gb', 2)} "
            f"| {ratio(cpu(profiles, name), cpu(profiles, seed))} | {span(summary, 'tcp_mbps')} "
            f"| {median(summary, 'load_1min') or 0:.1f} | {span(summary, 'tcp_retransmits')} | {per_packet} | {busy} "
            f"| {span(summary, 'udp_lost_percent', 2)} | {median(summary, 'rtt_ms') or 0:.3f} |"
        )
    return lines


def paired_ratio(profiles: dict[str, dict], name: str, reference: str, key: str = "cpu_s_per_gb") -> float:
    """The median over the rounds of name's `key` divided by reference's in the same round: a round's load hits
    both alike, so the ratio is steadier than the ratio of the two medians."""
    ratios = [
        sample[key] / other[key]
        for sample, other in zip(profiles[name]["samples"], profiles[reference]["samples"], strict=False)
        if sample.get(key) and other.get(key)
    ]
    return statistics.median(ratios)


def noise_control(profiles: dict[str, dict], again: str = "default-again") -> dict[str, float]:
    """This run's noise: how far `again` (`default-again`: the same profile measured again in the same pair;
    `default-2`: in a pair of its own) is from `default`, as the median of the per-round ratios, in cpu_s_per_gb and
    tcp_mbps (0.05 is 5 %); 0.0 for both without it."""
    noise = {"cpu_s_per_gb": 0.0, "tcp_mbps": 0.0}
    if again in profiles:
        noise = {key: abs(paired_ratio(profiles, again, "default", key) - 1) for key in noise}
    return noise


def same_pair(profiles: dict[str, dict], one: str, other: str) -> bool:
    """Whether two profiles ran in the same container pair (one of them in the other's, or both in a third's)."""
    pairs = [profiles[name].get("pair") or name for name in (one, other)]
    return pairs[0] == pairs[1]


def gain(profiles: dict[str, dict], without: str, with_: str) -> float | None:
    """How much less CPU per GB `with_` costs than `without` (0.1: 10 % less), the median of the per-round ratios;
    None if either is missing."""
    if without not in profiles or with_ not in profiles:
        return None
    return 1 - paired_ratio(profiles, with_, without)


def goal_lines(profiles: dict[str, dict], noise: dict[str, float]) -> tuple[list[str], dict]:
    """The default against the seed and against today's default (`conntrack`, and `conntrack-2.7` where measured):
    a sentence each, and the verdict."""
    default, seed = cpu(profiles, "default"), cpu(profiles, "seed")
    verdict = {
        "default_cpu_s_per_gb": round(default, 2),
        "default_vs_seed_cpu_per_gb": round(default / seed, 2),
        "default_vs_seed_mbps": round(
            median(profiles["default"]["summary"], "tcp_mbps") / median(profiles["seed"]["summary"], "tcp_mbps"), 2
        ),
        "noise_cpu_per_gb": round(noise["cpu_s_per_gb"], 3),
        "noise_mbps": round(noise["tcp_mbps"], 3),
    }
    lines = [
        "",
        (
            f"**The default costs {default:.2f} CPU s/GB, {default / seed:.2f}× the seed profile's {seed:.2f}** "
            f"(and moves {verdict['default_vs_seed_mbps']:.2f}× its Mbit/s)."
        ),
    ]
    saved = gain(profiles, "conntrack", "default")
    if saved is None:
        verdict["goal_met"] = False
        lines += [
            "",
            (
                "**Against today's default with the firewall on, the new default is the same tap tunnel**: of the "
                "per-packet changes below only the tun queue is kept, and it changes tun tunnels only; the notrack "
                "chains did not pay beyond the noise, so the roles do not render them by default. The goal (at least "
                "10 % less CPU per GB than today's default) is not met."
            ),
        ]
    if saved is not None:
        verdict["default_vs_before"] = round(saved, 3)
        verdict["goal_met"] = saved >= 0.10 and saved > noise["cpu_s_per_gb"]
        lines += [
            "",
            (
                f"**Against today's default with the firewall on (`conntrack`, {cpu(profiles, 'conntrack'):.2f} s/GB) "
                f"the new default, whose table keeps no state, costs {saved:.1%} less CPU per GB** (median of the "
                "per-round ratios; goal: at least 10 %, beyond the noise: "
                f"{'met' if verdict['goal_met'] else 'not met'} in this run). The run's noise, `default-again` against "
                f"`default` (the same profile measured again in its pair, median of the per-round ratios): "
                f"{noise['cpu_s_per_gb']:.1%} in CPU per GB, {noise['tcp_mbps']:.0%} in Mbit/s."
            ),
        ]
        saved_27 = gain(profiles, "conntrack-2.7", "default-2.7")
        if saved_27 is not None:
            verdict["default_vs_before_2.7"] = round(saved_27, 3)
            lines[-1] += (
                f" On OpenVPN 2.7 the same change saves {saved_27:.1%} (`conntrack-2.7` "
                f"{cpu(profiles, 'conntrack-2.7'):.2f} → `default-2.7` {cpu(profiles, 'default-2.7'):.2f} s/GB)."
            )
    return lines, verdict


# Each per-packet change: (name, profile without it, profile with it, what it is, whether the roles render it:
# yes, no, or how a site chooses it).
CHANGES = [
    (
        "stateless table (2.6)",
        "conntrack",
        "default",
        "the gateway's table without its one `ct state` rule: nothing turns connection tracking on",
        "yes",
    ),
    ("stateless table (2.7)", "conntrack-2.7", "default-2.7", "the same on OpenVPN 2.7", "yes"),
    (
        "notrack",
        "conntrack",
        "notrack",
        "on a gateway that tracks connections, the tunnel's UDP packets exempted in the gateway's table",
        "no",
    ),
    ("txqueuelen 1000 on tun", "tun-500", "tun", "a tun device's queue of 1000 packets instead of 500", "yes"),
    ("local (bound socket)", "default", "local", "the gateway's socket bound to its address, no multihome", "no"),
    ("the whole firewall", "default", "no-firewall", "what table inet sixtunnel, as rendered by default, costs", "no"),
    (
        "tun-mtu 1414",
        "default",
        "mtu-1414",
        "both ends' tun-mtu 1414 instead of 1280: TCP segments of up to 1354 bytes instead of 1220 (paths of 1500)",
        "by choice: `sixtunnel_tun_mtu`",
    ),
    (
        "tun-mtu 1414 and the stateless table",
        "conntrack",
        "mtu-1414",
        "what a site whose laptops' paths all carry 1500 bytes saves against today's default with its firewall",
        "by choice: `sixtunnel_tun_mtu`",
    ),
]


def change_lines(profiles: dict[str, dict], noise: dict[str, float]) -> tuple[list[str], dict]:
    """One row per per-packet change: CPU s/GB without and with it, the gain, whether it beats the noise, and
    whether the roles render it; returns the lines and {change: {gain, beats_noise}}."""
    pair_noise = noise_control(profiles, "default-2")["cpu_s_per_gb"]
    lines = [
        "",
        (
            "Each per-packet change against the same profile without it, in the same run: the gain is the median over "
            "the rounds of 1 − (CPU per GB with ÷ without, same round), and a change pays only if it is larger than "
            f"the noise measured the same way: `default-again` against `default` ({noise['cpu_s_per_gb']:.1%}) for "
            "a change measured in one pair (the gateway's table), and for a change measured between two pairs the "
            f"larger of that and what two pairs of `default` differ by, `default-2` against `default` "
            f"({pair_noise:.1%}). The tun queue is there against drops, so it pays if tun retransmits no more than "
            "tap with it and more without:"
        ),
        "",
        (
            "| change | without | with | CPU s/GB without → with | gain | pays (gain > noise) "
            "| TCP retransmits without → with | in the roles |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    verdict = {}
    for name, without, with_, what, rendered in CHANGES:
        saved = gain(profiles, without, with_)
        if saved is None:
            continue
        threshold = noise["cpu_s_per_gb"]
        if not same_pair(profiles, without, with_):
            threshold = max(threshold, pair_noise)
        beats = saved > threshold
        if name.startswith("txqueuelen"):
            # What the tun queue is for: no drops under one TCP flow. It pays if tun retransmits no more than tap
            # (`default`) with it, and more without it.
            retransmits = {key: median(profiles[key]["summary"], "tcp_retransmits") for key in (without, with_)}
            tap = median(profiles["default"]["summary"], "tcp_retransmits")
            beats = retransmits[with_] <= tap < retransmits[without]
        verdict[name] = {"gain": round(saved, 3), "beats_noise": beats}
        retransmits = (
            f"{median(profiles[without]['summary'], 'tcp_retransmits'):.0f} → "
            f"{median(profiles[with_]['summary'], 'tcp_retransmits'):.0f}"
        )
        lines.append(
            f"| {name}: {what} | `{without}` | `{with_}` | {cpu(profiles, without):.2f} → {cpu(profiles, with_):.2f} "
            f"| {saved:+.1%} | {'yes' if beats else 'no'} | {retransmits} | {rendered} |"
        )
    if "tun" in profiles:
        tun, tap = profiles["tun"]["summary"], profiles["default"]["summary"]
        lines += [
            "",
            (
                "Retransmits of one TCP flow, median per run: tun "
                f"{median(tun, 'tcp_retransmits'):.0f} (max {tun['tcp_retransmits']['max']:.0f}), tap (`default`) "
                f"{median(tap, 'tcp_retransmits'):.0f} (max {tap['tcp_retransmits']['max']:.0f})"
                + (
                    f", tun with its own queue of 500 (`tun-500`) {median(profiles['tun-500']['summary'], 'tcp_retransmits'):.0f}"
                    f" (max {profiles['tun-500']['summary']['tcp_retransmits']['max']:.0f})."
                    if "tun-500" in profiles
                    else "."
                )
            ),
        ]
    return lines, verdict


def version_lines(profiles: dict[str, dict]) -> list[str]:
    """OpenVPN 2.7 against 2.6, per profile measured on both: CPU s/GB and Mbit/s ratios."""
    pairs = [(name, f"{name}-2.7") for name in profiles if f"{name}-2.7" in profiles]
    if not pairs:
        return []
    lines = ["", "OpenVPN 2.7 against 2.6, the same profile (2.7 ÷ 2.6):", ""]
    lines += ["| profile | CPU s/GB 2.6 → 2.7 | CPU × | Mbit/s × |", "| --- | --- | --- | --- |"]
    for old, new in pairs:
        mbps = median(profiles[new]["summary"], "tcp_mbps") / median(profiles[old]["summary"], "tcp_mbps")
        lines.append(
            f"| {old} | {cpu(profiles, old):.2f} → {cpu(profiles, new):.2f} | {cpu(profiles, new) / cpu(profiles, old):.2f}× "
            f"| {mbps:.2f}× |"
        )
    return lines


def per_packet_lines(profiles: dict[str, dict]) -> list[str]:
    """Per-packet cost of each end: µs of CPU and system calls per tunnel packet, for the profiles that have the
    system call counts."""
    rows = [name for name, profile in profiles.items() if profile.get("syscalls_per_packet")]
    if not rows:
        return []
    lines = [
        "",
        (
            "Per-packet cost, per end: µs of CPU per tunnel packet (median of the rounds) and system calls per tunnel "
            "packet, counted after the rounds in one more TCP run with `perf stat -e raw_syscalls:sys_enter` on each "
            "OpenVPN process from the host (a packet here is one received or sent on the tunnel device; TCP's "
            "acknowledgements are packets too)."
        ),
        "",
        "| profile | µs/packet gateway | µs/packet laptop | system calls/packet gateway | system calls/packet laptop |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in rows:
        summary, calls = profiles[name]["summary"], profiles[name]["syscalls_per_packet"]
        lines.append(
            f"| {name} | {median(summary, 'gateway_us_per_packet'):.1f} | {median(summary, 'laptop_us_per_packet'):.1f} "
            f"| {calls.get('gateway', 0):.2f} | {calls.get('laptop', 0):.2f} |"
        )
    lines += [
        "",
        (
            "Per packet an end waits for it (epoll), reads it (tun/tap device or UDP socket) and writes it out (UDP "
            "socket or device); `fast-io` saves the wait before the write on UDP. The roles render `fast-io` for "
            "OpenVPN 2.6 only (2.7 ignores it with a warning), which is where 2.7's extra system call per packet "
            "shows. Of the µs per packet the cipher is a few per cent (below); the rest is those system calls, the "
            "copies and OpenVPN's own processing."
        ),
    ]
    return lines


def dco_lines(profiles: dict[str, dict]) -> list[str]:
    """Per tunnel, whether DCO is in use and what OpenVPN said at its start; then what a gateway with a DCO-capable
    kernel should expect, with this run's per-packet figures and the sources."""
    lines = [
        "",
        "### Data channel offload (DCO)",
        "",
        (
            "Whether each tunnel uses DCO (its device is an `ovpn` device) and what each OpenVPN process logged about "
            "it when it started (`journalctl -u UNIT _PID=PID`, lines naming DCO or offload; the bench adds `verb 3` "
            "to every profile alike, since at OpenVPN's default `verb 1` it says nothing; verb 3 logs nothing per "
            "packet):"
        ),
        "",
        "| profile | OpenVPN | DCO in use: gateway / laptop | gateway end | laptop end |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, profile in profiles.items():
        if "dco" not in profile:
            continue
        dco = profile["dco"]
        cells = ["<br>".join(f"`{line}`" for line in dco[end]) or "–" for end in ("gateway", "laptop")]
        in_use = " / ".join("yes" if dco.get(f"{end}_in_use") else "no" for end in ("gateway", "laptop"))
        lines.append(f"| {name} | {profile['version']} | {in_use} | {cells[0]} | {cells[1]} |")
    default = profiles["default"]
    calls = default.get("syscalls_per_packet", {})
    us = [median(default["summary"], f"{end}_us_per_packet") for end in ("gateway", "laptop")]
    lines += [
        "",
        "What a gateway with a DCO-capable kernel should expect:",
        "",
        (
            "- **Which tunnels.** DCO is layer 3 only, AEAD ciphers only (AES-GCM, CHACHA20-POLY1305), no "
            "compression [1]. So only laptops with `sixtunnel_dev_type: tun` in peer-fingerprint (TLS) mode can use "
            "it; the default (tap) and the seed's static keys never will (OpenVPN says so itself above: "
            "`dev-type not tun`). Nothing the roles render for a tun+TLS tunnel switches it off: the only reason "
            "logged for `tun` above is the kernel's missing module. The tunnels are point-to-point instances; DCO "
            "works in P2P mode when both ends negotiate DATA_V2, i.e. both run OpenVPN 2.6 or later, and OpenVPN logs "
            "`P2P mode NCP negotiation result: ... DATA_v2=1 ... cipher=AES-256-GCM` when it does [1]. Each end "
            "decides for itself: a DCO gateway serves a laptop without DCO (macOS, Windows without the driver) "
            "as before."
        ),
        (
            "- **Which kernel for which OpenVPN.** The in-kernel module `ovpn` is in Linux 6.16 and later and works "
            "only with OpenVPN 2.7 or later [1]; OpenVPN 2.6 (Debian 12's) looks for the older out-of-tree "
            "`ovpn-dco-v2` module (Debian's `openvpn-dco-dkms`) and does not find the in-kernel one, as a kernel "
            "developer reported on netdev with 2.6.10 [2]. So: Debian 12 + `openvpn-dco-dkms`, or a 6.16+ kernel + "
            "OpenVPN 2.7 (Debian 13's backports). The DCO README still lists `--persist-tun`, which the roles render, "
            "as not tested with DCO [1]."
        ),
        (
            f"- **What changes.** Here each end of the default spends about {us[0]:.0f} µs (gateway) and {us[1]:.0f} µs "
            f"(laptop) of CPU per tunnel packet"
            + (
                f", with {calls['gateway']:.1f} and {calls['laptop']:.1f} system calls per packet"
                if "gateway" in calls and "laptop" in calls
                else ""
            )
            + ", and the ciphers explain only a few per cent of it (the crypto table above). With DCO the packets "
            "never reach the OpenVPN process: those system calls and copies go, and what remains per packet is the "
            "kernel's own work (the cipher, the UDP socket, the device), done in softirq context on any core rather "
            "than in one user-space thread per tunnel. OpenVPN's figures are throughput: FreeBSD's DCO driver went "
            "from about 660 Mbit/s to about 2 Gbit/s in its first tests [3]; OpenVPN Inc. puts the gain down to the "
            "copies and context switches between kernel and user space that DCO removes [4]. Expect the per-GB CPU of a tun tunnel "
            "to fall by a similar factor and its Mbit/s to stop being "
            "bound by one core per end. This bench could not measure it (no `ovpn` module in this kernel); on such "
            "a kernel it would have to count the containers' CPU (cgroup), not the OpenVPN processes', since DCO's "
            "work is not the process's. The gateway's table applies as before: the kernel's UDP socket still passes "
            "netfilter, so a gateway whose own ruleset tracks connections still pays for tracking each packet."
        ),
        "",
        "Sources:",
        "",
        "1. OpenVPN, `README.dco.md` (master, 2.7): https://github.com/OpenVPN/openvpn/blob/master/README.dco.md",
        (
            '2. Jiri Slaby, reply to "[PATCH net-next v25 00/23] Introducing OpenVPN Data Channel Offload", netdev, '
            "2025-04-08: https://lore.kernel.org/all/bff01a88-1e5d-4855-b7d9-1b1ac4bed650@kernel.org/"
        ),
        (
            '3. FreeBSD status report 2022Q2, "OpenVPN DCO" (if_ovpn): '
            "https://www.freebsd.org/status/report-2022-04-2022-06/"
        ),
        (
            '4. OpenVPN Inc., "We Now Have OpenVPN Data Channel Offload: Here\'s What That Means": '
            "https://openvpn.net/blog/openvpn-data-channel-offload"
        ),
    ]
    return lines


def profile_listing(profiles: dict[str, dict]) -> list[str]:
    """What each profile is: its description, the gateway directives of `seed` and `default`, the changes of each
    variant."""
    lines = ["", "Profiles (a name ending in -2.7 is the same profile on OpenVPN 2.7):", ""]
    for name, profile in profiles.items():
        if profile.get("version") != "2.7":
            lines.append(f"- `{name}`: {profile['description']}.")
    lines += [
        "",
        (
            "The gateway end of `seed` and `default` on OpenVPN 2.6 as the roles render them (comments dropped; every "
            "variant is a role profile with the changes listed below, in a pair of its own or, where only the "
            "gateway's table changes, in the pair of the profile it varies):"
        ),
        "",
    ]
    for name in ("seed", "default"):
        lines += [f"`{name}`:", "", "```"] + profiles[name]["gateway_directives"] + ["```", ""]
    lines += ["| variant | of | runs in | changes |", "| --- | --- | --- | --- |"]
    for name, profile in profiles.items():
        if profile.get("kind") != "variant" or profile.get("version") == "2.7":
            continue
        changes = []
        for end in ("gateway", "laptop"):
            for key, value in profile.get(f"{end}_changes", {}).items():
                changes.append(f"{end}: " + (f"`{key} {value}`" if value is not None else f"no `{key}`"))
        if profile.get("nft") in ("conntrack", "notrack"):
            changes.append("gateway table with the return-traffic rule (`ct state established,related`)")
        if profile.get("nft") == "notrack":
            changes.append("and the notrack chains (`openvpn_server_firewall_notrack: true`)")
        elif profile.get("nft") == "off":
            changes.append("no gateway table")
        where = f"the pair of `{profile['pair']}`" if profile.get("pair") else "a pair of its own"
        if not changes:
            changes = ["none (the noise control)" if profile.get("pair") else "none (what two pairs differ by)"]
        lines.append(f"| {name} | {profile['role']} | {where} | {', '.join(changes)} |")
    return lines


def controlplane_section(controlplane: dict, history: list[dict]) -> tuple[list[str], dict]:
    runs = controlplane["runs"]
    sizes = controlplane["sizes"]
    reference = runs[str(sizes[0])]["rerun_median_s"]
    lines = [
        "## Control plane",
        "",
        (
            "`ansible-playbook sixtunnel.openvpn.site --limit GATEWAY` against one fresh gateway container per size, "
            "reached over SSH as an account that becomes root with sudo (pipelining, connection reuse), "
            "the laptops only in the inventory (static keys, so the gateway configures every tunnel without reaching "
            "them). Wall time of the whole playbook, plan included. Converge: the first run. Re-run: the same command "
            f"again, {controlplane['reruns']} times, interleaved across sizes; median (min–max). Memory: the resident "
            "memory of all OpenVPN processes on the gateway after the converge."
        ),
        "",
        "| laptops | converge s | re-run s | re-run changed | re-run × 1 laptop | OpenVPN processes | RSS MiB | per instance |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in sizes:
        run = runs[str(size)]
        memory = run["memory"]
        per_instance = memory["rss_mib"] / memory["processes"] if memory["processes"] else 0
        lines.append(
            f"| {size} | {run['converge']['seconds']:.1f} | {run['rerun_median_s']:.1f} "
            f"({run['rerun_min_s']:.1f}–{run['rerun_max_s']:.1f}) | {run['rerun_changed_max']} "
            f"| {run['rerun_median_s'] / reference:.2f}× | {memory['processes']} | {memory['rss_mib']:.1f} "
            f"| {per_instance:.1f} |"
        )
    checks = {"rerun_changed": max(runs[str(size)]["rerun_changed_max"] for size in sizes)}
    if str(BOUND_SIZE) in runs and str(1) in runs:
        bound_ratio = runs[str(BOUND_SIZE)]["rerun_median_s"] / runs["1"]["rerun_median_s"]
        checks["bound_ratio"] = round(bound_ratio, 2)
        lines += [
            "",
            (
                f"**Bound: a no-change re-run with {BOUND_SIZE} laptops takes {bound_ratio:.2f}× the 1-laptop re-run** "
                f"(at most {BOUND_FACTOR:.0f}×: {'holds' if bound_ratio <= BOUND_FACTOR else 'does NOT hold'}); "
                f"re-runs changed {checks['rerun_changed']} tasks (must be 0)."
            ),
        ]
    for earlier in history:
        lines += history_table(earlier)
    return lines, checks


def history_table(earlier: dict) -> list[str]:
    """An earlier measurement (history-controlplane.json), as a table."""
    lines = [
        "",
        f"History, {earlier['label']} ({earlier['note']}):",
        "",
        "| laptops | converge s | re-run s | re-run × 1 laptop |",
        "| --- | --- | --- | --- |",
    ]
    reference = earlier["runs"][str(earlier["sizes"][0])]["rerun_median_s"]
    for size in earlier["sizes"]:
        run = earlier["runs"][str(size)]
        rerun = run["rerun_median_s"]
        rerun_cells = f"{rerun:.1f} | {rerun / reference:.2f}×" if rerun else "not measured | –"
        lines.append(f"| {size} | {run['converge']['seconds']:.1f} | {rerun_cells} |")
    return lines


# Server mode (issue 14): at the largest size, the server-mode gateway's OpenVPN RSS with live laptops may be at most
# SERVER_RSS_FACTOR of p2p mode's, and its no-change re-run at most SERVER_RERUN_FACTOR times its 1-laptop re-run.
SERVER_RSS_FACTOR = 0.1
SERVER_RERUN_FACTOR = 2.0


def servermode_section(servermode: dict) -> tuple[list[str], list[str]]:
    """The server-mode section (bench_servermode.py's servermode.json) as markdown lines, and its missed targets,
    one sentence each (empty when both hold)."""
    sizes, runs, live = servermode["sizes"], servermode["runs"], servermode["live"]
    largest = max(sizes)
    lines = [
        "## Server mode against p2p mode",
        "",
        (
            "`python benchmarks/bench_servermode.py`: both modes get the same inventories, N peer-fingerprint laptops "
            "with `sixtunnel_managed: false` (the gateway makes their key pairs, no laptop is contacted), only "
            "`sixtunnel_site.mode` differs: in `server` they all join one tun instance, in `p2p` each has its own "
            "(tap, the p2p default). One fresh gateway container per mode and size, `site.yml --limit GATEWAY` over "
            f"SSH as above. Converge: the first run; re-run: the same command again, {servermode['reruns']} times, "
            "interleaved across sizes and modes; median (min–max). RSS: all OpenVPN processes on the gateway."
        ),
        "",
        "| mode | laptops | converge s | re-run s | re-run changed | re-run × 1 laptop | OpenVPN processes | RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("server", "p2p"):
        reference = runs[mode][str(sizes[0])]["rerun_median_s"]
        for size in sizes:
            run = runs[mode][str(size)]
            lines.append(
                f"| {mode} | {size} | {run['converge']['seconds']:.1f} | {run['rerun_median_s']:.1f} "
                f"({run['rerun_min_s']:.1f}–{run['rerun_max_s']:.1f}) | {run['rerun_changed_max']} "
                f"| {run['rerun_median_s'] / reference:.2f}× | {run['memory']['processes']} "
                f"| {run['memory']['rss_mib']:.1f} |"
            )
    server, p2p = live["server"], live["p2p"]
    lines += [
        "",
        (
            f"Live sessions: one full `site.yml` run per mode exports the {largest} laptops' `.ovpn` profiles, then "
            f"{len(server['per_container'])} client containers run them, one `openvpn --config PROFILE "
            "--route-noexec` process each, all at once. Gateway RSS with every laptop up; ping6 (5 pings) from a "
            "sample of laptops, from the address the tunnel gave them to the gateway end (::1) of their /64. The full "
            "run's time is mostly the export play, a few delegated tasks per laptop (the gateway part is the re-run above)."
        ),
        "",
        (
            "| mode | full site.yml run s (exports) | sessions up | s to all up after the last start | gateway processes "
            "| gateway RSS MiB, idle | gateway RSS MiB, live | gateway RSS per live laptop, KiB "
            "| ping6 sample: lost / sent, mean RTT ms |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, session in (("server", server), ("p2p", p2p)):
        loaded, idle = session["gateway_loaded"], session["gateway_idle"]
        pings = session["pings"]
        lost = round(sum(ping["loss_percent"] for ping in pings) * 5 / 100)
        rtts = [ping["rtt_ms"] for ping in pings if ping["rtt_ms"] is not None]
        rtt = f"{statistics.mean(rtts):.2f}" if rtts else "–"
        per_laptop = 1024 * loaded["rss_mib"] / session["sessions_up"] if session["sessions_up"] else 0
        listed = (
            f" (the instance lists {session['server_listed_sessions']})"
            if session.get("server_listed_sessions")
            else ""
        )
        lines.append(
            f"| {mode} | {session['export_run']['seconds']:.1f} | {session['sessions_up']} / {session['profiles']}"
            f"{listed} | {session['seconds_to_all_up']:.0f} | {loaded['processes']} | {idle['rss_mib']:.1f} "
            f"| {loaded['rss_mib']:.1f} | {per_laptop:.0f} | {lost} / {5 * len(pings)}, {rtt} |"
        )
    rss_ratio = server["gateway_loaded"]["rss_mib"] / p2p["gateway_loaded"]["rss_mib"]
    rerun_ratio = runs["server"][str(largest)]["rerun_median_s"] / runs["server"][str(sizes[0])]["rerun_median_s"]
    rss_ok, rerun_ok = rss_ratio <= SERVER_RSS_FACTOR, rerun_ratio <= SERVER_RERUN_FACTOR
    up_ok = all(session["sessions_up"] == session["profiles"] for session in (server, p2p))
    pings_ok = all(ping["loss_percent"] < 100 for session in (server, p2p) for ping in session["pings"])
    lines += [
        "",
        (
            f"**Targets: the server-mode gateway holds {largest} live laptops in {rss_ratio:.3f}× the RSS of p2p mode** "
            f"(at most {SERVER_RSS_FACTOR}×: {'met' if rss_ok else 'NOT met'}); **its no-change re-run with {largest} "
            f"laptops takes {rerun_ratio:.2f}× its 1-laptop re-run** (at most {SERVER_RERUN_FACTOR:.0f}×: "
            f"{'met' if rerun_ok else 'NOT met'}). The whole server-mode bench took {servermode['seconds'] / 60:.0f} "
            f"minutes (load average {servermode['machine']['load_average']} before, "
            f"{servermode['load_average_after']} after)."
        ),
    ]
    missed = []
    if not rss_ok:
        missed.append(f"server-mode gateway RSS at {largest} live laptops is {rss_ratio:.3f}× p2p mode's")
    if not rerun_ok:
        missed.append(f"the server-mode {largest}-laptop re-run took {rerun_ratio:.2f}× the 1-laptop re-run")
    if not up_ok or not pings_ok:
        missed.append("not every simulated laptop came up, or a sampled laptop's ping6 got no answer")
    if any(runs[mode][str(size)]["rerun_changed_max"] for mode in runs for size in sizes):
        missed.append("a server-mode bench no-change re-run changed something")
    return lines, missed


def plot(path: Path, dataplane: dict, controlplane: dict, history: list[dict]) -> None:
    """Write the PNG at `path`: TCP Mbit/s and CPU s/GB per profile (raw left out), gateway run time in s
    against laptops."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = [profile for profile in dataplane["profiles"] if profile["name"] != "raw"]
    raw = next(profile for profile in dataplane["profiles"] if profile["name"] == "raw")
    figure, axes = plt.subplots(1, 3 if controlplane else 2, figsize=(14 if controlplane else 10, 4.2), dpi=80)
    profile_bars(
        axes[0],
        profiles,
        "tcp_mbps",
        f"TCP through the tunnel (raw: {raw['summary']['tcp_mbps']['median']:.0f} Mbit/s)",
        "Mbit/s",
    )
    profile_bars(axes[1], profiles, "cpu_s_per_gb", "CPU of both OpenVPN ends per GB", "CPU seconds / GB")
    if controlplane:
        run_time_panel(axes[2], controlplane, history)
    figure.text(0.01, 0.01, "bars: median, whiskers: min-max; -2.7: OpenVPN 2.7", fontsize=8)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=80)
    plt.close(figure)


def profile_bars(axis, profiles: list[dict], key: str, title: str, ylabel: str) -> None:
    """One bar per profile on `axis`: the median of `key`, whiskers from min to max; seed red, default blue, the
    names of unsafe profiles marked with *."""
    names = [profile["name"] for profile in profiles]
    colors = [
        "#c0392b" if profile.get("base") == "seed" else "#2471a3" if profile.get("base") == "default" else "#95a5a6"
        for profile in profiles
    ]
    medians = [profile["summary"][key]["median"] for profile in profiles]
    low = [m - profile["summary"][key]["min"] for m, profile in zip(medians, profiles)]
    high = [profile["summary"][key]["max"] - m for m, profile in zip(medians, profiles)]
    axis.bar(names, medians, color=colors, yerr=[low, high], capsize=3)
    axis.set_title(title, fontsize=10)
    axis.set_ylabel(ylabel)
    axis.tick_params(axis="x", labelrotation=60, labelsize=8)
    axis.grid(axis="y", alpha=0.3)


def run_time_panel(axis, controlplane: dict, history: list[dict]) -> None:
    """Converge and no-change re-run in seconds against laptops on `axis`, with the bound and the earlier re-runs."""
    sizes = controlplane["sizes"]
    runs = controlplane["runs"]
    axis.plot(sizes, [runs[str(s)]["converge"]["seconds"] for s in sizes], "o-", color="#7d3c98", label="converge")
    axis.plot(sizes, [runs[str(s)]["rerun_median_s"] for s in sizes], "o-", color="#2471a3", label="no-change re-run")
    bound = BOUND_FACTOR * runs[str(sizes[0])]["rerun_median_s"]
    axis.axhline(bound, color="#2471a3", linestyle=":", label=f"bound: {BOUND_FACTOR:.0f}× 1-laptop re-run")
    for earlier, color in zip(history, itertools.cycle(("#c0392b", "#7f8c8d", "#d68910")), strict=False):
        base_sizes = [size for size in earlier["sizes"] if earlier["runs"][str(size)]["rerun_median_s"]]
        axis.plot(
            base_sizes,
            [earlier["runs"][str(s)]["rerun_median_s"] for s in base_sizes],
            "x--",
            color=color,
            label=f"re-run before ({earlier['label']})",
        )
    axis.set_ylim(bottom=0)
    axis.set_title("Gateway run time vs laptops", fontsize=10)
    axis.set_xlabel("laptops in the inventory")
    axis.set_ylabel("seconds")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def intro_lines(dataplane: dict, controlplane: dict, plot_name: str) -> list[str]:
    """The page's title, what it measures and how to reproduce it, the machine, and the plot (`plot_name`,
    relative to the page)."""
    return [
        "# Benchmarks",
        "",
        "<!-- Written by `make bench` (benchmarks/report.py) from one run; edit the scripts, not this page. -->",
        "",
        (
            "What a tunnel costs (CPU per GB, throughput, loss, latency) and how long a gateway run takes as the site "
            "grows, measured in one run of `make bench` on the machine below"
            + ("" if controlplane else " (this time its data-plane part alone; the control plane is kept from before)")
            + ". The machine is shared: absolute figures swing from run to run, so compare profiles within this page, "
            "as ratios."
        ),
        "",
        (
            "Reproduce (as root on Debian 12; 45 to 80 minutes on 2 cores; it builds the image, a virtualenv with "
            "`requirements/bench.txt` and the collection, and removes its containers at the end):"
        ),
        "",
        "```sh",
        "make bench",
        "```",
        "",
        "The scripts are in `benchmarks/`; the raw results of the run are in `.cache/bench/*.json`.",
        "",
        "## Machine",
        "",
        *machine_table(dataplane, controlplane),
        "",
        f"![Throughput and CPU per GB of each profile; gateway run time against laptops]({plot_name})",
    ]


def planner_lines(planner: dict) -> list[str]:
    """The planner section: plan_tunnels() seconds (median, min, max) for planner['laptops'] laptops."""
    return [
        "## Planner",
        "",
        (
            f"`plan_tunnels()` for {planner['laptops']:,} laptops: median {planner['median_s']:.3f} s "
            f"(min {planner['min_s']:.3f}, max {planner['max_s']:.3f}) over {planner['rounds']} plans "
            "(`python benchmarks/bench_planner.py`)."
        ),
        "",
    ]


def kept_section(page: Path, first: str, next_heading: str) -> list[str]:
    """The lines of `page` from the heading `first` up to (not including) `next_heading`, trailing blank lines
    dropped; [] when the page or the heading is missing."""
    if not page.exists():
        return []
    lines = page.read_text().splitlines()
    if first not in lines:
        return []
    start = lines.index(first)
    end = lines.index(next_heading, start) if next_heading in lines[start:] else len(lines)
    kept = lines[start:end]
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def contract_failures(checks: dict) -> list[str]:
    """How the control plane missed its contract, one sentence each; empty when it held."""
    failures = []
    if checks["rerun_changed"]:
        failures.append(f"a no-change re-run changed {checks['rerun_changed']} tasks")
    if checks.get("bound_ratio", 0) > BOUND_FACTOR:
        failures.append(f"the {BOUND_SIZE}-laptop re-run took {checks['bound_ratio']}× the 1-laptop re-run")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="directory of the bench JSON files")
    parser.add_argument("--markdown", type=Path, required=True)
    parser.add_argument("--plot", type=Path, required=True)
    args = parser.parse_args(argv)

    dataplane = json.loads((args.results / "dataplane.json").read_text())
    controlplane_path = args.results / "controlplane.json"
    controlplane = json.loads(controlplane_path.read_text()) if controlplane_path.exists() else None
    planner = json.loads((args.results / "planner.json").read_text())
    history = json.loads(HISTORY.read_text())

    data_lines, verdict = dataplane_section(dataplane)
    if controlplane:
        control_lines, checks = controlplane_section(controlplane, history)
    else:
        # A data-plane run alone (bench_dataplane.py, not make bench): the page keeps its control-plane section.
        control_lines, checks = kept_section(args.markdown, "## Control plane", "## Planner"), {"rerun_changed": 0}
        if not control_lines:
            raise SystemExit(f"no {controlplane_path} and no control-plane section in {args.markdown} to keep")
        # Its note on where the rest of the page came from no longer holds: keep its date, say where the rest is from.
        control_lines = [
            line.split("; the data plane")[0].rstrip(".") + "."
            if line.startswith("This section was measured on")
            else line
            for line in control_lines
            if not line.startswith("This section is kept from")
        ]
        while control_lines and not control_lines[-1].strip():
            control_lines.pop()
        control_lines += [
            "",
            (
                "This section is kept from the page before the data plane above was measured (the data plane alone, "
                f"`python benchmarks/bench_dataplane.py`, on {dataplane['machine']['date']})."
            ),
        ]
    # Server mode against p2p (bench_servermode.py), when the run has it.
    server_lines, server_missed = [], []
    if (args.results / "servermode.json").exists():
        server_lines, server_missed = servermode_section(json.loads((args.results / "servermode.json").read_text()))
        server_lines.append("")
    lines = [
        *intro_lines(dataplane, controlplane, args.plot.name),
        "",
        *data_lines,
        "",
        *control_lines,
        "",
        *server_lines,
        *planner_lines(planner),
    ]
    args.markdown.write_text("\n".join(lines))
    plot(args.plot, dataplane, controlplane, history)
    print(f"wrote {args.markdown} and {args.plot} ({args.plot.stat().st_size // 1024} KiB)")
    print(json.dumps({"dataplane": verdict, "controlplane": checks}))

    failures = contract_failures(checks)
    failures += server_missed
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
