# Copyright (c) 2024, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.sixtunnel.openvpn.plugins.filter import tunnel_plan as filter_module
from ansible_collections.sixtunnel.openvpn.plugins.filter.tunnel_plan import FilterModule, tunnel_plan_filter
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils import planner

SITE = {"prefix": "2001:db8:abba::/48"}


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_tunnel_plan_filter_plans():
    laptops = [
        {"name": "laptop2", "tunnel_id": "1", "state": "absent"},
        {"name": "laptop1", "tunnel_id": 0, "routed_networks": ["auto"]},
    ]
    plan = tunnel_plan_filter(SITE, laptops)
    assert [(tunnel["name"], tunnel["prefix"], tunnel["port"]) for tunnel in plan["tunnels"]] == [
        ("laptop1", "2001:db8:abba:1000::/64", 1194),
        ("laptop2", "2001:db8:abba:1001::/64", 1195),
    ]
    assert plan["tunnels"][0]["routed_networks"] == ["2001:db8:abba:2000::/64"]


def test_tunnel_plan_filter_passes_the_ledger():
    ledger = [{"prefix": "2001:db8:abba:1001::/64", "use": "tunnel", "laptop": "gone", "tunnel_id": 1}]
    plan = tunnel_plan_filter(SITE, [{"name": "laptop1", "tunnel_id": 0}], ledger=ledger)
    assert plan["ledger"][-1] == {**ledger[0], "state": "absent"}


@pytest.mark.parametrize(
    ("site", "laptops", "ledger", "message"),
    [
        (
            SITE,
            [{"name": "laptop1", "tunnel_id": 3}, {"name": "laptop2", "tunnel_id": 3}],
            None,
            "tunnel_plan: laptop 'laptop2': tunnel_id 3 is already used by 'laptop1'",
        ),
        (
            SITE,
            [{"name": "laptop1", "tunnel_id": 0}, {"name": "laptop2", "tunnel_id": 1}, {"name": "laptop3"}],
            None,
            "tunnel_plan: laptop 'laptop3' has no tunnel_id; the lowest free id is 2",
        ),
        (
            SITE,
            [{"name": "laptop2", "tunnel_id": 1}],
            [{"prefix": "2001:db8:abba:1001::/64", "use": "tunnel", "laptop": "gone", "tunnel_id": 1}],
            "tunnel_plan: laptop 'laptop2': tunnel_id 1 is reserved in the ledger for 'gone'",
        ),
        ({}, [], None, "tunnel_plan: site has no prefix"),
        (SITE, "laptop1", None, "tunnel_plan: laptops must be a list; got str"),
    ],
)
def test_tunnel_plan_filter_refuses(site, laptops, ledger, message):
    with pytest.raises(AnsibleFilterError, match=exactly(message)) as caught:
        tunnel_plan_filter(site, laptops, ledger=ledger)
    assert isinstance(caught.value.__cause__, planner.TunnelPlanError)


@pytest.mark.parametrize(
    ("site", "type_name"),
    [("2001:db8:abba::/48", "str"), (None, "NoneType"), ([SITE], "list")],
)
def test_tunnel_plan_filter_wants_a_dict(site, type_name):
    message = (
        "The input for the sixtunnel.openvpn.tunnel_plan filter must be a dictionary (the site);"
        f" got <class '{type_name}'> instead"
    )
    with pytest.raises(AnsibleFilterError, match=exactly(message)):
        tunnel_plan_filter(site, [])


def test_tunnel_plan_filter_without_netaddr(monkeypatch):
    monkeypatch.setattr(filter_module, "HAS_NETADDR", False)
    with pytest.raises(AnsibleFilterError, match=r"^Failed to import the required Python library \(netaddr\) on "):
        tunnel_plan_filter(SITE, [])


def test_filter_module_registers_the_filter():
    assert FilterModule().filters() == {"tunnel_plan": tunnel_plan_filter}


def test_documentation_matches_the_code():
    """Documented keys, defaults and choices are the planner's own, so the docs cannot drift."""
    documentation = yaml.safe_load(filter_module.DOCUMENTATION)
    assert documentation["name"] == "tunnel_plan"
    assert str(documentation["version_added"]) == "1.0.0"
    assert documentation["positional"] == "_input, laptops"
    options = documentation["options"]
    assert set(options) == {"_input", "laptops", "ledger", "gateway_remotes", "export_dir"}

    site_options = options["_input"]["suboptions"]
    assert tuple(site_options) == planner.SITE_KEYS
    assert site_options["port_base"]["default"] == planner.DEFAULT_PORT_BASE
    assert site_options["gateway_host"]["default"] == planner.DEFAULT_GATEWAY_HOST
    assert site_options["laptop_host"]["default"] == planner.DEFAULT_LAPTOP_HOST
    assert site_options["interface_prefix"]["default"] == planner.DEFAULT_INTERFACE_PREFIX

    laptop_options = options["laptops"]["suboptions"]
    assert set(laptop_options) == {
        "name", "tunnel_id", "state", "routed_networks", "port", "interface", "auth", "dev_type", "proto",
        "managed", "verify_traffic", "tls_crypt", "tun_mtu", "remotes", "http_proxy", "export_dir",
    }  # fmt: skip
    for key, choices in (("state", planner.STATES), ("auth", planner.AUTHS), ("dev_type", planner.DEV_TYPES)):
        assert tuple(laptop_options[key]["choices"]) == choices, key
        assert laptop_options[key]["default"] == choices[0], key
    assert tuple(laptop_options["proto"]["choices"]) == planner.PROTOS
    assert laptop_options["tun_mtu"]["default"] == planner.DEFAULT_TUN_MTU

    returned = yaml.safe_load(filter_module.RETURN)["_value"]
    assert returned["type"] == "dict"
    assert set(returned["contains"]) == {"site", "tunnels", "ledger"}
    laptops = [{"name": "laptop1", "tunnel_id": 0, "routed_networks": ["auto"]}]
    sample = planner.plan_tunnels(SITE, laptops, gateway_remotes=["gateway.example.org"], export_dir="/srv/exports")
    for key in ("site", "tunnels", "ledger"):
        assert returned["contains"][key]["sample"] == sample[key], key

    examples = yaml.safe_load(filter_module.EXAMPLES)
    assert all("ansible.builtin.debug" in task for task in examples)
