"""Fixtures of the lifecycle scenario: the laptops' names, the ledger, the onboarding inventory."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def names(inventory):
    """gateway, the converged laptop, the newcomer."""
    (gateway,) = inventory.get_hosts("sixtunnel_gateways")
    (laptop1,) = inventory.get_hosts("sixtunnel_laptops")
    (laptop2,) = inventory.get_hosts("lifecycle_newcomers")
    return gateway, laptop1, laptop2


@pytest.fixture(scope="session")
def ledger_file():
    """The ledger the converge wrote beside Molecule's inventory; every later run must use the same one."""
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / ".sixtunnel" / "ledger.yml"


@pytest.fixture(scope="session")
def onboarding_inventory(names, tmp_path_factory):
    """A second inventory source that adds the newcomer to sixtunnel_laptops (its id is already known)."""
    path = tmp_path_factory.mktemp("lifecycle") / "onboard.yml"
    path.write_text(f"---\nsixtunnel_laptops:\n  hosts:\n    {names[2]}:\n")
    return path
