"""Fixtures of the real_networks scenario: the gateway's variables, the scenario's networks."""

import ipaddress

import pytest


@pytest.fixture(scope="session")
def gateway_vars(inventory, gateway_name):
    return inventory.get_variables(gateway_name)


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
