"""Fixtures of the server_mode scenario: the laptops' names, the ledger, the onboarding inventory."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def names(inventory):
    """{"gateway": name, "laptop1": name, ...}: the containers by their role in the scenario."""
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
