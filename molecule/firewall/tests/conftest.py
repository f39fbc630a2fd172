"""Fixtures of the firewall scenario: the inventory, the plan it implies, containers and nft counters."""

import json
import os
import subprocess
import sys

import pytest
import testinfra
import testinfra.utils.ansible_runner

# The planner is imported from the installed collection, the one the converge used.
for path in reversed(os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)):
    if path and path not in sys.path:
        sys.path.insert(0, path)

from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import plan_tunnels


@pytest.fixture(scope="session")
def inventory():
    return testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="session")
def gateway_name(inventory):
    return inventory.get_hosts("sixtunnel_gateways")[0]


@pytest.fixture(scope="session")
def laptop_names(inventory):
    return inventory.get_hosts("sixtunnel_laptops")


@pytest.fixture(scope="session")
def plan(inventory, laptop_names):
    """The plan computed independently of the converge, from the same inventory."""
    laptops = []
    for name in laptop_names:
        variables = inventory.get_variables(name)
        laptop = {"name": name, "state": variables.get("sixtunnel_state", "present")}
        laptop["routed_networks"] = variables.get("sixtunnel_routed_networks", [])
        for key in ("tunnel_id", "port", "interface"):
            if "sixtunnel_" + key in variables:
                laptop[key] = variables["sixtunnel_" + key]
        laptops.append(laptop)
    site = inventory.get_variables(laptop_names[0])["sixtunnel_site"]
    return {tunnel["name"]: tunnel for tunnel in plan_tunnels(site, laptops)["tunnels"]}


@pytest.fixture(scope="session")
def hosts():
    """Containers by inventory name, reached with `podman exec`."""
    cache = {}

    def host(name):
        if name not in cache:
            cache[name] = testinfra.get_host(f"podman://{name}")
        return cache[name]

    return host


@pytest.fixture(scope="session")
def run_playbook():
    """Run a playbook of the installed collection as an admin would; returns (returncode, output)."""

    def run(playbook, *args):
        result = subprocess.run(
            ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, *args],
            env={**os.environ, "ANSIBLE_FORCE_COLOR": "false", "ANSIBLE_NOCOLOR": "true"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        return result.returncode, result.stdout

    return run


class Table:
    """Table inet sixtunnel of one host, read with `nft -j`."""

    def __init__(self, host):
        self.host = host

    def exists(self):
        return self.host.run("nft list table inet sixtunnel").rc == 0

    def items(self):
        return json.loads(self.host.check_output("nft -j list table inet sixtunnel"))["nftables"]

    def chains(self):
        return {item["chain"]["name"] for item in self.items() if "chain" in item}

    def rules(self, chain):
        return [item["rule"] for item in self.items() if "rule" in item and item["rule"]["chain"] == chain]

    def set_elements(self, name):
        for item in self.items():
            if "set" in item and item["set"]["name"] == name:
                return set(item["set"].get("elem", []))
        raise AssertionError(f"no set {name} in table inet sixtunnel")

    def dports(self, chain):
        """Destination ports the chain's rules match, as (protocol, port)."""
        ports = set()
        for rule in self.rules(chain):
            for expr in rule["expr"]:
                left = expr.get("match", {}).get("left", {})
                if left.get("payload", {}).get("field") == "dport":
                    ports.add((left["payload"]["protocol"], expr["match"]["right"]))
        return ports

    def packets(self, chain, comment):
        """Packets counted by the rule with this comment."""
        for rule in self.rules(chain):
            if rule.get("comment") == comment:
                return next(expr["counter"]["packets"] for expr in rule["expr"] if "counter" in expr)
        raise AssertionError(f"no rule '{comment}' in chain {chain}")

    def total_packets(self, chain):
        return sum(
            expr["counter"]["packets"] for rule in self.rules(chain) for expr in rule["expr"] if "counter" in expr
        )


@pytest.fixture(scope="session")
def table(hosts):
    return lambda name: Table(hosts(name))
