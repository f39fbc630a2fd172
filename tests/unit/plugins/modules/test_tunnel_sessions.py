# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_sessions' client of the management protocol, against a socket that answers as OpenVPN 2.6 does.

The lines below are OpenVPN 2.6.14's own answers, copied from a server instance of the lab; the module's work
against a real instance is proven by the Molecule scenario server_mode (offboarding ends a live session).
"""

from __future__ import annotations

import json
import socket

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._management import parse_status
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_sessions

HEADER = ["Common Name", "Real Address", "Virtual Address", "Virtual IPv6 Address", "Bytes Received", "Bytes Sent"]
HEADER += ["Connected Since", "Connected Since (time_t)", "Username", "Client ID", "Peer ID", "Data Channel Cipher"]
LAPTOP1 = ["2026-11-30 02:45:24", "1796006724", "UNDEF", "0", "0", "AES-256-GCM"]
LAPTOP2 = ["2026-11-30 02:45:30", "1796006730", "UNDEF", "3", "1", "AES-256-GCM"]
STATUS_3 = [
    "TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]",
    "TIME\t2026-11-30 02:45:34\t1796006734",
    "\t".join(["HEADER", "CLIENT_LIST", *HEADER]),
    "\t".join(
        ["CLIENT_LIST", "laptop1", "fd1e:45a4:5de9:bf7::3", "", "2001:db8:abba:1000::2", "2279", "2044", *LAPTOP1]
    ),
    "\t".join(["CLIENT_LIST", "laptop2", "198.51.100.7:53615", "", "2001:db8:abba:1001::2", "10", "20", *LAPTOP2]),
    "HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)",
    "ROUTING_TABLE\t2001:db8:abba:1000::2\tlaptop1\tfd1e:45a4:5de9:bf7::3\t2026-11-30 02:45:34\t1796006734",
    "GLOBAL_STATS\tMax bcast/mcast queue length\t1",
    "GLOBAL_STATS\tdco_enabled\t0",
    "END",
]


def answer(command):
    """OpenVPN 2.6's answers to `status 3` and `client-kill N`."""
    if command == "status 3":
        # A notification in the middle of an answer, as the protocol allows.
        return STATUS_3[:3] + [">BYTECOUNT:1,2"] + STATUS_3[3:]
    if command.startswith("client-kill "):
        return [f"SUCCESS: client-kill command succeeded (cid {command.split()[1]})"]
    return None


def run_module(capsys, **args):
    with pytest.raises(SystemExit), patch_module_args(args):
        tunnel_sessions.main()
    return json.loads(capsys.readouterr().out)


def test_status_lists_each_session_by_its_header():
    sessions = parse_status(STATUS_3[:-1])
    assert sessions == [
        {
            "address": "2001:db8:abba:1000::2",
            "real_address": "fd1e:45a4:5de9:bf7::3",
            "bytes_received": 2279,
            "bytes_sent": 2044,
            "connected_since": 1796006724,
            "client_id": 0,
        },
        {
            "address": "2001:db8:abba:1001::2",
            "real_address": "198.51.100.7:53615",
            "bytes_received": 10,
            "bytes_sent": 20,
            "connected_since": 1796006730,
            "client_id": 3,
        },
    ]


def test_kill_ends_only_the_listed_addresses_session(tmp_path, capsys, fake_management):
    path = tmp_path / "management.sock"
    fake = fake_management(path, answer)
    result = run_module(capsys, socket=str(path), kill=["2001:db8:abba:1001::2", "2001:db8:abba:1009::2"])
    assert result["changed"] is True
    assert result["killed"] == ["2001:db8:abba:1001::2"]
    assert [session["address"] for session in result["sessions"]] == ["2001:db8:abba:1000::2", "2001:db8:abba:1001::2"]
    assert fake.commands == ["status 3", "client-kill 3"]


def test_check_mode_ends_nothing(tmp_path, capsys, fake_management):
    path = tmp_path / "management.sock"
    fake = fake_management(path, answer)
    result = run_module(capsys, socket=str(path), kill=["2001:db8:abba:1000::2"], _ansible_check_mode=True)
    assert result["changed"] is True and result["killed"] == ["2001:db8:abba:1000::2"]
    assert fake.commands == ["status 3"]


def test_a_stopped_instance_has_no_sessions(tmp_path, capsys):
    result = run_module(capsys, socket=str(tmp_path / "absent.sock"), kill=["2001:db8:abba:1000::2"])
    assert result == {"changed": False, "sessions": [], "killed": [], "invocation": result["invocation"]}


def test_a_socket_nobody_listens_on_fails_naming_it(tmp_path, capsys):
    path = tmp_path / "dead.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()
    result = run_module(capsys, socket=str(path))
    assert result["failed"] is True
    assert result["msg"].startswith(f"{path}: cannot connect to the OpenVPN management interface")
