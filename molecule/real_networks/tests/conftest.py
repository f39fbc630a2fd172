"""Fixtures of the real_networks scenario: the inventory, its plan, the scenario's networks."""

import ipaddress
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

from sixtunnel_molecule import molecule_inventory, plan_of


@pytest.fixture(scope="session")
def inventory():
    return molecule_inventory()


@pytest.fixture(scope="session")
def plan(inventory):
    return plan_of(inventory)


@pytest.fixture(scope="session")
def gateway_vars(inventory):
    return inventory.get_variables(inventory.get_hosts("sixtunnel_gateways")[0])


@pytest.fixture(scope="session")
def networks(gateway_vars):
    """The scenario's links (molecule.yml's molecule_networks) by short name: uplink, roam-a, roam-b."""
    return {
        network["name"].removeprefix("sixtunnel-rn-"): {
            **network,
            "ipv6": ipaddress.ip_network(network["ipv6"]),
            "ipv4": ipaddress.ip_network(network["ipv4"]),
        }
        for network in gateway_vars["molecule_networks"]
    }
