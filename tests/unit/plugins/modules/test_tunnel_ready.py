# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_ready's verdict on one tunnel end, from a snapshot of units, devices and sockets."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_ready

TUNNEL = {
    "laptop": "laptop1",
    "unit": "openvpn-server@sixtunnel-laptop1.service",
    "device": "sixt1",
    "address": "2001:db8:abba:1001::1/64",
    "port": 1195,
    "transport": "udp",
}
UP = {
    "states": {TUNNEL["unit"]: {"ActiveState": "active", "SubState": "running", "MainPID": "812"}},
    "links": {
        "sixt1": {"ifname": "sixt1", "flags": ["BROADCAST", "UP"], "addr_info": [{"local": "2001:db8:abba:1001::1"}]}
    },
    "sockets": {"udp": {1195: [("openvpn", 812)]}},
}


def changed(path, value):
    seen = copy.deepcopy(UP)
    *keys, last = path
    target = seen
    for key in keys:
        target = target[key]
    target[last] = value
    return seen


def test_an_end_with_its_unit_device_address_and_port_is_up():
    assert tunnel_ready.problems_of(TUNNEL, UP) == []


def test_a_socket_whose_process_ss_cannot_name_counts_as_openvpn():
    assert tunnel_ready.problems_of(TUNNEL, changed(["sockets", "udp", 1195], [])) == []


@pytest.mark.parametrize(
    ("path", "value", "cause"),
    [
        (["states", TUNNEL["unit"], "SubState"], "auto-restart", "is active (auto-restart)"),
        (["links", "sixt1"], None, None),
        (["links", "sixt1", "flags"], ["BROADCAST"], "device sixt1 is down"),
        (["links", "sixt1", "addr_info"], [], "device sixt1 lacks its address 2001:db8:abba:1001::1"),
        (["sockets", "udp"], {}, "UDP port 1195 is not bound"),
        (["sockets", "udp", 1195], [("python3", 99)], "UDP port 1195 is held by python3 (pid 99)"),
    ],
)
def test_each_fault_is_named(path, value, cause):
    seen = changed(path, value)
    if value is None:
        del seen["links"]["sixt1"]
        cause = "device sixt1 does not exist"
    assert cause in "; ".join(tunnel_ready.problems_of(TUNNEL, seen))
