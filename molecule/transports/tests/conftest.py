"""Fixtures of the transports scenario: the inventory, its plan, the containers."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

from sixtunnel_molecule import container, plan_of, whole_inventory


@pytest.fixture(scope="session")
def inventory():
    return whole_inventory()


@pytest.fixture(scope="session")
def plan(inventory):
    return plan_of(inventory)


@pytest.fixture(scope="session")
def gateway(inventory):
    return container(inventory.get_hosts("sixtunnel_gateways")[0])


@pytest.fixture(scope="session")
def laptop_names(inventory):
    return {name.rsplit("-", 1)[1]: name for name in inventory.get_hosts("sixtunnel_laptops")}
