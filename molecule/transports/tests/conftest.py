"""Fixtures of the transports scenario: the inventory directory, the laptops by transport."""

import pytest
from sixtunnel_molecule import whole_inventory


@pytest.fixture(scope="session")
def inventory():
    """The inventory directory, read as the export scenario reads it (this scenario has no unmanaged laptops)."""
    return whole_inventory()


@pytest.fixture(scope="session")
def laptop_names(inventory):
    return {name.rsplit("-", 1)[1]: name for name in inventory.get_hosts("sixtunnel_laptops")}
