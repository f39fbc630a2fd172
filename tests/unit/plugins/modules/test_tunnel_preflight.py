# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_preflight's pieces: who holds a port (ss output), and whether tunnel devices can get IPv6."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args
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


# --- the OpenVPN version peer-fingerprint needs -------------------------------------------------

FAKE_TOOL = """#!/bin/sh
cat "$(dirname "$0")/$(basename "$0").out"
exit {status}
"""


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """Stand-in commands first on PATH: tools(name, output, status) makes `name` print output and exit status."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Only the stand-ins and the shell: no real openvpn or apt-cache of this machine is seen.
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/bin")

    def make(name, output, status=0):
        (bin_dir / name).write_text(FAKE_TOOL.format(status=status))
        (bin_dir / name).chmod(0o755)
        (bin_dir / f"{name}.out").write_text(output)

    return make


def run_preflight(capsys, tmp_path, **args):
    if "proc_root" not in args:
        args["proc_root"] = str(tmp_path / "conf" if (tmp_path / "conf").exists() else make_conf(tmp_path, 0))
    with patch_module_args({"host": "laptop9", **args}), pytest.raises(SystemExit):
        tunnel_preflight.main()
    return json.loads(capsys.readouterr().out)


def test_openvpn_2_5_is_refused_for_peer_fingerprint_naming_host_version_and_way_out(tools, capsys, tmp_path):
    # Ubuntu 22.04's OpenVPN, which exits 1 after printing its version.
    tools("openvpn", "OpenVPN 2.5.11 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL]\n", status=1)
    result = run_preflight(capsys, tmp_path, peer_fingerprint_laptops=["laptop9"])
    assert result["failed"] is True
    (problem,) = result["problems"]
    assert problem.startswith("laptop9: OpenVPN 2.5.11 is installed, but peer_fingerprint (tunnels of laptop9)")
    assert "needs OpenVPN 2.6 or later; set sixtunnel_auth: static_key for them, or install OpenVPN 2.6+" in problem


def test_the_version_apt_would_install_is_checked_where_openvpn_is_not_installed(tools, capsys, tmp_path):
    tools("apt-cache", "openvpn:\n  Installed: (none)\n  Candidate: 2.5.11-0ubuntu0.22.04.1\n")
    result = run_preflight(capsys, tmp_path, peer_fingerprint_laptops=["laptop9"])
    assert "laptop9: OpenVPN 2.5.11 would be installed, but peer_fingerprint" in result["msg"]
    tools("apt-cache", "openvpn:\n  Installed: (none)\n  Candidate: 2.6.3-1+deb12u3\n")
    assert run_preflight(capsys, tmp_path, peer_fingerprint_laptops=["laptop9"])["problems"] == []


@pytest.mark.parametrize("version", ["2.6.0", "2.6.14", "2.7.8", "3.0"])
def test_openvpn_2_6_and_later_carry_peer_fingerprint(tools, capsys, tmp_path, version):
    tools("openvpn", f"OpenVPN {version} x86_64-pc-linux-gnu\n", status=1)
    assert run_preflight(capsys, tmp_path, peer_fingerprint_laptops=["laptop9"])["problems"] == []


def test_static_key_tunnels_need_no_version_check(tools, capsys, tmp_path):
    tools("openvpn", "OpenVPN 2.4.12 x86_64-pc-linux-gnu\n", status=1)
    assert run_preflight(capsys, tmp_path)["problems"] == []
