"""Helpers of every scenario's testinfra verifier: the inventory, the plan it implies, the containers, traffic.

The verifier's env (.config/molecule/config.yml) puts this directory on PYTHONPATH; the fixtures built on these
helpers are in sixtunnel_fixtures.py. Playbooks run as the admin runs them, with ansible-playbook, against
Molecule's inventory and the installed collection: over SSH to the account netadmin, which becomes root with sudo
(ssh_access.yml). The tests themselves look into the containers from outside, with `podman exec` as root
(testinfra's podman backend): several of them cut a container's network, move it to another network or restart it,
after which its SSH address is gone or new; the verifier's view must not depend on that.
"""

import base64
import functools
import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner

# The planner is imported from the installed collection, the one the playbooks use.
for path in reversed(os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)):
    if path and path not in sys.path:
        sys.path.insert(0, path)

from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import plan_tunnels

SITE_ADDRESS = "2001:db8:abba::1"  # on the gateway's loopback, beyond the tunnels (molecule/default/prepare.yml)
SERVER_UNIT = "openvpn-server@sixtunnel-{}.service"
CLIENT_UNIT = "openvpn-client@sixtunnel.service"
INVENTORY_DIR = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
EXPORT_DIR = INVENTORY_DIR / ".sixtunnel" / "exports"  # the default sixtunnel_export_dir, beside the inventory
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)

_containers = {}


def container(name):
    """The container of an inventory host, reached with `podman exec`."""
    if name not in _containers:
        _containers[name] = testinfra.get_host(f"podman://{name}")
    return _containers[name]


def molecule_inventory():
    """The hosts Molecule made, with their variables."""
    return testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])


# How Ansible reaches a container: Molecule's inventory has them from ssh_access.yml's instance config.
SSH_VARIABLES = ("ansible_host", "ansible_port", "ansible_user", "ansible_private_key_file", "ansible_ssh_common_args")


@functools.cache
def ssh_variables(name):
    """The connection variables of a Molecule host, for an inventory a test writes itself."""
    variables = molecule_inventory().get_variables(name)
    return {key: variables[key] for key in SSH_VARIABLES if key in variables}


def whole_inventory():
    """Molecule's inventory directory, which may also hold laptops Ansible does not manage (export, transports)."""
    return testinfra.utils.ansible_runner.AnsibleRunner(str(INVENTORY_DIR))


def plan_of(inventory, laptop_names=None, overrides=None):
    """The plan, computed independently of the playbooks from the same inventory (plus per-laptop overrides)."""
    laptop_names = laptop_names or inventory.get_hosts("sixtunnel_laptops")
    laptops = []
    for name in laptop_names:
        variables = dict(inventory.get_variables(name))
        variables.update((overrides or {}).get(name, {}))
        laptop = {"name": name, "state": variables.get("sixtunnel_state", "present")}
        laptop["routed_networks"] = variables.get("sixtunnel_routed_networks", [])
        for key in ("tunnel_id", "port", "interface", "auth", "dev_type", "proto", "managed", "tls_crypt"):
            if "sixtunnel_" + key in variables:
                laptop[key] = variables["sixtunnel_" + key]
        laptops.append(laptop)
    site = inventory.get_variables(laptop_names[0])["sixtunnel_site"]
    return {tunnel["name"]: tunnel for tunnel in plan_tunnels(site, laptops)["tunnels"]}


def present(plan):
    return {name: tunnel for name, tunnel in plan.items() if tunnel["state"] == "present"}


def global_addresses(host, family):
    """The host's global addresses of one family (4 or 6), with their prefix length, as ipaddress interfaces."""
    output = host.check_output(f"ip -o -{family} addr show scope global")
    return [ipaddress.ip_interface(field) for field in re.findall(r"\binet6? (\S+)", output)]


def address_facing(host, peer, family):
    """host's address on a network it shares with peer: podman does not fix which network becomes eth0."""
    peer_networks = {interface.network for interface in global_addresses(peer, family)}
    for interface in global_addresses(host, family):
        if interface.network in peer_networks:
            return str(interface.ip)
    raise AssertionError(f"no IPv{family} network is shared by {host.backend.name} and {peer.backend.name}")


def addresses_facing(host, peer):
    """host's addresses (IPv4 and IPv6) on the networks it shares with peer: where its packets to peer come from."""
    found = set()
    for family in (4, 6):
        peer_networks = {interface.network for interface in global_addresses(peer, family)}
        found |= {
            str(interface.ip) for interface in global_addresses(host, family) if interface.network in peer_networks
        }
    if not found:
        raise AssertionError(f"no network is shared by {host.backend.name} and {peer.backend.name}")
    return found


def tunnel_status(*args, inventory=None):
    """Run the status playbook (sixtunnel.openvpn.status) with its JSON output: (returncode, output, {laptop: row}).

    The rows are read from the JSON file the playbook writes (empty where the run failed before writing it).
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "status.json"
        returncode, output = run_playbook(
            "sixtunnel.openvpn.status", "-e", f"sixtunnel_status_json={path}", *args, inventory=inventory
        )
        rows = json.loads(path.read_text())["rows"] if path.exists() else []
    return returncode, output, {row["laptop"]: row for row in rows}


def certificate_not_after(host, path):
    """notAfter of a certificate on a host as openssl reads it, in ISO 8601 (UTC) as the status view gives it."""
    text = host.check_output(f"openssl x509 -noout -enddate -in {path}").split("=", 1)[1]
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.strptime(text, "%b %d %H:%M:%S %Y %Z"))


def ping6(host, address, attempts=20, options=""):
    """Ping until one answer comes back; a fresh tunnel may still be finishing its handshake."""
    for _attempt in range(attempts):
        if host.run(f"ping -6 -c 1 -W 1 {options} {address}").rc == 0:
            return True
        time.sleep(1)
    return False


def seconds_until_ping6(host, address, since, timeout):
    """Seconds from `since` (time.monotonic()) until address answers, or None after timeout seconds."""
    while time.monotonic() - since < timeout:
        if host.run(f"ping -6 -c 1 -W 1 {address}").rc == 0:
            return round(time.monotonic() - since, 1)
        time.sleep(0.5)
    return None


def wait_booted(host, timeout=120):
    """Wait until systemd in a (re)started container has finished booting; the boot's state, or "" on timeout.

    Right after `podman restart` systemd's bus may not be up yet: `systemctl is-system-running --wait` then fails at
    once ("Failed to connect to bus") instead of waiting, so ask again until it answers.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = host.run("systemctl is-system-running --wait").stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(0.5)
    return ""


def main_pid(host, unit):
    """The unit's main PID; 0 when it does not run (or systemd cannot say yet, early in a boot)."""
    result = host.run(f"systemctl show --property MainPID --value {unit}")
    return int(result.stdout.strip() or 0) if result.rc == 0 else 0


def run_playbook(*args, inventory=None, env=None):
    """Run ansible-playbook against Molecule's inventory (or another); return (returncode, stdout and stderr)."""
    command = ["ansible-playbook", "-i", str(inventory or os.environ["MOLECULE_INVENTORY_FILE"]), *args]
    result = subprocess.run(
        command,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "false", "ANSIBLE_NOCOLOR": "true", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout


def recap(output):
    """PLAY RECAP counters per host: {host: {"ok": n, "changed": n, ...}}."""
    lines = re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output.split("PLAY RECAP", 1)[-1], re.MULTILINE)
    return {host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", rest)} for host, rest in lines}


def podman_cp(source, destination):
    subprocess.run(["podman", "cp", str(source), destination], check=True)


def certificate_fingerprint(pem):
    """SHA-256 of the first certificate in a PEM text, the way OpenVPN's peer-fingerprint writes it."""
    digest = hashlib.sha256(base64.b64decode("".join(PEM_CERTIFICATE.search(pem).group(1).split()))).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def inline_block(profile, tag):
    """The content of an inline <tag>...</tag> block of an OpenVPN profile, or None."""
    match = re.search(rf"^<{tag}>\n(.*?)\n</{tag}>$", profile, re.DOTALL | re.MULTILINE)
    return match.group(1) if match else None


def ip_counters(host):
    """The kernel's fragmentation counters (IPv4 and IPv6): which packets it had to cut or glue."""
    counters = {}
    snmp = host.file("/proc/net/snmp").content_string.splitlines()
    for names, values in zip(snmp[0::2], snmp[1::2], strict=True):
        if names.startswith("Ip:"):
            counters.update({f"Ip{k}": int(v) for k, v in zip(names.split()[1:], values.split()[1:], strict=True)})
    for line in host.file("/proc/net/snmp6").content_string.splitlines():
        key, value = line.split()
        counters[key] = int(value)
    return {key: counters[key] for key in ("IpFragCreates", "IpReasmReqds", "Ip6FragCreates", "Ip6ReasmReqds")}


def interface_of(host, address):
    """The name of the interface that carries address (found by address, never assumed to be eth0)."""
    fields = host.check_output(f"ip -o addr show to {address}").split()
    if len(fields) < 2:
        raise AssertionError(f"{host.backend.name} has no interface with the address {address}")
    return fields[1]


def journal_tail(host, unit, lines=20):
    """The unit's last journal lines, to quote in an assertion's message."""
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager -o cat").stdout


PING_LOG = "/tmp/sixtunnel-ping.log"
PING_PID = "/tmp/sixtunnel-ping.pid"


def start_ping(host, address, interval=0.2):
    """A background ping6 (default five packets a second, so a one-second gap loses five); stop it with stop_ping."""
    host.check_output(f"rm -f {PING_LOG} {PING_PID}")
    # Detached, so it outlives this exec; it records its own PID to be stopped by that PID alone.
    host.check_output(
        f"nohup sh -c 'echo $$ > {PING_PID}; exec ping -6 -n -i {interval} {address} > {PING_LOG} 2>&1'"
        " > /dev/null 2>&1 &"
    )
    for _attempt in range(20):
        if host.file(PING_PID).exists and host.file(PING_LOG).contains("bytes from"):
            return
        time.sleep(0.5)
    raise AssertionError(f"ping to {address} did not start or got no answer: {host.file(PING_LOG).content_string}")


def stop_ping(host):
    """Stop the background ping6 and return (transmitted, received)."""
    host.check_output(f"kill -INT $(cat {PING_PID})")
    for _attempt in range(20):
        match = re.search(r"(\d+) packets transmitted, (\d+) received", host.file(PING_LOG).content_string)
        if match:
            return int(match.group(1)), int(match.group(2))
        time.sleep(0.5)
    raise AssertionError(f"no ping summary in {PING_LOG}")


# An OpenVPN handshake's first packet, as a client without any control-channel key sends it (OpenVPN's ssl_pkt.h
# and reliable.c): opcode P_CONTROL_HARD_RESET_CLIENT_V2 (7) << 3 | key id 0, an 8-byte session id, an empty
# packet-id (ack) array (length 0, so no remote session id), message packet id 0, no payload.
P_CONTROL_HARD_RESET_CLIENT_V2 = 7
P_CONTROL_HARD_RESET_SERVER_V2 = 8
HANDSHAKE_PROBE = bytes([P_CONTROL_HARD_RESET_CLIENT_V2 << 3]) + bytes.fromhex("5349585450524f42") + b"\0" + bytes(4)
PROBE_SCRIPT = """
import socket, sys
address, port, timeout, probe = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), bytes.fromhex(sys.argv[4])
family = socket.AF_INET6 if ":" in address else socket.AF_INET
with socket.socket(family, socket.SOCK_DGRAM) as sock:
    sock.settimeout(timeout)
    sock.sendto(probe, (address, port))
    try:
        print(sock.recv(2048).hex())
    except socket.timeout:
        print("")
"""


def handshake_probe(host, address, port, timeout=5):
    """Send HANDSHAKE_PROBE from host (a container) to address:port over UDP; the first answer's opcode (its byte 0
    >> 3), or None when nothing came back within timeout seconds."""
    answer = host.check_output(
        "python3 -c %s %s %s %s %s", PROBE_SCRIPT, address, str(port), str(timeout), HANDSHAKE_PROBE.hex()
    )
    return bytes.fromhex(answer)[0] >> 3 if answer else None
