# Copyright (c) 2024, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.sixtunnel.openvpn.plugins.filter import tunnel_prefix as filter_module
from ansible_collections.sixtunnel.openvpn.plugins.filter.tunnel_prefix import FilterModule, tunnel_prefix_filter
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import TunnelPlanError


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.mark.parametrize(
    ("site_prefix", "tunnel_id", "keywords", "expected"),
    [
        ("2001:db8:abba::/48", 0, {}, "2001:db8:abba:1000::/64"),
        ("2001:db8:abba::/48", 1, {}, "2001:db8:abba:1001::/64"),
        ("2001:db8:abba::/48", "42", {}, "2001:db8:abba:102a::/64"),
        ("2001:db8:abba::/48", 3, {"pool": "2001:db8:abba:ff00::/56"}, "2001:db8:abba:ff03::/64"),
    ],
)
def test_tunnel_prefix_filter(site_prefix, tunnel_id, keywords, expected):
    assert tunnel_prefix_filter(site_prefix, tunnel_id, **keywords) == expected


@pytest.mark.parametrize(
    ("site_prefix", "tunnel_id", "keywords", "message"),
    [
        ("2001:db8:abba::/48", -1, {}, "tunnel_prefix: tunnel_id -1 is negative"),
        (
            "2001:db8:abba::/48",
            4096,
            {},
            "tunnel_prefix: tunnel_id 4096 is outside the tunnel pool 2001:db8:abba:1000::/52 (ids 0..4095)",
        ),
        ("192.0.2.0/24", 0, {}, "tunnel_prefix: site prefix '192.0.2.0/24' is IPv4; only IPv6 is tunnelled"),
        (
            "2001:db8:abba::/48",
            0,
            {"pool": "2001:db8:beef::/52"},
            "tunnel_prefix: pool 2001:db8:beef::/52 is not inside the site prefix 2001:db8:abba::/48",
        ),
    ],
)
def test_tunnel_prefix_filter_refuses(site_prefix, tunnel_id, keywords, message):
    with pytest.raises(AnsibleFilterError, match=exactly(message)) as caught:
        tunnel_prefix_filter(site_prefix, tunnel_id, **keywords)
    assert isinstance(caught.value.__cause__, TunnelPlanError)


@pytest.mark.parametrize(
    ("site_prefix", "type_name"),
    [(48, "int"), (None, "NoneType"), (["2001:db8:abba::/48"], "list")],
)
def test_tunnel_prefix_filter_wants_a_string(site_prefix, type_name):
    message = (
        "The input for the sixtunnel.openvpn.tunnel_prefix filter must be a string (the site prefix);"
        f" got <class '{type_name}'> instead"
    )
    with pytest.raises(AnsibleFilterError, match=exactly(message)):
        tunnel_prefix_filter(site_prefix, 0)


def test_tunnel_prefix_filter_without_netaddr(monkeypatch):
    monkeypatch.setattr(filter_module, "HAS_NETADDR", False)
    with pytest.raises(AnsibleFilterError, match=r"^Failed to import the required Python library \(netaddr\) on "):
        tunnel_prefix_filter("2001:db8:abba::/48", 0)


def test_filter_module_registers_the_filter():
    assert FilterModule().filters() == {"tunnel_prefix": tunnel_prefix_filter}


def test_documentation_is_complete():
    documentation = yaml.safe_load(filter_module.DOCUMENTATION)
    assert documentation["name"] == "tunnel_prefix"
    assert str(documentation["version_added"]) == "1.0.0"
    assert set(documentation["options"]) == {"_input", "tunnel_id", "pool"}
    assert documentation["positional"] == "_input, tunnel_id"
    assert yaml.safe_load(filter_module.RETURN)["_value"]["type"] == "string"
    examples = yaml.safe_load(filter_module.EXAMPLES)
    assert all("ansible.builtin.debug" in task for task in examples)
