"""Fixtures of the faults scenario: the inventory, its plan, the containers."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

from sixtunnel_molecule import molecule_inventory, plan_of


@pytest.fixture(scope="session")
def inventory():
    return molecule_inventory()


@pytest.fixture(scope="session")
def gateway_name(inventory):
    return inventory.get_hosts("sixtunnel_gateways")[0]


@pytest.fixture(scope="session")
def plan(inventory):
    return plan_of(inventory, inventory.get_hosts("sixtunnel_laptops"))
