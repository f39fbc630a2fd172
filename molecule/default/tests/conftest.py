"""Fixtures of the default scenario: each laptop's auth mode."""

import pytest


@pytest.fixture(scope="session")
def auth_modes(inventory):
    """Laptop name -> auth mode; the scenario has one laptop per mode."""
    laptops = inventory.get_hosts("sixtunnel_laptops")
    return {name: inventory.get_variables(name).get("sixtunnel_auth", "peer_fingerprint") for name in laptops}
