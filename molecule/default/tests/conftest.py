"""Fixtures of the default scenario: the inventory, the plan it implies, each laptop's auth mode, the containers."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

from sixtunnel_molecule import container, molecule_inventory, plan_of


@pytest.fixture(scope="session")
def inventory():
    return molecule_inventory()


@pytest.fixture(scope="session")
def gateway_name(inventory):
    return inventory.get_hosts("sixtunnel_gateways")[0]


@pytest.fixture(scope="session")
def plan(inventory):
    return plan_of(inventory)


@pytest.fixture(scope="session")
def auth_modes(inventory):
    """Laptop name -> auth mode; the scenario has one laptop per mode."""
    laptops = inventory.get_hosts("sixtunnel_laptops")
    return {name: inventory.get_variables(name).get("sixtunnel_auth", "peer_fingerprint") for name in laptops}


@pytest.fixture(scope="session")
def hosts():
    """Containers by inventory name."""
    return container
