# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ipv6_forwarding against a stand-in net.ipv6.conf tree: which uplinks keep router advertisements, and in which order."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.modules import ipv6_forwarding


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        # An uplink that takes its default route from advertisements and does not forward yet keeps them.
        ({"uplink0": {"accept_ra": "1", "forwarding": "0"}}, ["uplink0"]),
        # Already 2 (an earlier run): still listed, so the file does not change on a re-run.
        ({"uplink0": {"accept_ra": "2", "forwarding": "1"}}, ["uplink0"]),
        # The admin's own router set-up (forwarding with accept_ra=1, advertisements ignored) is left alone.
        ({"uplink0": {"accept_ra": "1", "forwarding": "1"}}, []),
        ({"uplink0": {"accept_ra": "0", "forwarding": "0"}}, []),
        (
            {name: {"accept_ra": "1", "forwarding": "0"} for name in ("all", "default", "lo", "wlan0", "uplink0.7")},
            ["uplink0.7", "wlan0"],
        ),
    ],
)
def test_ra_interfaces(conf, expected):
    assert ipv6_forwarding.ra_interfaces(conf) == expected


def test_file_lists_accept_ra_before_forwarding_and_writes_vlan_dots_as_slashes():
    assert ipv6_forwarding.file_content(["uplink0.7"]).splitlines()[1:] == [
        "net.ipv6.conf.uplink0/7.accept_ra = 2",
        "net.ipv6.conf.all.forwarding = 1",
    ]


@pytest.fixture
def proc(tmp_path):
    """A net.ipv6.conf tree: an RA uplink, an admin's forwarding interface, lo, all and default."""
    root = tmp_path / "conf"
    values = {
        "all": ("1", "0"),
        "default": ("1", "0"),
        "lo": ("1", "0"),
        "uplink0": ("1", "0"),
        "br0": ("1", "1"),
    }
    for name, (accept_ra, forwarding) in values.items():
        (root / name).mkdir(parents=True)
        (root / name / "accept_ra").write_text(accept_ra + "\n")
        (root / name / "forwarding").write_text(forwarding + "\n")
    return root


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        ipv6_forwarding.main()
    return json.loads(capsys.readouterr().out)


def test_keeps_advertisements_on_the_uplink_then_forwards_and_a_rerun_changes_nothing(proc, tmp_path, capsys):
    path = tmp_path / "60-sixtunnel-forwarding.conf"
    result = run_module(capsys, path=str(path), proc_root=str(proc))
    assert result["changed"] is True
    assert result["ra_interfaces"] == ["uplink0"]
    assert result["written"] == [str(proc / "uplink0" / "accept_ra"), str(proc / "all" / "forwarding")]
    assert (proc / "uplink0" / "accept_ra").read_text() == "2"
    assert (proc / "br0" / "accept_ra").read_text() == "1\n"
    assert path.read_text().splitlines()[1:] == [
        "net.ipv6.conf.uplink0.accept_ra = 2",
        "net.ipv6.conf.all.forwarding = 1",
    ]
    assert oct(path.stat().st_mode & 0o777) == "0o644"

    again = run_module(capsys, path=str(path), proc_root=str(proc))
    assert again["changed"] is False and again["written"] == []


def test_check_mode_writes_nothing(proc, tmp_path, capsys):
    path = tmp_path / "60-sixtunnel-forwarding.conf"
    result = run_module(capsys, path=str(path), proc_root=str(proc), _ansible_check_mode=True)
    assert result["changed"] is True
    assert not path.exists() and (proc / "all" / "forwarding").read_text() == "0\n"


def test_a_kernel_without_ipv6_is_refused(tmp_path, capsys):
    result = run_module(capsys, path=str(tmp_path / "f.conf"), proc_root=str(tmp_path / "missing"))
    assert result["failed"] is True
    assert "IPv6 is off in this host's kernel" in result["msg"]
