"""Fixtures of the routed scenario: the routing laptop's tunnel, the host behind it."""

import pytest
from sixtunnel_molecule import container, plan_of


@pytest.fixture(scope="session")
def tunnel(inventory):
    """The routing laptop's planned tunnel."""
    (laptop,) = inventory.get_hosts("sixtunnel_laptops")
    return plan_of(inventory, [laptop])[laptop]


@pytest.fixture(scope="session")
def behind(inventory):
    """The host on the network behind the laptop, its address (without length) and its router's."""
    (name,) = inventory.get_hosts("routed_network_hosts")
    variables = inventory.get_variables(name)
    return container(name), variables["routed_network_address"].split("/")[0], variables["routed_network_router"]
