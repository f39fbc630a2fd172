"""Fixtures shared by the scenarios' testinfra verifiers: the inventory and the plan it implies."""

import os
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
def auth_mode(inventory, laptop_names):
    return inventory.get_variables(laptop_names[0]).get("sixtunnel_auth", "peer_fingerprint")


@pytest.fixture(scope="session")
def hosts():
    """Containers by inventory name, reached with `podman exec` (testinfra's ansible backend has no podman)."""
    cache = {}

    def host(name):
        if name not in cache:
            cache[name] = testinfra.get_host(f"podman://{name}")
        return cache[name]

    return host
