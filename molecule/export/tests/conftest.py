"""Fixtures of the export scenario: the whole inventory (with the unmanaged laptops), its plan, the containers."""

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
def unmanaged(inventory):
    """Name to inventory variables of each laptop that Ansible does not manage."""
    laptops = {name: inventory.get_variables(name) for name in inventory.get_hosts("sixtunnel_laptops")}
    return {name: variables for name, variables in laptops.items() if variables.get("sixtunnel_managed") is False}


@pytest.fixture(scope="session")
def gateway(inventory):
    return container(inventory.get_hosts("sixtunnel_gateways")[0])


@pytest.fixture(scope="session")
def bare(inventory):
    return container(inventory.get_hosts("bare_clients")[0])
