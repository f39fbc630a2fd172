"""Fixtures of the routed scenario: the inventory, its plan, the containers."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

from sixtunnel_molecule import container, molecule_inventory, plan_of


@pytest.fixture(scope="session")
def inventory():
    return molecule_inventory()


@pytest.fixture(scope="session")
def tunnel(inventory):
    """The routing laptop's planned tunnel."""
    (laptop,) = inventory.get_hosts("sixtunnel_laptops")
    return plan_of(inventory, [laptop])[laptop]


@pytest.fixture(scope="session")
def gateway(inventory):
    return container(inventory.get_hosts("sixtunnel_gateways")[0])


@pytest.fixture(scope="session")
def behind(inventory):
    """The host on the network behind the laptop, its address (without length) and its router's."""
    (name,) = inventory.get_hosts("routed_network_hosts")
    variables = inventory.get_variables(name)
    return container(name), variables["routed_network_address"].split("/")[0], variables["routed_network_router"]
