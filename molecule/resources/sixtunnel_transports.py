"""Helpers for the export and transports scenarios (issue 6): the whole inventory, its plan, traffic probes.

Their inventories hold hosts Molecule does not create (laptops Ansible does not manage), so the inventory is read
from Molecule's inventory directory, not from its ansible_inventory.yml alone.
"""

import base64
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner

# The planner is imported from the installed collection, the one the converge used.
for path in reversed(os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)):
    if path and path not in sys.path:
        sys.path.insert(0, path)

from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import plan_tunnels

SITE_ADDRESS = "2001:db8:abba::1"  # on the gateway's loopback, beyond the tunnels (prepare.yml)
INVENTORY_DIR = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
EXPORT_DIR = INVENTORY_DIR / "exports"  # the default sixtunnel_export_dir, beside the inventory
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)

_containers = {}


def container(name):
    """A container, reached with `podman exec`."""
    if name not in _containers:
        _containers[name] = testinfra.get_host(f"podman://{name}")
    return _containers[name]


def whole_inventory():
    # The exports/ beside the inventory hold profiles, not inventory.
    os.environ.setdefault("ANSIBLE_INVENTORY_IGNORE_REGEX", "^exports$")
    return testinfra.utils.ansible_runner.AnsibleRunner(str(INVENTORY_DIR))


def plan_of(inventory):
    """Every laptop's tunnel, planned independently of the converge from the same inventory."""
    laptops = []
    names = inventory.get_hosts("sixtunnel_laptops")
    for name in names:
        variables = inventory.get_variables(name)
        laptop = {"name": name, "state": variables.get("sixtunnel_state", "present")}
        laptop["routed_networks"] = variables.get("sixtunnel_routed_networks", [])
        for key in ("tunnel_id", "port", "interface"):
            if "sixtunnel_" + key in variables:
                laptop[key] = variables["sixtunnel_" + key]
        laptops.append(laptop)
    site = inventory.get_variables(names[0])["sixtunnel_site"]
    return {tunnel["name"]: tunnel for tunnel in plan_tunnels(site, laptops)["tunnels"]}


def ping6(host, address, attempts=20, options=""):
    """Ping until one answer comes back; a fresh tunnel may still be finishing its handshake."""
    for _ in range(attempts):
        if host.run(f"ping -6 -c 1 -W 1 {options} {address}").rc == 0:
            return True
        time.sleep(1)
    return False


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
