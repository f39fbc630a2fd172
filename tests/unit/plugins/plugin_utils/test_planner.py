# Copyright (c) 2024, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import importlib.util
import ipaddress
import itertools
import json
import re
import sys

import pytest
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils import planner
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import (
    TunnelPlanError,
    plan_tunnels,
    tunnel_prefix,
)
from hypothesis import given
from hypothesis import strategies as st

SITE_PREFIX = "2001:db8:abba::/48"
SITE = {"prefix": SITE_PREFIX}
MAX_HOST = 2**64 - 1


def laptop(name: str, tunnel_id: object, **keys: object) -> dict:
    return {"name": name, "tunnel_id": tunnel_id, **keys}


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


# --- tunnel_prefix ----------------------------------------------------------

TUNNEL_PREFIXES = [
    # The seed's numbers: tunnel 0 of 2001:db8:abba::/48 is 2001:db8:abba:1000::/64.
    (SITE_PREFIX, 0, None, "2001:db8:abba:1000::/64"),
    (SITE_PREFIX, 1, None, "2001:db8:abba:1001::/64"),
    (SITE_PREFIX, 4095, None, "2001:db8:abba:1fff::/64"),
    (SITE_PREFIX, "7", None, "2001:db8:abba:1007::/64"),
    ("2001:0DB8:ABBA:0000::/48", 10, None, "2001:db8:abba:100a::/64"),
    ("2001:db8::/32", 0, None, "2001:db8:1000::/64"),
    ("2001:db8:abba:10::/60", 0, None, "2001:db8:abba:11::/64"),
    (SITE_PREFIX, 3, "2001:db8:abba:ff00::/56", "2001:db8:abba:ff03::/64"),
    (SITE_PREFIX, 0, "2001:db8:abba:ff00::/64", "2001:db8:abba:ff00::/64"),
    ("2001:db8:abba:10::/62", 1, "2001:db8:abba:12::/63", "2001:db8:abba:13::/64"),
]


@pytest.mark.parametrize(("site_prefix", "tunnel_id", "pool", "expected"), TUNNEL_PREFIXES)
def test_tunnel_prefix(site_prefix, tunnel_id, pool, expected):
    assert tunnel_prefix(site_prefix, tunnel_id, pool=pool) == expected


TUNNEL_PREFIX_REFUSALS = [
    ("2001:db8:abba::", 0, None, "tunnel_prefix: site prefix '2001:db8:abba::' is not an IPv6 network in CIDR form"),
    ("nonsense/48", 0, None, "tunnel_prefix: site prefix 'nonsense/48' is not an IPv6 network in CIDR form"),
    ("192.0.2.0/24", 0, None, "tunnel_prefix: site prefix '192.0.2.0/24' is IPv4; only IPv6 is tunnelled"),
    (
        "2001:db8:abba::1/48",
        0,
        None,
        "tunnel_prefix: site prefix '2001:db8:abba::1/48' has host bits set; did you mean 2001:db8:abba::/48?",
    ),
    (
        "2001:db8:abba:1::/64",
        0,
        None,
        "tunnel_prefix: site prefix 2001:db8:abba:1::/64 is too long; it must be shorter than /64 to hold /64 tunnels",
    ),
    (
        "2001:db8:abba:10::/62",
        0,
        None,
        (
            "tunnel_prefix: site prefix 2001:db8:abba:10::/62 is too long for the default pools (/60 or shorter); "
            "pass pool"
        ),
    ),
    (SITE_PREFIX, "x", None, "tunnel_prefix: tunnel_id 'x' is not an integer"),
    (SITE_PREFIX, True, None, "tunnel_prefix: tunnel_id True is not an integer"),
    (SITE_PREFIX, 2.0, None, "tunnel_prefix: tunnel_id 2.0 is not an integer"),
    (SITE_PREFIX, -1, None, "tunnel_prefix: tunnel_id -1 is negative"),
    (
        SITE_PREFIX,
        4096,
        None,
        "tunnel_prefix: tunnel_id 4096 is outside the tunnel pool 2001:db8:abba:1000::/52 (ids 0..4095)",
    ),
    (
        SITE_PREFIX,
        256,
        "2001:db8:abba:ff00::/56",
        "tunnel_prefix: tunnel_id 256 is outside the tunnel pool 2001:db8:abba:ff00::/56 (ids 0..255)",
    ),
    (
        SITE_PREFIX,
        0,
        "2001:db8:ffff::/52",
        "tunnel_prefix: pool 2001:db8:ffff::/52 is not inside the site prefix 2001:db8:abba::/48",
    ),
    (
        SITE_PREFIX,
        0,
        "2001:db8:abba:ff00::/72",
        "tunnel_prefix: pool 2001:db8:abba:ff00::/72 is too long; a pool must be /64 or shorter",
    ),
    (SITE_PREFIX, 0, "10.0.0.0/8", "tunnel_prefix: pool '10.0.0.0/8' is IPv4; only IPv6 is tunnelled"),
]


@pytest.mark.parametrize(("site_prefix", "tunnel_id", "pool", "message"), TUNNEL_PREFIX_REFUSALS)
def test_tunnel_prefix_refusals(site_prefix, tunnel_id, pool, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        tunnel_prefix(site_prefix, tunnel_id, pool=pool)


# --- plan_tunnels: the seed's layout ---------------------------------------------------------


def test_plan_of_the_seed_layout():
    plan = plan_tunnels(SITE, [laptop("laptop1", 0, routed_networks=["auto"])])
    assert plan == {
        "site": {
            "prefix": "2001:db8:abba::/48",
            "tunnel_pool": "2001:db8:abba:1000::/52",
            "routed_pool": "2001:db8:abba:2000::/52",
            "port_base": 1194,
        },
        "tunnels": [
            {
                "name": "laptop1",
                "tunnel_id": 0,
                "state": "present",
                "prefix": "2001:db8:abba:1000::/64",
                "gateway_address": "2001:db8:abba:1000::1/64",
                "laptop_address": "2001:db8:abba:1000::2/64",
                "gateway_ip": "2001:db8:abba:1000::1",
                "laptop_ip": "2001:db8:abba:1000::2",
                "port": 1194,
                "interface": "sixt0",
                "mode": "p2p",
                "gateway_interface": "sixt0",
                "routed_networks": ["2001:db8:abba:2000::/64"],
                "managed": True,
                "auth": "peer_fingerprint",
                "dev_type": "tap",
                "tun_mtu": 1280,
                "proto": "udp",
                "transport": "udp",
                "gateway_proto": "udp6",
                "laptop_proto": "udp",
                "remotes": [],
                "http_proxy": {},
                "remote_ports": [],
                "verify_traffic": True,
                "tls_crypt": True,
                "tls_crypt_option": "tls-crypt",
                "gateway_tls_crypt_key": "/etc/openvpn/server/sixtunnel-laptop1/tls-crypt.key",
                "export_dir": "",
                "gateway_instance": "sixtunnel-laptop1",
                "gateway_dir": "/etc/openvpn/server/sixtunnel-laptop1",
                "gateway_config": "/etc/openvpn/server/sixtunnel-laptop1.conf",
                "gateway_unit": "openvpn-server@sixtunnel-laptop1.service",
                "gateway_management": "/etc/openvpn/server/sixtunnel-laptop1/management.sock",
                "gateway_laptop_dir": "/etc/openvpn/server/sixtunnel-laptop1/laptop",
                "gateway_old_instances": [
                    {
                        "instance": name,
                        "dir": f"/etc/openvpn/server/{name}",
                        "config": f"/etc/openvpn/server/{name}.conf",
                        "unit": f"openvpn-server@{name}.service",
                    }
                    for name in ("sixtunnel_server", "sixtunnel_server-tcp")
                ],
            }
        ],
        "ledger": [
            {
                "prefix": "2001:db8:abba:1000::/64",
                "use": "tunnel",
                "laptop": "laptop1",
                "tunnel_id": 0,
                "state": "present",
            },
            {
                "prefix": "2001:db8:abba:2000::/64",
                "use": "routed",
                "laptop": "laptop1",
                "tunnel_id": 0,
                "state": "present",
            },
        ],
    }


def test_plan_sorts_tunnels_by_id_and_ledger_by_address():
    laptops = [
        laptop("zeta", 16),
        # 2001:db8:abba:ff:: comes before 2001:db8:abba:1000:: numerically, after it as text.
        laptop("alpha", 9, routed_networks=["2001:db8:abba:ff::/64"]),
        laptop("mid", 10, state="absent"),
    ]
    plan = plan_tunnels(SITE, laptops)
    assert [tunnel["name"] for tunnel in plan["tunnels"]] == ["alpha", "mid", "zeta"]
    assert [row["prefix"] for row in plan["ledger"]] == [
        "2001:db8:abba:ff::/64",
        "2001:db8:abba:1009::/64",
        "2001:db8:abba:100a::/64",
        "2001:db8:abba:1010::/64",
    ]
    assert [row["state"] for row in plan["ledger"]] == ["present", "present", "absent", "present"]


def test_plan_accepts_inventory_strings_and_nulls():
    site = {
        "prefix": SITE_PREFIX,
        "tunnel_pool": None,
        "routed_pool": None,
        "port_base": "2000",
        "gateway_host": None,
        "laptop_host": None,
        "interface_prefix": None,
    }
    laptops = [{"name": "laptop1", "tunnel_id": "12", "state": None, "routed_networks": None, "port": None}]
    (tunnel,) = plan_tunnels(site, laptops)["tunnels"]
    assert tunnel["tunnel_id"] == 12
    assert tunnel["port"] == 2012
    assert tunnel["interface"] == "sixt12"
    assert tunnel["state"] == "present"
    assert tunnel["routed_networks"] == []


def test_plan_honours_overrides():
    site = {
        "prefix": "2001:db8:abba:10::/62",
        "tunnel_pool": "2001:db8:abba:10::/63",
        "routed_pool": "2001:db8:abba:12::/63",
        "port_base": 51000,
        "gateway_host": 0x100,
        "laptop_host": MAX_HOST,
        "interface_prefix": "",
    }
    laptops = [
        laptop("laptop1", 1, routed_networks=["auto"], port=443, interface="road-warrior"),
        laptop("laptop2", 0, routed_networks=["2001:0DB8:ABBA:0012:0000::/64"]),
    ]
    plan = plan_tunnels(site, laptops)
    assert plan["site"] == {
        "prefix": "2001:db8:abba:10::/62",
        "tunnel_pool": "2001:db8:abba:10::/63",
        "routed_pool": "2001:db8:abba:12::/63",
        "port_base": 51000,
    }
    laptop2, laptop1 = plan["tunnels"]
    assert laptop1["prefix"] == "2001:db8:abba:11::/64"
    assert laptop1["gateway_address"] == "2001:db8:abba:11::100/64"
    assert laptop1["laptop_ip"] == "2001:db8:abba:11:ffff:ffff:ffff:ffff"
    assert (laptop1["port"], laptop1["interface"]) == (443, "road-warrior")
    assert laptop1["routed_networks"] == ["2001:db8:abba:13::/64"]
    assert (laptop2["prefix"], laptop2["port"], laptop2["interface"]) == ("2001:db8:abba:10::/64", 51000, "0")
    assert laptop2["routed_networks"] == ["2001:db8:abba:12::/64"]


def test_plan_output_is_plain_json_data():
    plan = plan_tunnels(SITE, (laptop("laptop1", "3", routed_networks=("auto", "2001:db8:abba:3000::/56")),))

    def walk(value):
        # Exact types, not isinstance(): a subclass (a tagged or unsafe str, say) is not plain data.
        kind = type(value)
        assert kind in (dict, list, str, int, bool), value
        if kind is dict:
            for key, item in value.items():
                key_kind = type(key)
                assert key_kind is str, key
                walk(item)
        elif kind is list:
            for item in value:
                walk(item)

    walk(plan)
    assert json.loads(json.dumps(plan)) == plan


def test_plan_does_not_change_its_input():
    site = {"prefix": SITE_PREFIX}
    laptops = [laptop("laptop1", "3", routed_networks=["auto"]), laptop("laptop2", 1)]
    ledger = [
        {"prefix": "2001:db8:abba:1002::/64", "use": "tunnel", "laptop": "old", "tunnel_id": 2, "state": "present"}
    ]
    before = copy.deepcopy((site, laptops, ledger))
    plan_tunnels(site, laptops, ledger)
    assert (site, laptops, ledger) == before


# --- plan_tunnels: refusals ------------------------------------------------------------------

SITE_REFUSALS = [
    (["2001:db8:abba::/48"], "tunnel_plan: site must be a dict; got list"),
    ({}, "tunnel_plan: site has no prefix"),
    ({"prefix": None}, "tunnel_plan: site has no prefix"),
    (
        {"prefix": SITE_PREFIX, "tunel_pool": "2001:db8:abba:1000::/52"},
        (
            "tunnel_plan: site has unknown key 'tunel_pool'; known keys are prefix, tunnel_pool, routed_pool, "
            "port_base, gateway_host, laptop_host, interface_prefix, mode"
        ),
    ),
    ({"prefix": "abba"}, "tunnel_plan: site prefix 'abba' is not an IPv6 network in CIDR form"),
    ({"prefix": 48}, "tunnel_plan: site prefix 48 is not an IPv6 network in CIDR form"),
    ({"prefix": "192.0.2.0/24"}, "tunnel_plan: site prefix '192.0.2.0/24' is IPv4; only IPv6 is tunnelled"),
    (
        {"prefix": "2001:db8:abba::1/48"},
        "tunnel_plan: site prefix '2001:db8:abba::1/48' has host bits set; did you mean 2001:db8:abba::/48?",
    ),
    (
        {"prefix": "2001:db8:abba:1::/64"},
        "tunnel_plan: site prefix 2001:db8:abba:1::/64 is too long; it must be shorter than /64 to hold /64 tunnels",
    ),
    (
        {"prefix": "2001:db8:abba::1/128"},
        "tunnel_plan: site prefix 2001:db8:abba::1/128 is too long; it must be shorter than /64 to hold /64 tunnels",
    ),
    (
        {"prefix": "2001:db8:abba:10::/62"},
        (
            "tunnel_plan: site prefix 2001:db8:abba:10::/62 is too long for the default pools (/60 or shorter); "
            "set tunnel_pool"
        ),
    ),
    (
        {"prefix": "2001:db8:abba:10::/62", "tunnel_pool": "2001:db8:abba:10::/63"},
        (
            "tunnel_plan: site prefix 2001:db8:abba:10::/62 is too long for the default pools (/60 or shorter); "
            "set routed_pool"
        ),
    ),
    (
        {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:ffff::/52"},
        "tunnel_plan: site tunnel_pool 2001:db8:ffff::/52 is not inside the site prefix 2001:db8:abba::/48",
    ),
    (
        {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:abba::/47"},
        "tunnel_plan: site tunnel_pool 2001:db8:abba::/47 is not inside the site prefix 2001:db8:abba::/48",
    ),
    (
        {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:abba:1000::/65"},
        "tunnel_plan: site tunnel_pool 2001:db8:abba:1000::/65 is too long; a pool must be /64 or shorter",
    ),
    (
        {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:abba:1000::1/52"},
        (
            "tunnel_plan: site tunnel_pool '2001:db8:abba:1000::1/52' has host bits set; "
            "did you mean 2001:db8:abba:1000::/52?"
        ),
    ),
    (
        {"prefix": SITE_PREFIX, "routed_pool": "10.0.0.0/8"},
        "tunnel_plan: site routed_pool '10.0.0.0/8' is IPv4; only IPv6 is tunnelled",
    ),
    (
        {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:abba:2000::/56"},
        "tunnel_plan: site routed_pool 2001:db8:abba:2000::/52 overlaps tunnel_pool 2001:db8:abba:2000::/56",
    ),
    (
        {"prefix": SITE_PREFIX, "routed_pool": "2001:db8:abba::/48"},
        "tunnel_plan: site routed_pool 2001:db8:abba::/48 overlaps tunnel_pool 2001:db8:abba:1000::/52",
    ),
    ({"prefix": SITE_PREFIX, "port_base": "x"}, "tunnel_plan: site port_base 'x' is not an integer"),
    ({"prefix": SITE_PREFIX, "port_base": True}, "tunnel_plan: site port_base True is not an integer"),
    ({"prefix": SITE_PREFIX, "port_base": 0}, "tunnel_plan: site port_base 0 is outside 1..65535"),
    ({"prefix": SITE_PREFIX, "port_base": 65536}, "tunnel_plan: site port_base 65536 is outside 1..65535"),
    (
        {"prefix": SITE_PREFIX, "gateway_host": 0},
        "tunnel_plan: site gateway_host 0 is the subnet-router anycast address; use 1..18446744073709551615",
    ),
    (
        {"prefix": SITE_PREFIX, "laptop_host": "0"},
        "tunnel_plan: site laptop_host 0 is the subnet-router anycast address; use 1..18446744073709551615",
    ),
    (
        {"prefix": SITE_PREFIX, "laptop_host": 2**64},
        "tunnel_plan: site laptop_host 18446744073709551616 is outside 1..18446744073709551615",
    ),
    (
        {"prefix": SITE_PREFIX, "gateway_host": -1},
        "tunnel_plan: site gateway_host -1 is outside 1..18446744073709551615",
    ),
    ({"prefix": SITE_PREFIX, "gateway_host": 1.0}, "tunnel_plan: site gateway_host 1.0 is not an integer"),
    (
        {"prefix": SITE_PREFIX, "gateway_host": 2},
        "tunnel_plan: site gateway_host and laptop_host are both 2; they must differ",
    ),
    (
        {"prefix": SITE_PREFIX, "gateway_host": 7, "laptop_host": "7"},
        "tunnel_plan: site gateway_host and laptop_host are both 7; they must differ",
    ),
    ({"prefix": SITE_PREFIX, "interface_prefix": 5}, "tunnel_plan: site interface_prefix 5 is not a string"),
    (
        {"prefix": SITE_PREFIX, "interface_prefix": "tun nel"},
        "tunnel_plan: site interface_prefix 'tun nel' may only contain letters, digits, '_' and '-'",
    ),
    (
        {"prefix": SITE_PREFIX, "interface_prefix": "-tun"},
        "tunnel_plan: site interface_prefix '-tun' must start with a letter or digit",
    ),
    (
        {"prefix": SITE_PREFIX, "interface_prefix": "abcdefghijklmno"},
        "tunnel_plan: site interface_prefix 'abcdefghijklmno' leaves no room for the id in 15 characters",
    ),
]


@pytest.mark.parametrize(("site", "message"), SITE_REFUSALS)
def test_plan_refuses_site(site, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(site, [laptop("laptop1", 0)])


LAPTOP_REFUSALS = [
    ("laptop1", "tunnel_plan: laptops must be a list; got str"),
    (None, "tunnel_plan: laptops must be a list; got None"),
    ({"name": "laptop1"}, "tunnel_plan: laptops must be a list; got dict"),
    (["laptop1"], "tunnel_plan: laptops[0] must be a dict; got str"),
    ([laptop("laptop1", 0), None], "tunnel_plan: laptops[1] must be a dict; got None"),
    ([{"tunnel_id": 0}], "tunnel_plan: laptops[0] has no name"),
    ([laptop("", 0)], "tunnel_plan: laptops[0]: name '' must be a non-empty string"),
    ([laptop(7, 0)], "tunnel_plan: laptops[0]: name 7 must be a non-empty string"),
    (
        [laptop("laptop1", 0), laptop("laptop2", 1), laptop("laptop1", 2)],
        "tunnel_plan: laptop 'laptop1' is listed twice (laptops[0] and laptops[2])",
    ),
    (
        [laptop("laptop1", 0), laptop("laptop2", 1), {"name": "laptop3"}],
        "tunnel_plan: laptop 'laptop3' has no tunnel_id; the lowest free id is 2",
    ),
    (
        [{"name": "laptop3"}, laptop("laptop1", 0), laptop("laptop2", 2, state="absent")],
        "tunnel_plan: laptop 'laptop3' has no tunnel_id; the lowest free id is 1",
    ),
    ([laptop("laptop1", None)], "tunnel_plan: laptop 'laptop1' has no tunnel_id; the lowest free id is 0"),
    ([laptop("laptop1", "x")], "tunnel_plan: laptop 'laptop1': tunnel_id 'x' is not an integer"),
    ([laptop("laptop1", "")], "tunnel_plan: laptop 'laptop1': tunnel_id '' is not an integer"),
    ([laptop("laptop1", 1.5)], "tunnel_plan: laptop 'laptop1': tunnel_id 1.5 is not an integer"),
    ([laptop("laptop1", True)], "tunnel_plan: laptop 'laptop1': tunnel_id True is not an integer"),
    ([laptop("laptop1", -1)], "tunnel_plan: laptop 'laptop1': tunnel_id -1 is negative"),
    ([laptop("laptop1", "-4")], "tunnel_plan: laptop 'laptop1': tunnel_id -4 is negative"),
    (
        [laptop("laptop1", 4096)],
        (
            "tunnel_plan: laptop 'laptop1': tunnel_id 4096 is outside the tunnel pool 2001:db8:abba:1000::/52 "
            "(ids 0..4095)"
        ),
    ),
    (
        [laptop("laptop1", 3), laptop("laptop2", 3)],
        "tunnel_plan: laptop 'laptop2': tunnel_id 3 is already used by 'laptop1'",
    ),
    (
        [laptop("laptop1", 3, state="absent"), laptop("laptop2", "3")],
        "tunnel_plan: laptop 'laptop2': tunnel_id 3 is already used by 'laptop1'",
    ),
    (
        [laptop("laptop1", 0, state="gone")],
        "tunnel_plan: laptop 'laptop1': state 'gone' is not one of 'present', 'absent'",
    ),
    (
        [laptop("laptop1", 0, routed_networks="auto")],
        "tunnel_plan: laptop 'laptop1': routed_networks must be a list; got str",
    ),
    (
        [laptop("laptop1", 0, routed_networks=["automatic"])],
        "tunnel_plan: laptop 'laptop1': routed network 'automatic' is not an IPv6 network in CIDR form",
    ),
    (
        [laptop("laptop1", 0, routed_networks=[64])],
        "tunnel_plan: laptop 'laptop1': routed network 64 is not an IPv6 network in CIDR form",
    ),
    (
        [laptop("laptop1", 0, routed_networks=["192.0.2.0/24"])],
        "tunnel_plan: laptop 'laptop1': routed network '192.0.2.0/24' is IPv4; only IPv6 is tunnelled",
    ),
    (
        [laptop("laptop1", 0, routed_networks=["2001:db8:abba:3000::1/64"])],
        (
            "tunnel_plan: laptop 'laptop1': routed network '2001:db8:abba:3000::1/64' has host bits set; "
            "did you mean 2001:db8:abba:3000::/64?"
        ),
    ),
    (
        [laptop("laptop1", 0, routed_networks=["2001:db8:ffff::/64"])],
        (
            "tunnel_plan: laptop 'laptop1': routed network 2001:db8:ffff::/64 is outside the site prefix "
            "2001:db8:abba::/48"
        ),
    ),
    (
        [laptop("laptop1", 0, routed_networks=["2001:db8:abba:1005::/64"])],
        (
            "tunnel_plan: laptop 'laptop1': routed network 2001:db8:abba:1005::/64 overlaps the tunnel pool "
            "2001:db8:abba:1000::/52"
        ),
    ),
    (
        [laptop("laptop1", 0, routed_networks=["2001:db8:abba::/48"])],
        (
            "tunnel_plan: laptop 'laptop1': routed network 2001:db8:abba::/48 overlaps the tunnel pool "
            "2001:db8:abba:1000::/52"
        ),
    ),
    (
        [
            laptop("laptop2", 1, routed_networks=["2001:db8:abba:3010::/64"]),
            laptop("laptop1", 0, routed_networks=["2001:db8:abba:3000::/56"]),
        ],
        (
            "tunnel_plan: laptop 'laptop2': routed network 2001:db8:abba:3010::/64 overlaps routed network "
            "2001:db8:abba:3000::/56 of laptop 'laptop1'"
        ),
    ),
    (
        [
            laptop("laptop1", 0, routed_networks=["auto"]),
            laptop("laptop2", 1, routed_networks=["2001:db8:abba:2000::/64"]),
        ],
        (
            "tunnel_plan: laptop 'laptop2': routed network 2001:db8:abba:2000::/64 overlaps routed network "
            "2001:db8:abba:2000::/64 of laptop 'laptop1'"
        ),
    ),
    (
        [laptop("laptop1", 0, routed_networks=["auto", "auto"])],
        (
            "tunnel_plan: laptop 'laptop1': routed network 2001:db8:abba:2000::/64 overlaps its own routed network "
            "2001:db8:abba:2000::/64"
        ),
    ),
    (
        [laptop("laptop1", 0, port="x")],
        "tunnel_plan: laptop 'laptop1': port 'x' is not an integer",
    ),
    ([laptop("laptop1", 0, port=0)], "tunnel_plan: laptop 'laptop1': port 0 is outside 1..65535"),
    ([laptop("laptop1", 0, port=65536)], "tunnel_plan: laptop 'laptop1': port 65536 is outside 1..65535"),
    (
        [laptop("laptop1", 0), laptop("laptop2", 1, port=1194)],
        "tunnel_plan: laptop 'laptop2': port 1194 is already used by 'laptop1'",
    ),
    (
        [laptop("laptop1", 5, port="1195"), laptop("laptop2", 1)],
        "tunnel_plan: laptop 'laptop2': port 1195 is already used by 'laptop1'",
    ),
    (
        [laptop("laptop1", 0, interface="averyveryverylongname")],
        "tunnel_plan: laptop 'laptop1': interface 'averyveryverylongname' is longer than 15 characters",
    ),
    (
        [laptop("laptop1", 0, interface="tun 0")],
        "tunnel_plan: laptop 'laptop1': interface 'tun 0' may only contain letters, digits, '_' and '-'",
    ),
    (
        [laptop("laptop1", 0, interface="tün0")],
        "tunnel_plan: laptop 'laptop1': interface 'tün0' may only contain letters, digits, '_' and '-'",
    ),
    (
        [laptop("laptop1", 0, interface="_tun0")],
        "tunnel_plan: laptop 'laptop1': interface '_tun0' must start with a letter or digit",
    ),
    ([laptop("laptop1", 0, interface="")], "tunnel_plan: laptop 'laptop1': interface '' is empty"),
    ([laptop("laptop1", 0, interface=5)], "tunnel_plan: laptop 'laptop1': interface 5 is not a string"),
    (
        [laptop("laptop1", 0), laptop("laptop2", 1, interface="sixt0")],
        "tunnel_plan: laptop 'laptop2': interface 'sixt0' is already used by 'laptop1'",
    ),
]


@pytest.mark.parametrize(("laptops", "message"), LAPTOP_REFUSALS)
def test_plan_refuses_laptops(laptops, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(SITE, laptops)


@pytest.mark.parametrize(
    ("site", "laptops", "message"),
    [
        (
            {"prefix": SITE_PREFIX, "routed_pool": "2001:db8:abba:2000::/56"},
            [laptop("laptop1", 300, routed_networks=["auto"])],
            (
                "tunnel_plan: laptop 'laptop1': routed network 'auto' needs tunnel_id 300 inside the routed pool "
                "2001:db8:abba:2000::/56 (ids 0..255)"
            ),
        ),
        (
            {"prefix": SITE_PREFIX, "port_base": 65000},
            [laptop("laptop1", 600)],
            "tunnel_plan: laptop 'laptop1': port 65600 (port_base 65000 + tunnel_id 600) is outside 1..65535",
        ),
        (
            {"prefix": SITE_PREFIX, "interface_prefix": "abcdefghijklmn"},
            [laptop("laptop1", 9), laptop("laptop2", 10)],
            (
                "tunnel_plan: laptop 'laptop2': interface 'abcdefghijklmn10' (interface_prefix 'abcdefghijklmn' + "
                "tunnel_id 10) is longer than 15 characters"
            ),
        ),
        (
            {"prefix": "2001:db8:abba:10::/62", "tunnel_pool": "2001:db8:abba:10::/63", "routed_pool": None},
            [laptop("laptop1", 0)],
            (
                "tunnel_plan: site prefix 2001:db8:abba:10::/62 is too long for the default pools (/60 or shorter); "
                "set routed_pool"
            ),
        ),
        (
            {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:abba:1000::/63"},
            [laptop("laptop1", 0), laptop("laptop2", 1), {"name": "laptop3"}],
            (
                "tunnel_plan: laptop 'laptop3' has no tunnel_id; the tunnel pool 2001:db8:abba:1000::/63 is full "
                "(ids 0..1)"
            ),
        ),
    ],
)
def test_plan_refuses_laptops_against_site(site, laptops, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(site, laptops)


# --- the ledger ------------------------------------------------------------------------------


def ledger_row(prefix: str, use: str, name: str, tunnel_id: object, state: str = "present") -> dict:
    return {"prefix": prefix, "use": use, "laptop": name, "tunnel_id": tunnel_id, "state": state}


OLD_LEDGER = [
    ledger_row("2001:db8:abba:1003::/64", "tunnel", "old", 3),
    ledger_row("2001:db8:abba:2003::/64", "routed", "old", 3),
    ledger_row("2001:db8:abba:3000::/64", "routed", "old", 3),
]


def test_ledger_carries_departed_laptops_as_absent():
    plan = plan_tunnels(SITE, [laptop("laptop1", 0)], ledger=OLD_LEDGER)
    assert [tunnel["name"] for tunnel in plan["tunnels"]] == ["laptop1"]
    assert plan["ledger"] == [
        ledger_row("2001:db8:abba:1000::/64", "tunnel", "laptop1", 0),
        ledger_row("2001:db8:abba:1003::/64", "tunnel", "old", 3, "absent"),
        ledger_row("2001:db8:abba:2003::/64", "routed", "old", 3, "absent"),
        ledger_row("2001:db8:abba:3000::/64", "routed", "old", 3, "absent"),
    ]


def test_ledger_round_trip_changes_nothing():
    laptops = [laptop("laptop1", 0, routed_networks=["auto"]), laptop("laptop2", 7, state="absent")]
    plan = plan_tunnels(SITE, laptops, ledger=OLD_LEDGER)
    assert plan_tunnels(SITE, laptops, ledger=plan["ledger"]) == plan


def test_ledger_rows_of_current_laptops_are_replaced():
    ledger = [ledger_row("2001:db8:abba:1000::/64", "tunnel", "laptop1", 0)]
    plan = plan_tunnels(SITE, [laptop("laptop1", 5), laptop("laptop2", 0)], ledger=ledger)
    assert [(row["laptop"], row["tunnel_id"]) for row in plan["ledger"]] == [("laptop2", 0), ("laptop1", 5)]


def test_ledger_lets_a_departed_laptop_come_back():
    plan = plan_tunnels(SITE, [laptop("old", 3, routed_networks=["auto", "2001:db8:abba:3000::/64"])], OLD_LEDGER)
    assert plan["ledger"] == [{**row, "state": "present"} for row in OLD_LEDGER]


def test_ledger_rows_copied_twice_reserve_once():
    plan = plan_tunnels(SITE, [], ledger=OLD_LEDGER + OLD_LEDGER)
    assert len(plan["ledger"]) == len(OLD_LEDGER)


def test_ledger_reservation_is_considered_for_the_lowest_free_id():
    laptops = [laptop("laptop0", 0), laptop("laptop1", 1), laptop("laptop2", 2), {"name": "new"}]
    with pytest.raises(
        TunnelPlanError, match=exactly("tunnel_plan: laptop 'new' has no tunnel_id; the lowest free id is 4")
    ):
        plan_tunnels(SITE, laptops, ledger=OLD_LEDGER)


LEDGER_REFUSALS = [
    ([laptop("laptop1", 0)], "old rows", "tunnel_plan: ledger must be a list; got str"),
    ([laptop("laptop1", 0)], ["row"], "tunnel_plan: ledger[0] must be a dict; got str"),
    (
        [laptop("laptop1", 0)],
        [{"prefix": "2001:db8:abba:1003::/64", "use": "tunnel", "tunnel_id": 3}],
        "tunnel_plan: ledger[0] has no laptop name",
    ),
    (
        [laptop("laptop1", 0)],
        [ledger_row("2001:db8:abba:1003::/64", "vpn", "old", 3)],
        "tunnel_plan: ledger[0] (laptop 'old'): use 'vpn' is not one of 'tunnel', 'routed'",
    ),
    (
        [laptop("laptop1", 0)],
        [ledger_row("2001:db8:abba:1003::/64", "tunnel", "old", "three")],
        "tunnel_plan: ledger[0] (laptop 'old'): tunnel_id 'three' is not a non-negative integer",
    ),
    (
        [laptop("laptop1", 0)],
        [ledger_row("2001:db8:abba:1003::", "tunnel", "old", 3)],
        "tunnel_plan: ledger[0] (laptop 'old'): prefix '2001:db8:abba:1003::' is not an IPv6 network in CIDR form",
    ),
    (
        [laptop("laptop1", 0), laptop("laptop2", 3)],
        OLD_LEDGER,
        "tunnel_plan: laptop 'laptop2': tunnel_id 3 is reserved in the ledger for 'old'",
    ),
    (
        [laptop("laptop1", 0, routed_networks=["2001:db8:abba:3000::/64"])],
        OLD_LEDGER,
        "tunnel_plan: laptop 'laptop1': routed network 2001:db8:abba:3000::/64 is reserved in the ledger for 'old'",
    ),
    (
        [laptop("laptop1", 0, routed_networks=["2001:db8:abba:3000::/56"])],
        OLD_LEDGER,
        (
            "tunnel_plan: laptop 'laptop1': routed network 2001:db8:abba:3000::/56 overlaps 2001:db8:abba:3000::/64, "
            "reserved in the ledger for 'old'"
        ),
    ),
    (
        [laptop("laptop1", 4, routed_networks=["2001:db8:abba:2003::/64"])],
        OLD_LEDGER,
        "tunnel_plan: laptop 'laptop1': routed network 2001:db8:abba:2003::/64 is reserved in the ledger for 'old'",
    ),
    (
        [laptop("laptop1", 0)],
        [
            ledger_row("2001:db8:abba:1003::/64", "tunnel", "old1", 3),
            ledger_row("2001:db8:abba:1003::/64", "tunnel", "old2", 3),
        ],
        "tunnel_plan: ledger: tunnel_id 3 is reserved for both 'old1' and 'old2'",
    ),
    (
        [laptop("laptop1", 0)],
        [
            ledger_row("2001:db8:abba:3000::/64", "routed", "old1", 3),
            ledger_row("2001:db8:abba:3000::/60", "routed", "old2", 4),
        ],
        "tunnel_plan: ledger: 2001:db8:abba:3000::/60 of 'old2' overlaps 2001:db8:abba:3000::/64 of 'old1'",
    ),
]


@pytest.mark.parametrize(("laptops", "ledger", "message"), LEDGER_REFUSALS)
def test_plan_refuses_ledger_conflicts(laptops, ledger, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(SITE, laptops, ledger=ledger)


def test_ledger_reserves_tunnel_prefixes_after_the_pool_moved():
    ledger = [ledger_row("2001:db8:abba:ff00::/64", "tunnel", "old", 9)]
    site = {"prefix": SITE_PREFIX, "tunnel_pool": "2001:db8:abba:ff00::/56"}
    message = "tunnel_plan: laptop 'laptop1': tunnel prefix 2001:db8:abba:ff00::/64 is reserved in the ledger for 'old'"
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(site, [laptop("laptop1", 0)], ledger=ledger)


# --- without netaddr -------------------------------------------------------------------------


def test_functions_name_the_missing_library(monkeypatch):
    monkeypatch.setattr(planner, "HAS_NETADDR", False)
    with pytest.raises(ImportError, match=exactly("tunnel_plan: the netaddr Python library is required")):
        plan_tunnels(SITE, [])
    with pytest.raises(ImportError, match=exactly("tunnel_prefix: the netaddr Python library is required")):
        tunnel_prefix(SITE_PREFIX, 0)


def test_module_imports_without_netaddr(monkeypatch):
    # None in sys.modules makes "import netaddr" raise ImportError.
    monkeypatch.setitem(sys.modules, "netaddr", None)
    monkeypatch.setitem(sys.modules, "netaddr.strategy", None)
    spec = importlib.util.spec_from_file_location("planner_without_netaddr", planner.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.HAS_NETADDR is False
    assert issubclass(module.TunnelPlanError, ValueError)


# --- properties ------------------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
# Explicit routed networks are drawn from part 3 of the site, away from both default pools.
EXPLICIT_ROUTED_BASE = 0x3000


@st.composite
def inventories(draw, max_size: int = 25) -> list[dict]:
    """Valid inventories: unique names, ids and explicit networks; some overrides, some absent laptops."""
    size = draw(st.integers(min_value=0, max_value=max_size))
    names = draw(st.lists(NAMES, min_size=size, max_size=size, unique=True))
    ids = draw(st.lists(st.integers(min_value=0, max_value=4095), min_size=size, max_size=size, unique=True))
    networks = draw(st.lists(st.integers(min_value=0, max_value=0xFFF), min_size=size, max_size=size, unique=True))
    laptops = []
    for name, tunnel_id, network in zip(names, ids, networks, strict=True):
        entry = {"name": name, "tunnel_id": draw(st.sampled_from([tunnel_id, str(tunnel_id)]))}
        routed = []
        if draw(st.integers(min_value=0, max_value=9)) < 3:
            routed.append("auto")
        if draw(st.integers(min_value=0, max_value=9)) < 2:
            routed.append(f"2001:db8:abba:{EXPLICIT_ROUTED_BASE + network:x}::/64")
        if routed:
            entry["routed_networks"] = routed
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            entry["state"] = "absent"
        # Overrides live outside the default ranges (ports 1194..5289, names sixtN), so they cannot clash.
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            entry["port"] = 20000 + tunnel_id
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            entry["interface"] = f"vpn{tunnel_id}"
        laptops.append(entry)
    return laptops


@st.composite
def clashing_inventories(draw) -> list[dict]:
    """Inventories drawn from tiny ranges, so ids, ports, interfaces and networks often collide."""
    small_networks = st.sampled_from(
        [
            "auto",
            "2001:db8:abba:2001::/64",
            "2001:db8:abba:2000::/63",
            "2001:db8:abba:3000::/56",
            "2001:db8:abba:3001::/64",
            "2001:db8:abba:3100::/64",
            "2001:db8:abba:4000::/52",
        ]
    )
    laptop_strategy = st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c", "d", "e", "f"]), "tunnel_id": st.integers(min_value=0, max_value=7)},
        optional={
            "routed_networks": st.lists(small_networks, max_size=3),
            "state": st.sampled_from(["present", "absent"]),
            "port": st.integers(min_value=1194, max_value=1201),
            "interface": st.sampled_from(["sixt0", "sixt1", "sixt2", "wg0"]),
        },
    )
    # Unique names: duplicate names are refused first and would hide the clashes of interest.
    return draw(st.lists(laptop_strategy, max_size=6, unique_by=lambda entry: entry["name"]))


def assert_nothing_shared(plan: dict, laptops: list[dict]) -> None:
    site = ipaddress.ip_network(SITE_PREFIX)
    tunnels = plan["tunnels"]
    assert len(tunnels) == len(laptops)
    for key in ("name", "tunnel_id", "prefix", "port", "interface", "gateway_ip", "laptop_ip"):
        values = [tunnel[key] for tunnel in tunnels]
        assert len(set(values)) == len(values), key
    networks = [ipaddress.ip_network(tunnel["prefix"]) for tunnel in tunnels]
    networks += [ipaddress.ip_network(network) for tunnel in tunnels for network in tunnel["routed_networks"]]
    for first, second in itertools.combinations(networks, 2):
        assert not first.overlaps(second), (first, second)
    for network in networks:
        assert network.subnet_of(site), network
    for tunnel in tunnels:
        prefix = ipaddress.ip_network(tunnel["prefix"])
        assert prefix.prefixlen == 64
        assert prefix == ipaddress.ip_network(tunnel_prefix(SITE_PREFIX, tunnel["tunnel_id"]))
        for key in ("gateway_ip", "laptop_ip"):
            address = ipaddress.ip_address(tunnel[key])
            assert address in prefix and address in site
            assert address != prefix.network_address
            assert tunnel[key] == address.compressed
        assert tunnel["gateway_address"] == f"{tunnel['gateway_ip']}/64"
        assert tunnel["laptop_address"] == f"{tunnel['laptop_ip']}/64"
    assert len(plan["ledger"]) == len(networks)


@given(inventories())
def test_property_no_laptops_share_anything(laptops):
    assert_nothing_shared(plan_tunnels(SITE, laptops), laptops)


@given(clashing_inventories())
def test_property_clashes_are_refused_never_planned(laptops):
    try:
        plan = plan_tunnels(SITE, laptops)
    except TunnelPlanError as exc:
        assert str(exc).startswith("tunnel_plan: ")
    else:
        assert_nothing_shared(plan, laptops)


def shuffled_part(data: st.DataObject, laptops: list[dict]) -> list[dict]:
    """Any subset of the laptops, in any order."""
    if not laptops:
        return []
    part = data.draw(st.lists(st.sampled_from(laptops), unique_by=lambda entry: entry["name"]))
    return data.draw(st.permutations(part))


@given(inventories(max_size=30), st.data())
def test_property_entries_do_not_move_when_others_change(laptops, data):
    """Two inventories that share some laptops, each in its own order: shared laptops get identical plans."""
    before = shuffled_part(data, laptops)
    after = shuffled_part(data, laptops)
    plan_before = {tunnel["name"]: tunnel for tunnel in plan_tunnels(SITE, before)["tunnels"]}
    plan_after = {tunnel["name"]: tunnel for tunnel in plan_tunnels(SITE, after)["tunnels"]}
    for name in plan_before.keys() & plan_after.keys():
        assert plan_before[name] == plan_after[name]


@given(inventories(), st.data())
def test_property_order_of_the_inventory_does_not_matter(laptops, data):
    assert plan_tunnels(SITE, data.draw(st.permutations(laptops))) == plan_tunnels(SITE, laptops)


@given(inventories(max_size=30), st.data())
def test_property_ledger_keeps_departed_laptops_reserved(laptops, data):
    full_plan = plan_tunnels(SITE, laptops)
    staying = shuffled_part(data, laptops)
    plan = plan_tunnels(SITE, staying, ledger=full_plan["ledger"])
    staying_names = {entry["name"] for entry in staying}
    # Same prefixes for everybody, staying or not; only the departed ones turn absent.
    assert [row["prefix"] for row in plan["ledger"]] == [row["prefix"] for row in full_plan["ledger"]]
    for old_row, new_row in zip(full_plan["ledger"], plan["ledger"], strict=True):
        expected_state = old_row["state"] if old_row["laptop"] in staying_names else "absent"
        assert new_row == {**old_row, "state": expected_state}
    by_name = {tunnel["name"]: tunnel for tunnel in full_plan["tunnels"]}
    for tunnel in plan["tunnels"]:
        assert tunnel == by_name[tunnel["name"]]
    departed_ids = {row["tunnel_id"] for row in full_plan["ledger"] if row["laptop"] not in staying_names}
    for tunnel_id in departed_ids:
        # The newcomer's name is longer than any drawn name, so only its id can clash.
        newcomer = {"name": "newcomer-with-a-long-name", "tunnel_id": tunnel_id}
        with pytest.raises(TunnelPlanError, match="is reserved in the ledger for"):
            plan_tunnels(SITE, [*staying, newcomer], plan["ledger"])


@given(
    st.integers(min_value=0, max_value=2**128 - 1),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=0, max_value=4095),
)
def test_property_tunnel_prefix_agrees_with_ipaddress(address, prefixlen, tunnel_id):
    site = ipaddress.IPv6Network((address, prefixlen), strict=False)
    pool = next(itertools.islice(site.subnets(prefixlen_diff=4), 1, None))
    tunnel_count = 2 ** (64 - pool.prefixlen)
    if tunnel_id >= tunnel_count:
        with pytest.raises(TunnelPlanError, match="is outside the tunnel pool"):
            tunnel_prefix(str(site), tunnel_id)
        return
    expected = next(itertools.islice(pool.subnets(new_prefix=64), tunnel_id, None))
    assert tunnel_prefix(site.compressed, tunnel_id) == expected.compressed


# --- a laptop's connection: auth, device, transport, MTU, remotes, proxy ------------------------


def test_connection_fields_are_derived_once():
    laptops = [
        laptop("laptop1", 0, remotes=["a.example", {"host": "b.example", "port": "443"}]),
        laptop("laptop2", 1, auth="static_key", dev_type="tun", proto="tcp6", tun_mtu="1400", managed="false"),
        laptop("laptop3", 2, proto="tcp", http_proxy={"host": "proxy.example", "port": 3128}, export_dir="/x"),
    ]
    plan = plan_tunnels(SITE, laptops, gateway_remotes=["gw.example"], export_dir="/exports")
    one, two, three = plan["tunnels"]
    assert one["remotes"] == [{"host": "a.example", "port": 1194}, {"host": "b.example", "port": 443}]
    assert one["remote_ports"] == [1194, 443]
    assert (one["transport"], one["gateway_proto"], one["laptop_proto"]) == ("udp", "udp6", "udp")
    assert (two["auth"], two["dev_type"], two["tun_mtu"], two["managed"]) == ("static_key", "tun", 1400, False)
    assert (two["transport"], two["gateway_proto"], two["laptop_proto"]) == ("tcp", "tcp6-server", "tcp6-client")
    assert two["remotes"] == [{"host": "gw.example", "port": 1195}]
    assert three["http_proxy"] == {"host": "proxy.example", "port": 3128}
    assert three["remote_ports"] == [3128]
    assert (one["export_dir"], three["export_dir"]) == ("/exports", "/x")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"auth": "psk"}, "laptop 'laptop1': auth 'psk' is not one of 'peer_fingerprint', 'static_key'"),
        ({"dev_type": "bridge"}, "laptop 'laptop1': dev_type 'bridge' is not one of 'tap', 'tun'"),
        ({"proto": "sctp"}, "laptop 'laptop1': proto 'sctp' is not one of 'udp', 'udp6', 'tcp', 'tcp6'"),
        ({"managed": "maybe"}, "laptop 'laptop1': managed 'maybe' is not true or false"),
        ({"verify_traffic": 2}, "laptop 'laptop1': verify_traffic 2 is not true or false"),
        ({"tun_mtu": 1279}, "laptop 'laptop1': tun_mtu 1279 is not an integer in 1280..1500"),
        ({"tun_mtu": "big"}, "laptop 'laptop1': tun_mtu 'big' is not an integer in 1280..1500"),
        ({"remotes": []}, "laptop 'laptop1': remotes [] must be a non-empty list"),
        ({"remotes": "gw"}, "laptop 'laptop1': remotes 'gw' must be a non-empty list"),
        ({"remotes": [{"port": 1}]}, "laptop 'laptop1': remote {'port': 1} has no host name or address"),
        ({"remotes": [{"host": "gw", "port": 0}]}, "laptop 'laptop1': remote 'gw' port 0 is not a port (1..65535)"),
        ({"http_proxy": "proxy"}, "laptop 'laptop1': http_proxy 'proxy' must be {host, port}"),
        ({"http_proxy": {"port": 3128}, "proto": "tcp"}, "laptop 'laptop1': http_proxy {'port': 3128} must be"),
        ({"http_proxy": {"host": "p", "port": 3128}}, "http_proxy 'p' needs proto tcp or tcp6"),
        ({"http_proxy": {"host": "p", "port": "x"}, "proto": "tcp"}, "http_proxy port 'x' is not a port"),
        ({"export_dir": 5}, "laptop 'laptop1': export_dir 5 is not a path"),
    ],
)
def test_connection_refusals(settings, message):
    with pytest.raises(TunnelPlanError, match=re.escape(message)):
        plan_tunnels(SITE, [laptop("laptop1", 0, **settings)], gateway_remotes=["gw"])


def test_empty_gateway_remotes_are_refused_for_the_laptops_that_rely_on_them():
    with pytest.raises(TunnelPlanError, match=re.escape("laptop 'laptop2' (no remotes of its own, so the gateway's")):
        plan_tunnels(SITE, [laptop("laptop1", 0, remotes=["gw"]), laptop("laptop2", 1)], gateway_remotes=[])
    plan = plan_tunnels(SITE, [laptop("laptop1", 0, remotes=["gw"])], gateway_remotes=[])
    assert plan["tunnels"][0]["remotes"] == [{"host": "gw", "port": 1194}]


# --- server mode -----------------------------------------------------------------------------

SERVER_SITE = {"prefix": SITE_PREFIX, "mode": "server"}


def test_server_mode_keeps_every_address_and_ledger_row():
    laptops = [
        laptop("laptop1", 0, routed_networks=["auto"]),
        laptop("laptop2", 1, auth="static_key"),
        laptop("laptop3", 2, proto="tcp"),
        laptop("laptop4", 3, dev_type="tap"),
    ]
    p2p, server = plan_tunnels(SITE, laptops), plan_tunnels(SERVER_SITE, laptops)
    assert server["ledger"] == p2p["ledger"]
    kept = ("name", "tunnel_id", "prefix", "gateway_address", "laptop_address", "routed_networks", "interface")
    assert [{key: t[key] for key in kept} for t in server["tunnels"]] == [
        {key: t[key] for key in kept} for t in p2p["tunnels"]
    ]
    by_name = {t["name"]: t for t in server["tunnels"]}
    assert by_name["laptop1"]["mode"] == "server"
    assert by_name["laptop1"]["dev_type"] == "tun"
    assert by_name["laptop1"]["port"] == 1194
    assert by_name["laptop1"]["gateway_instance"] == "sixtunnel_server"
    assert by_name["laptop1"]["gateway_interface"] == "sixtsrv"
    assert by_name["laptop1"]["gateway_unit"] == "openvpn-server@sixtunnel_server.service"
    assert by_name["laptop1"]["gateway_laptop_dir"] == "/etc/openvpn/server/sixtunnel_server/unmanaged/laptop1"
    assert by_name["laptop3"]["gateway_instance"] == "sixtunnel_server-tcp"
    assert by_name["laptop3"]["gateway_interface"] == "sixtsrv-tcp"
    assert by_name["laptop3"]["port"] == 1194
    assert by_name["laptop3"]["gateway_proto"] == "tcp6-server"
    # What the p2p layout or the other transport left behind is named, so the gateway can remove it.
    assert [i["instance"] for i in by_name["laptop1"]["gateway_old_instances"]] == [
        "sixtunnel-laptop1",
        "sixtunnel_server-tcp",
    ]
    assert by_name["laptop2"]["gateway_old_instances"] == []
    # Laptops that cannot join keep what p2p mode gives them.
    for name in ("laptop2", "laptop4"):
        assert by_name[name]["mode"] == "p2p"
        assert by_name[name] == {**p2p["tunnels"][[t["name"] for t in p2p["tunnels"]].index(name)], "mode": "p2p"}
    assert by_name["laptop2"]["dev_type"] == "tap"
    # The ledger says which prefix is used for what; the mode is not its business (switching rewrites nothing).
    assert server["site"] == p2p["site"]


SERVER_REFUSALS = [
    (
        [laptop("laptop1", 0, port=2000)],
        (
            "tunnel_plan: laptop 'laptop1': port 2000 cannot be chosen per laptop in server mode (every laptop shares "
            "the server instance's port, the site's port_base); remove it, or set dev_type tap for a p2p instance"
        ),
    ),
    (
        [laptop("laptop1", 0, tun_mtu=1400)],
        (
            "tunnel_plan: laptop 'laptop1': tun_mtu 1400 cannot be chosen per laptop in server mode (the server "
            "instance has one, 1280); remove it, or set dev_type tap for a p2p instance"
        ),
    ),
    (
        [laptop("laptop1", 1), laptop("laptop2", 0, auth="static_key")],
        "tunnel_plan: laptop 'laptop2': port 1194 is already used by 'the server instance sixtunnel_server'",
    ),
    (
        [laptop("laptop1", 0), laptop("laptop2", 2, dev_type="tap", interface="sixtsrv")],
        "tunnel_plan: laptop 'laptop2': interface 'sixtsrv' is already used by 'the server instance sixtunnel_server'",
    ),
]


@pytest.mark.parametrize(("laptops", "message"), SERVER_REFUSALS)
def test_server_mode_refusals(laptops, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(SERVER_SITE, laptops)


def test_server_mode_refuses_an_interface_prefix_too_long_for_its_device():
    site = {**SERVER_SITE, "interface_prefix": "abcdefghijkl"}
    with pytest.raises(
        TunnelPlanError,
        match=exactly(
            "tunnel_plan: site interface_prefix 'abcdefghijkl' leaves no room for the server instance's device "
            "'abcdefghijklsrv-tcp' (15 characters); shorten it"
        ),
    ):
        plan_tunnels(site, [laptop("laptop1", 0, proto="tcp")])


def test_site_mode_refusal():
    with pytest.raises(TunnelPlanError, match=exactly("tunnel_plan: site mode 'multi' is not one of 'p2p', 'server'")):
        plan_tunnels({**SITE, "mode": "multi"}, [laptop("laptop1", 0)])


def test_a_p2p_laptop_name_must_leave_room_for_its_management_socket():
    # /etc/openvpn/server/sixtunnel-NAME/management.sock: 46 bytes and the name; a Unix socket path holds 107.
    longest, too_long = "a" * 61, "a" * 62
    record = plan_tunnels(SITE, [laptop(longest, 0)])["tunnels"][0]
    assert len(record["gateway_management"]) == 107
    socket_path = f"/etc/openvpn/server/sixtunnel-{too_long}/management.sock"
    with pytest.raises(
        TunnelPlanError,
        match=exactly(
            f"tunnel_plan: laptop '{too_long}': its gateway instance's management socket {socket_path} is 108 bytes "
            "long; a Unix socket path holds at most 107: give the laptop a shorter inventory name"
        ),
    ):
        plan_tunnels(SITE, [laptop(too_long, 0)])
    # In server mode the laptop shares the instance's socket, whatever its name.
    assert plan_tunnels(SERVER_SITE, [laptop(too_long, 0)])["tunnels"][0]["gateway_management"] == (
        "/etc/openvpn/server/sixtunnel_server/management.sock"
    )


# --- control-channel protection --------------------------------------------------------------


def test_control_channel_is_protected_by_default_where_there_is_tls():
    laptops = [
        laptop("laptop1", 0),
        laptop("laptop2", 1, auth="static_key"),
        laptop("laptop3", 2, tls_crypt="false"),
        laptop("laptop4", 3, dev_type="tap"),
    ]
    p2p = {t["name"]: t for t in plan_tunnels(SITE, laptops)["tunnels"]}
    fields = ("tls_crypt", "tls_crypt_option", "gateway_tls_crypt_key")
    assert [p2p[name][key] for name in ("laptop1",) for key in fields] == [
        True,
        "tls-crypt",
        "/etc/openvpn/server/sixtunnel-laptop1/tls-crypt.key",
    ]
    # A static key has no TLS to protect; an opt-out has none either: nothing for the roles to render or carry.
    for name in ("laptop2", "laptop3"):
        assert [p2p[name][key] for key in fields] == [False, "", ""], name

    laptops[2] = laptop("laptop3", 2)
    server = {t["name"]: t for t in plan_tunnels(SERVER_SITE, laptops)["tunnels"]}
    # A laptop of a server instance gets its own client key, made from the instance's server key.
    assert [server["laptop1"][key] for key in fields] == [
        True,
        "tls-crypt-v2",
        "/etc/openvpn/server/sixtunnel_server/tls-crypt-v2/laptop1/tls-crypt-v2-client.key",
    ]
    # A tap laptop keeps a p2p instance beside it, and tls-crypt with it.
    assert [server["laptop4"][key] for key in fields] == [
        True,
        "tls-crypt",
        "/etc/openvpn/server/sixtunnel-laptop4/tls-crypt.key",
    ]
    assert server["laptop2"]["tls_crypt"] is False


@pytest.mark.parametrize(
    ("site", "settings", "message"),
    [
        (
            SITE,
            {"auth": "static_key", "tls_crypt": True},
            (
                "tunnel_plan: laptop 'laptop1': tls_crypt true needs auth peer_fingerprint (a static-key tunnel has "
                "no TLS control channel to protect); remove tls_crypt, or set auth peer_fingerprint"
            ),
        ),
        (SITE, {"tls_crypt": "maybe"}, "tunnel_plan: laptop 'laptop1': tls_crypt 'maybe' is not true or false"),
        (
            SERVER_SITE,
            {"tls_crypt": "no"},
            (
                "tunnel_plan: laptop 'laptop1': tls_crypt false cannot be chosen per laptop in server mode (the "
                "server instance wraps every handshake with tls-crypt-v2); remove it, or set dev_type tap for a p2p "
                "instance"
            ),
        ),
    ],
    ids=["static key", "not a bool", "server mode"],
)
def test_control_channel_refusals(site, settings, message):
    with pytest.raises(TunnelPlanError, match=exactly(message)):
        plan_tunnels(site, [laptop("laptop1", 0, **settings)])


def test_a_tap_laptop_of_a_server_mode_site_may_opt_out():
    (tunnel,) = plan_tunnels(SERVER_SITE, [laptop("laptop1", 0, dev_type="tap", tls_crypt=False)])["tunnels"]
    assert (tunnel["mode"], tunnel["tls_crypt"]) == ("p2p", False)
