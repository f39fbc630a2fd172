"""Fixtures of the server_mode scenario: the laptops' names, the ledger, the onboarding inventory."""

import os
from pathlib import Path

import pytest
from sixtunnel_molecule import whole_inventory


@pytest.fixture(scope="session")
def names():
    """{"gateway": name, "laptop1": name, ..., "mac": name}: the hosts by their role in the scenario."""
    inventory = whole_inventory()  # with the unmanaged laptop, which Molecule's own inventory file lacks
    found = {"gateway": inventory.get_hosts("sixtunnel_gateways")[0]}
    for name in inventory.get_hosts("sixtunnel_laptops") + inventory.get_hosts("server_newcomers"):
        found[name.rsplit("-", 1)[1]] = name
    return found


@pytest.fixture(scope="session")
def ledger_file():
    """The ledger the converge wrote beside Molecule's inventory; every later run must use the same one."""
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / ".sixtunnel" / "ledger.yml"


@pytest.fixture(scope="session")
def onboarding_inventory(names, tmp_path_factory):
    """A second inventory source that adds laptop4 to sixtunnel_laptops (its id is already known)."""
    path = tmp_path_factory.mktemp("server_mode") / "onboard.yml"
    path.write_text(f"---\nsixtunnel_laptops:\n  hosts:\n    {names['laptop4']}:\n")
    return path
