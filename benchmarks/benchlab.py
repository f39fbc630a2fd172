# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the benchmarks share: their podman containers, ansible-playbook runs and a description of the machine.

Every container and network is named sixtunnel-bench-* (SIXTUNNEL_BENCH_PREFIX changes that, for two runs on one
host), so the benchmarks never touch the lab's or Molecule's, and test traffic only ever goes between these containers.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Container names are global on the host: a second run beside another one takes a prefix of its own.
PREFIX = os.environ.get("SIXTUNNEL_BENCH_PREFIX", "sixtunnel-bench-")
NETWORK = PREFIX.rstrip("-")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(argv: list[str], check: bool = True, timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(argv)} exited {result.returncode}: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def image() -> str:
    name = os.environ.get("SIXTUNNEL_IMAGE")
    if not name:
        raise SystemExit("SIXTUNNEL_IMAGE is not set: run through `make bench`, which builds the image")
    return name


def sh(container: str, script: str, check: bool = True, timeout: float | None = 120, stdin: str | None = None) -> str:
    """Run a shell script in a container and return its output: the measuring harness works from outside the
    hosts with podman exec (as root, iperf3 and ps included); Ansible reaches them over SSH (ssh_access)."""
    argv = ["podman", "exec"] + (["-i"] if stdin is not None else []) + [container, "sh", "-c", script]
    return run(argv, check=check, timeout=timeout, input=stdin).stdout


def openvpn_memory(container: str) -> dict:
    """Processes and summed resident memory (MiB) of every openvpn process in the container."""
    output = sh(container, "for pid in $(pgrep -x openvpn); do sed -n 's/^VmRSS:[^0-9]*//p' /proc/$pid/status; done")
    rss_kib = [int(line.split()[0]) for line in output.splitlines() if line.strip()]
    return {"processes": len(rss_kib), "rss_mib": round(sum(rss_kib) / 1024, 1)}


def write_file(container: str, path: str, content: str, mode: str = "0644") -> None:
    sh(container, f"umask 077; cat > {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}", stdin=content)


def ensure_network() -> None:
    if run(["podman", "network", "exists", NETWORK], check=False).returncode != 0:
        run(["podman", "network", "create", "--ipv6", NETWORK])


def start_container(name: str, image_name: str | None = None, sysctls: tuple[str, ...] = ()) -> None:
    """A fresh container like the lab's: systemd as PID 1, a tun device, NET_ADMIN, IPv6 forwarding on, and the
    network sysctls given as "KEY=VALUE" (the container cannot set them itself); from image_name (default:
    SIXTUNNEL_IMAGE)."""
    assert name.startswith(PREFIX)
    remove_containers([name])
    ensure_network()
    run(
        ["podman", "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--systemd", "always"]
        + ["--cap-add", "NET_ADMIN", "--device", "/dev/net/tun", "--sysctl", "net.ipv6.conf.all.forwarding=1"]
        + [option for sysctl in sysctls for option in ("--sysctl", sysctl)]
        + [image_name or image(), "/sbin/init"]
    )


def ssh_access(names: list[str], directory: Path) -> None:
    """Wait for the containers' boot and let Ansible in the way a site does: SSH to an account without root that
    becomes root with sudo (tests/podman/ssh-access.sh writes the key, known_hosts and ssh_config into directory)."""
    run([str(REPO_ROOT / "tests" / "podman" / "ssh-access.sh"), str(directory), *names], timeout=600)


def inventory_connection(directory: Path) -> str:
    """The inventory lines (under all: vars:) that reach the containers through ssh_access's ssh_config."""
    return f"    ansible_ssh_common_args: -F {directory / 'ssh_config'}\n"


def remove_containers(names: list[str]) -> None:
    for name in names:
        assert name.startswith(PREFIX)
        run(["podman", "rm", "-f", "-t", "2", name], check=False)


def remove_network() -> None:
    """Remove the bench network, unless containers still use it."""
    run(["podman", "network", "rm", NETWORK], check=False)


def container_address(name: str) -> str:
    """The container's global IPv6 address on the bench network."""
    output = sh(name, "ip -6 -o addr show dev eth0 scope global")
    match = re.search(r"inet6 ([0-9a-f:]+)/", output)
    if not match:
        raise RuntimeError(f"{name} has no global IPv6 address on {NETWORK}")
    return match.group(1)


def ansible_playbook(inventory: Path, playbook: str, extra: list[str] | None = None) -> dict:
    """Run a playbook; return wall seconds, the PLAY RECAP counts per host and the log."""
    argv = ["ansible-playbook", "-i", str(inventory), playbook] + (extra or [])
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="1")
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    log_path = inventory.parent / f"{Path(playbook).stem}-{time.strftime('%H%M%S')}.log"
    log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed (exit {result.returncode}); see {log_path}")
    recap = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", result.stdout, re.MULTILINE):
        recap[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return {"seconds": seconds, "recap": recap, "log": str(log_path)}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict:
    """What the numbers were measured on."""
    cpu_model = ""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and not cpu_model:
            cpu_model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    memory_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    podman = run(["podman", "--version"], check=False).stdout.strip()
    ansible = run(["ansible-playbook", "--version"], check=False).stdout.splitlines()
    return {
        "cpu": cpu_model,
        "cores": os.cpu_count(),
        "cpu_crypto_flags": sorted(flags & {"aes", "avx2", "vaes", "vpclmulqdq", "sha_ni"}),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "podman": podman,
        "ansible": ansible[0] if ansible else "",
        "python": platform.python_version(),
        "load_average": load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
