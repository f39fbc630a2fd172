"""Fixtures of the export scenario: the whole inventory (with the unmanaged laptops), those laptops, the bare client."""

import pytest
from sixtunnel_molecule import container, whole_inventory


@pytest.fixture(scope="session")
def inventory():
    """The inventory directory: the unmanaged laptops are in its hosts file, not in Molecule's inventory file."""
    return whole_inventory()


@pytest.fixture(scope="session")
def unmanaged(inventory):
    """Name to inventory variables of each laptop that Ansible does not manage."""
    laptops = {name: inventory.get_variables(name) for name in inventory.get_hosts("sixtunnel_laptops")}
    return {name: variables for name, variables in laptops.items() if variables.get("sixtunnel_managed") is False}


@pytest.fixture(scope="session")
def bare(inventory):
    return container(inventory.get_hosts("bare_clients")[0])
