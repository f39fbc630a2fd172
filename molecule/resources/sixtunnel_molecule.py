"""Helpers for the scenarios that prove what admins fear (routed, lifecycle, faults, bad_inventory, secrets).

Each scenario's tests/conftest.py puts this directory on sys.path. The containers are reached with
`podman exec` (testinfra's podman backend); playbooks run as the admin runs them, with ansible-playbook,
against Molecule's inventory and the installed collection.
"""

import os
import re
import subprocess
import sys
import time

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

_containers = {}


def container(name):
    """The container of an inventory host, reached with `podman exec`."""
    if name not in _containers:
        _containers[name] = testinfra.get_host(f"podman://{name}")
    return _containers[name]


def molecule_inventory():
    return testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])


def plan_of(inventory, laptop_names, overrides=None):
    """The plan, computed independently of the playbooks from the same inventory (plus per-laptop overrides)."""
    laptops = []
    for name in laptop_names:
        variables = dict(inventory.get_variables(name))
        variables.update((overrides or {}).get(name, {}))
        laptop = {"name": name, "state": variables.get("sixtunnel_state", "present")}
        laptop["routed_networks"] = variables.get("sixtunnel_routed_networks", [])
        for key in ("tunnel_id", "port", "interface"):
            if "sixtunnel_" + key in variables:
                laptop[key] = variables["sixtunnel_" + key]
        laptops.append(laptop)
    site = inventory.get_variables(laptop_names[0])["sixtunnel_site"]
    return {tunnel["name"]: tunnel for tunnel in plan_tunnels(site, laptops)["tunnels"]}


def ping6(host, address, attempts=20):
    """Ping until one answer comes back; a fresh tunnel may still be finishing its handshake."""
    for _ in range(attempts):
        if host.run(f"ping -6 -c 1 -W 1 {address}").rc == 0:
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
    return {
        match.group(1): {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(2))}
        for match in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE)
    }
