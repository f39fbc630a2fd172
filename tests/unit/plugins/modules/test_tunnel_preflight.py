# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_preflight's pieces: who holds a port (ss output), and whether tunnel devices can get IPv6."""

from __future__ import annotations

import os

from ansible_collections.sixtunnel.openvpn.plugins.module_utils._sockets import parse_ss
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_preflight

SS_UDP = """\
UNCONN 0      0                  *:1194             *:*    users:(("openvpn",pid=812,fd=6))
UNCONN 0      0            0.0.0.0:1195       0.0.0.0:*    users:(("python3",pid=99,fd=3))
UNCONN 0      0               [::]:1195          [::]:*    users:(("python3",pid=99,fd=4),("python3",pid=100,fd=4))
UNCONN 0      0      127.0.0.53%lo:53         0.0.0.0:*
"""


def test_parse_ss_gives_every_process_per_port():
    assert parse_ss(SS_UDP) == {
        1194: [("openvpn", 812)],
        1195: [("python3", 99), ("python3", 99), ("python3", 100)],
        53: [],
    }


def make_conf(tmp_path, default_disable_ipv6):
    root = tmp_path / "conf"
    for name in ("all", "default"):
        (root / name).mkdir(parents=True)
        (root / name / "disable_ipv6").write_text("0\n")
    (root / "default" / "disable_ipv6").write_text(f"{default_disable_ipv6}\n")
    return root


def test_ipv6_on_for_new_devices_is_fine(tmp_path):
    assert tunnel_preflight.ipv6_problem(str(make_conf(tmp_path, 0))) is None


def test_ipv6_off_for_new_devices_is_fine_where_the_up_script_can_turn_it_on(tmp_path):
    assert tunnel_preflight.ipv6_problem(str(make_conf(tmp_path, 1))) is None


def test_ipv6_off_for_new_devices_and_read_only_proc_sys_is_refused(tmp_path, monkeypatch):
    root = make_conf(tmp_path, 1)
    monkeypatch.setattr(os, "access", lambda path, mode: not path.endswith("disable_ipv6"))
    problem = tunnel_preflight.ipv6_problem(str(root))
    assert problem is not None and "net.ipv6.conf.default.disable_ipv6=1" in problem and "read-only" in problem


def test_a_kernel_without_ipv6_is_refused(tmp_path):
    problem = tunnel_preflight.ipv6_problem(str(tmp_path / "missing"))
    assert problem is not None and problem.startswith("IPv6 is off in the kernel")
