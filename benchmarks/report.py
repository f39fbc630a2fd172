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
    rows = [
        (
            "CPU",
            f"{machine['cpu']}, {machine['cores']} cores (crypto: {', '.join(machine['cpu_crypto_flags']) or 'none'})",
        ),
        ("Memory", f"{machine['memory_gib']} GiB"),
        ("Kernel", machine["kernel"]),
        ("Containers", f"{machine['podman']}, Debian 12 image built by tests/podman/build-image.sh"),
        (
            "Tunnel software",
            f"{versions.get('openvpn', '?')}; {versions.get('openssl', '?')}; {versions.get('iperf3', '?')}",
        ),
        ("Controller", f"{machine['ansible']}, Python {machine['python']}"),
        (
            "Load average (1, 5, 15 min)",
            (
                f"data plane {machine['load_average']} before, {dataplane.get('load_average_after')} after; "
                f"control plane {controlplane['machine']['load_average']} before, {controlplane.get('load_average_after')} after"
            ),
        ),
        ("Measured", machine["date"]),
    ]
    return ["| | |", "| --- | --- |"] + [f"| {name} | {value} |" for name, value in rows]


def crypto_lines(dataplane: dict, profiles: dict, goal_met: bool) -> list[str]:
    """How much of the measured CPU per GB the ciphers themselves explain."""
    speeds = dataplane.get("crypto_gb_per_s")
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
            f"Why not 2×: the bulk ciphers explain only {seed_crypto:.1f} of the seed's {seed_cpu:.1f} CPU s/GB and "
            f"{default_crypto:.1f} of the default's {default_cpu:.1f}. The rest is work on every packet outside the "
            "cipher: reading the tap device, the UDP socket's send and receive, copies, setting up the cipher for the "
            "packet and OpenVPN's own processing, in one thread per instance. Each OpenVPN end is bound by the CPU "
            "it gets (the 'busy' column), so moving 2× the seed's Mbit/s at no more CPU per GB needs at most half "
            f"the seed's CPU per GB: {seed_cpu / 2:.1f} s/GB. Without any cipher at all the default would still "
            f"spend {default_cpu - default_crypto:.1f}. Larger packets: "
            + ", ".join(
                f"`{name}` {median(profiles[name]['summary'], 'cpu_s_per_gb'):.1f} s/GB"
                for name in ("mtu-1500", "mtu-9000")
                if name in profiles
            )
            + " (`mtu-9000` is not safe on real paths: it needs IP fragmentation). What would close the gap is the "
            "data channel in the kernel, OpenVPN's DCO: tun only, and this kernel has no ovpn module."
        ),
    ]
    return lines


def dataplane_section(dataplane: dict) -> tuple[list[str], dict]:
    """The data-plane section as markdown lines, and its verdict for the JSON summary.

    The verdict holds the default's Mbit/s and CPU per GB as ratios to the seed's, whether the goal (at least 2×
    the Mbit/s at no more CPU per GB) is met, and the name of the best safe default of this run.
    """
    profiles = {profile["name"]: profile for profile in dataplane["profiles"]}
    lines = dataplane_table(profiles, dataplane["settings"])
    goal, verdict = goal_lines(profiles)
    lines += goal
    noise = noise_control(profiles)
    best = best_safe_default(profiles, noise)
    verdict["best_safe"] = best["name"]
    lines += best_lines(best, profiles, noise)
    lines += mtu_1500_lines(profiles)
    lines += trust_lines(profiles, noise)
    lines += crypto_lines(dataplane, profiles, verdict["goal_met"])
    lines += profile_listing(profiles)
    return lines, verdict


def dataplane_table(profiles: dict[str, dict], settings: dict) -> list[str]:
    """How the data plane was measured, and one row per profile: TCP Mbit/s, CPU s/GB, busy % of one core,
    UDP loss %, jitter and RTT in ms, with ratios to raw and seed."""
    raw, seed = profiles["raw"]["summary"], profiles["seed"]["summary"]
    lines = [
        "## Data plane",
        "",
        (
            f"iperf3 TCP for {settings['seconds']} s from the laptop container to the gateway end of each profile, "
            f"{settings['rounds']} rounds, the profiles interleaved (A B C … A B C …) so that the load of the machine "
            "hits all alike: median (min–max). CPU is the user + system time of both OpenVPN processes (gateway and "
            "laptop end), read from `/proc/PID/stat` before and after each TCP run, per GB received. "
            f"UDP: iperf3 offering {settings['udp_rate']}bit/s for {settings['udp_seconds']} s, 1200-byte datagrams (where "
            "the offer exceeds what a tunnel carries, its loss measures that shortfall). "
            "RTT: ping6, 20 pings 50 ms apart, mean. 'Busy' is the share of one core the busier end used during the TCP run."
        ),
        "",
        "| profile | TCP Mbit/s | × raw | × seed | CPU s/GB | CPU × seed | busy: gateway / laptop | UDP loss % | jitter ms | RTT ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, profile in profiles.items():
        summary = profile["summary"]
        tcp = median(summary, "tcp_mbps")
        cpu = median(summary, "cpu_s_per_gb")
        busy = "–"
        if "gateway_core_percent" in summary:
            busy = f"{median(summary, 'gateway_core_percent'):.0f} % / {median(summary, 'laptop_core_percent'):.0f} %"
        label = f"**{name}**" if name in ("seed", "default") else name
        if not profile["safe"]:
            label += " (unsafe)"
        lines.append(
            f"| {label} | {span(summary, 'tcp_mbps')} | {ratio(tcp, median(raw, 'tcp_mbps'), 3)} "
            f"| {ratio(tcp, median(seed, 'tcp_mbps'))} | {span(summary, 'cpu_s_per_gb', 2)} "
            f"| {ratio(cpu, median(seed, 'cpu_s_per_gb'))} | {busy} "
            f"| {span(summary, 'udp_lost_percent', 2)} | {median(summary, 'udp_jitter_ms') or 0:.3f} "
            f"| {median(summary, 'rtt_ms') or 0:.3f} |"
        )
    return lines


def goal_lines(profiles: dict[str, dict]) -> tuple[list[str], dict]:
    """The default against the seed: a sentence, and the verdict's ratios (Mbit/s, CPU s/GB) and goal_met."""
    seed, default = profiles["seed"]["summary"], profiles["default"]["summary"]
    speedup = median(default, "tcp_mbps") / median(seed, "tcp_mbps")
    cpu_ratio = median(default, "cpu_s_per_gb") / median(seed, "cpu_s_per_gb")
    goal_met = speedup >= 2 and cpu_ratio <= 1
    verdict = {
        "default_vs_seed_mbps": round(speedup, 2),
        "default_vs_seed_cpu_per_gb": round(cpu_ratio, 2),
        "goal_met": goal_met,
    }
    lines = [
        "",
        (
            f"**The default moves {speedup:.2f}× the seed's Mbit/s at {cpu_ratio:.2f}× its CPU per GB** "
            f"(goal: at least 2× at no more CPU per GB: {'met' if goal_met else 'not met'} in this run)."
        ),
    ]
    return lines, verdict


def noise_control(profiles: dict[str, dict]) -> dict[str, float]:
    """This run's noise: the relative gap of `txqueuelen` to `default` in tcp_mbps and cpu_s_per_gb (0.05 is 5 %),
    0.0 for both when the run has no `txqueuelen`."""
    # `txqueuelen` is a no-op on tap, the noise control: whatever separates it from `default` is the machine's load.
    noise = {"tcp_mbps": 0.0, "cpu_s_per_gb": 0.0}
    if "txqueuelen" in profiles:
        default = profiles["default"]["summary"]
        control = profiles["txqueuelen"]["summary"]
        noise = {key: abs(median(control, key) / median(default, key) - 1) for key in noise}
    return noise


def best_safe_default(profiles: dict[str, dict], noise: dict[str, float]) -> dict:
    """The profile (one of `profiles`' values) this run recommends as the default."""
    # Each end gets only its share of a busy machine, so Mbit/s follow CPU per GB, the steadier of the two.
    # A default must also keep the tunnel MTU that fits 1400-byte paths unfragmented (docs/profiles.md), so
    # profiles that change tun-mtu are shown but are not candidates. A candidate replaces the default only if it is
    # cheaper by more than the noise.
    default = profiles["default"]["summary"]
    candidates = [
        profile
        for name, profile in profiles.items()
        if name not in ("raw", "txqueuelen") and profile["safe"] and "tun-mtu" not in profile.get("changes", {})
    ]
    best = min(candidates, key=lambda profile: median(profile["summary"], "cpu_s_per_gb"))
    if median(best["summary"], "cpu_s_per_gb") > median(default, "cpu_s_per_gb") * (1 - noise["cpu_s_per_gb"]):
        best = profiles["default"]
    return best


def best_lines(best: dict, profiles: dict[str, dict], noise: dict[str, float]) -> list[str]:
    """The best safe default against the seed, in CPU per GB and Mbit/s."""
    seed = profiles["seed"]["summary"]
    best_mbps, best_cpu = median(best["summary"], "tcp_mbps"), median(best["summary"], "cpu_s_per_gb")
    return [
        "",
        (
            f"The best safe default in this run is `{best['name']}`: "
            f"{best_cpu / median(seed, 'cpu_s_per_gb'):.2f}× the seed's CPU per GB, "
            f"{best_mbps / median(seed, 'tcp_mbps'):.2f}× its Mbit/s (the cheapest per GB of the profiles that keep "
            f"the 1280-byte tunnel MTU, if cheaper than `default` by more than this run's noise, {noise['cpu_s_per_gb']:.0%} in CPU "
            "per GB; see below)."
        ),
    ]


def mtu_1500_lines(profiles: dict[str, dict]) -> list[str]:
    """Why `mtu-1500`, cheaper still, is not the default; nothing when the run has no `mtu-1500`."""
    if "mtu-1500" not in profiles:
        return []
    seed, larger = profiles["seed"]["summary"], profiles["mtu-1500"]["summary"]
    return [
        "",
        (
            f"`mtu-1500` is cheaper still ({median(larger, 'cpu_s_per_gb') / median(seed, 'cpu_s_per_gb'):.2f}× "
            f"the seed's CPU per GB, {median(larger, 'tcp_mbps') / median(seed, 'tcp_mbps'):.2f}× its Mbit/s): "
            "fewer, larger packets for the same bytes. It is not the default: its outer packets of up to "
            "1560 bytes are fragmented on the 1400-byte PPPoE and mobile paths travelling laptops use "
            "(only TCP is kept within 1492 bytes by mssfix); an admin whose paths all carry 1560 bytes can set "
            "`sixtunnel_tun_mtu: 1500`."
        ),
    ]


def trust_lines(profiles: dict[str, dict], noise: dict[str, float]) -> list[str]:
    """This run's noise in % next to what the collection's tuning changes (`untuned` against `default`), in %;
    nothing when the run lacks `txqueuelen` or `untuned`."""
    if "txqueuelen" not in profiles or "untuned" not in profiles:
        return []
    default, untuned = profiles["default"]["summary"], profiles["untuned"]["summary"]
    return [
        "",
        (
            "How much to trust a difference: `txqueuelen` changes nothing on a tap device (its queue already "
            "holds 1000 packets), so its gap to `default` is this run's noise: "
            f"{noise['tcp_mbps'] * 100:.0f} % in Mbit/s, {noise['cpu_s_per_gb'] * 100:.0f} % in CPU per GB. "
            "The collection's tuning (`untuned` against `default`) changes CPU per GB by "
            f"{(median(default, 'cpu_s_per_gb') / median(untuned, 'cpu_s_per_gb') - 1) * 100:+.0f} % "
            f"and Mbit/s by {(median(default, 'tcp_mbps') / median(untuned, 'tcp_mbps') - 1) * 100:+.0f} %."
        ),
    ]


def profile_listing(profiles: dict[str, dict]) -> list[str]:
    """What each profile is: its description, the gateway directives of `seed` and `default`, the changes of each
    variant."""
    lines = [
        "",
        "Profiles:",
        "",
    ]
    for name, profile in profiles.items():
        lines.append(f"- `{name}`: {profile['description']}.")
    lines += [
        "",
        (
            "The gateway end of `seed` and `default` as the roles render them (comments dropped; every variant is the "
            "`default` on both ends, on a port and /64 of its own, with the directives listed changed):"
        ),
        "",
    ]
    for name in ("seed", "default"):
        lines += [f"`{name}`:", "", "```"] + profiles[name]["gateway_directives"] + ["```", ""]
    lines += ["| variant | directives changed on both ends |", "| --- | --- |"]
    for name, profile in profiles.items():
        if profile.get("kind") != "variant":
            continue
        changes = [
            f"`{key} {value}`".replace(" `", "`") if value is not None else f"no `{key}`"
            for key, value in profile["changes"].items()
        ]
        lines.append(f"| {name} | {', '.join(changes)} |")
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
        "| mode | full site.yml run s (exports) | sessions up | s to all up after the last start | gateway processes | gateway RSS MiB, idle | gateway RSS MiB, live | gateway RSS per live laptop, KiB | ping6 sample: lost / sent, mean RTT ms |",
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
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.2), dpi=80)
    profile_bars(
        axes[0],
        profiles,
        "tcp_mbps",
        f"TCP through the tunnel (raw: {raw['summary']['tcp_mbps']['median']:.0f} Mbit/s)",
        "Mbit/s",
    )
    profile_bars(axes[1], profiles, "cpu_s_per_gb", "CPU of both OpenVPN ends per GB", "CPU seconds / GB")
    run_time_panel(axes[2], controlplane, history)
    figure.text(
        0.01, 0.01, "* unsafe on real internet paths (reference only); bars: median, whiskers: min-max", fontsize=8
    )
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=80)
    plt.close(figure)


def profile_bars(axis, profiles: list[dict], key: str, title: str, ylabel: str) -> None:
    """One bar per profile on `axis`: the median of `key`, whiskers from min to max; seed red, default blue, the
    names of unsafe profiles marked with *."""
    names = [profile["name"] + ("" if profile["safe"] else "*") for profile in profiles]
    colors = [
        "#c0392b" if profile["name"] == "seed" else "#2471a3" if profile["name"] == "default" else "#95a5a6"
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
            "What a tunnel costs (throughput, loss, latency, CPU per GB) and how long a gateway run takes as the site "
            "grows, measured in one run of `make bench` on the machine below. The machine is shared: absolute figures "
            "swing from run to run, so compare profiles within this page, as ratios."
        ),
        "",
        (
            "Reproduce (as root on Debian 12; 30 to 60 minutes on 2 cores; it builds the image, a virtualenv with "
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
    controlplane = json.loads((args.results / "controlplane.json").read_text())
    planner = json.loads((args.results / "planner.json").read_text())
    history = json.loads(HISTORY.read_text())

    data_lines, verdict = dataplane_section(dataplane)
    control_lines, checks = controlplane_section(controlplane, history)
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
