"""Fixtures of the bad_inventory scenario: the containers, the mark of the time before the first case."""

import pytest
from sixtunnel_molecule import container

MARK = "/tmp/sixtunnel-bad-inventory.mark"


@pytest.fixture(scope="session")
def names(inventory):
    """Role in the cases (gateway, laptop1, laptop2) -> container name."""
    (gateway,) = inventory.get_hosts("sixtunnel_gateways")
    laptop1, laptop2 = sorted(inventory.get_hosts("sixtunnel_laptops"))
    return {"gateway": gateway, "laptop1": laptop1, "laptop2": laptop2}


@pytest.fixture(scope="session")
def marked(names):
    """Files changed after this mark were changed by a case."""
    for name in names.values():
        container(name).check_output(f"touch {MARK}")
    return MARK
