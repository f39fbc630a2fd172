"""Fixtures of every scenario's testinfra verifier: a pytest plugin, the conftest.py the scenarios share.

pytest loads it by name: PYTEST_PLUGINS in the verifier's env (.config/molecule/config.yml), which also puts this
directory on PYTHONPATH. Not `-p`: Molecule passes the verifier's options as a dict, so there is one `-p`, and it
is no:cacheprovider. A scenario's tests/conftest.py holds only fixtures of its own; one with a name below replaces
this one for that scenario (export's inventory), and the fixtures here then use it too.
"""

import pytest
from sixtunnel_molecule import container, molecule_inventory, plan_of


@pytest.fixture(scope="session")
def inventory():
    """Molecule's inventory: the hosts it made, with their variables."""
    return molecule_inventory()


@pytest.fixture(scope="session")
def plan(inventory):
    """The plan the inventory implies: tunnel name -> tunnel."""
    return plan_of(inventory)


@pytest.fixture(scope="session")
def gateway_name(inventory):
    return inventory.get_hosts("sixtunnel_gateways")[0]


@pytest.fixture(scope="session")
def gateway(gateway_name):
    return container(gateway_name)


@pytest.fixture(scope="session")
def hosts():
    """Containers by inventory name."""
    return container
