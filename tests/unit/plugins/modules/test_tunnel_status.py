# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_status against sockets that answer as OpenVPN does, and certificates made by the real openssl.

The p2p answers are OpenVPN 2.6.14's own (2.7.8 gives the same lines), copied from a peer-fingerprint gateway
instance with the role's management lines; the module's work against real instances is proven by the Molecule
scenarios default (p2p) and server_mode.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.module_utils import _management, _tunnel_keys
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_status
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import plan_tunnels

STATE_CONNECTED = ["1796018953,CONNECTED,SUCCESS,,::ffff:10.89.1.3,41321,,,2001:db8:abba:1000::1", "END"]
# What a p2p instance says while it waits for its laptop (after start, or after its keepalive gave the laptop up).
STATE_WAITING = ["1796019662,ASSIGN_IP,,,,,,,2001:db8:abba:1000::1", "END"]
STATISTICS = [
    "OpenVPN STATISTICS",
    "Updated,2026-11-30 06:19:46",
    "TUN/TAP read bytes,1862",
    "TUN/TAP write bytes,1548",
    "TCP/UDP read bytes,8113",
    "TCP/UDP write bytes,8058",
    "Auth read bytes,3468",
    "END",
]
SERVER_HEADER = "\t".join(
    ["HEADER", "CLIENT_LIST", "Common Name", "Real Address", "Virtual Address", "Virtual IPv6 Address"]
    + ["Bytes Received", "Bytes Sent", "Connected Since", "Connected Since (time_t)", "Username", "Client ID"]
    + ["Peer ID", "Data Channel Cipher"]
)
SERVER_STATUS = [
    "TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]",
    "TIME\t2026-11-30 02:45:34\t1796006734",
    SERVER_HEADER,
    "\t".join(
        ["CLIENT_LIST", "laptop1", "198.51.100.7:53615", "", "2001:db8:abba:1000::2", "2279", "2044"]
        + ["2026-11-30 02:45:24", "1796006724", "UNDEF", "0", "0", "AES-256-GCM"]
    ),
    "GLOBAL_STATS\tdco_enabled\t0",
    "END",
]


def run_module(capsys, monkeypatch, active_units=(), **args):
    """Run the module; systemd's answer to `systemctl is-active` is: only active_units run."""
    asked = []

    def run_command(_module, argv, **_kwargs):
        assert argv[:3] == ["systemctl", "is-active", "--quiet"], argv
        asked.append(argv[3])
        return (0 if argv[3] in active_units else 3), "", ""

    monkeypatch.setattr(tunnel_status.AnsibleModule, "run_command", run_command)
    with pytest.raises(SystemExit), patch_module_args(args):
        tunnel_status.main()
    result = json.loads(capsys.readouterr().out)
    result["units_asked"] = asked
    return result


@pytest.fixture(autouse=True)
def short_socket_paths(tmp_path, monkeypatch):
    """Socket paths relative to tmp_path: a Unix socket path holds 107 bytes, which ansible-test's temporary
    directories (pytest-xdist's) can exceed."""
    monkeypatch.chdir(tmp_path)


def records(tmp_path, mode="p2p", **laptop2):
    """Two planned tunnels whose gateway directories and sockets are under tmp_path (each its own in p2p mode)."""
    laptops = [{"name": "laptop1", "tunnel_id": 0}, {"name": "laptop2", "tunnel_id": 1, **laptop2}]
    tunnels = plan_tunnels({"prefix": "2001:db8:abba::/48", "mode": mode}, laptops)["tunnels"]
    for tunnel in tunnels:
        directory = tmp_path / tunnel["gateway_instance"]
        directory.mkdir(parents=True, exist_ok=True)
        tunnel["gateway_dir"] = str(directory)
        tunnel["gateway_management"] = os.path.relpath(directory / "management.sock")
        tunnel["gateway_laptop_dir"] = str(
            directory / ("unmanaged/" + tunnel["name"] if mode == "server" else "laptop")
        )
    return tunnels


def p2p_answer(state):
    return {"state": state, "status": STATISTICS}.get


def make_certificate(path, days):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-sha256", "-days", str(days), "-subj", "/CN=test", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(path.with_suffix(".key")),
         "-out", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    end = subprocess.run(
        ["openssl", "x509", "-noout", "-enddate", "-in", str(path)], check=True, capture_output=True, text=True
    ).stdout.strip()
    # notAfter=Nov 27 06:23:55 2036 GMT
    when = datetime.datetime.strptime(end.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_connected_p2p_laptop_has_its_outer_address_and_link_bytes(tmp_path, capsys, monkeypatch, fake_management):
    tunnels = records(tmp_path)
    fake = fake_management(tunnels[0]["gateway_management"], p2p_answer(STATE_CONNECTED))
    result = run_module(capsys, monkeypatch, tunnels=tunnels)
    laptop1, laptop2 = result["rows"]
    assert result["changed"] is False
    assert fake.commands == ["state", "status"]
    assert {key: laptop1[key] for key in ("connected", "connected_since", "connected_since_iso")} == {
        "connected": True,
        "connected_since": 1796018953,
        "connected_since_iso": "2026-11-30T06:09:13Z",
    }
    # The dual-stack socket's IPv4-mapped form, as an operator writes the laptop's address.
    assert (laptop1["real_address"], laptop1["real_port"]) == ("10.89.1.3", 41321)
    assert (laptop1["bytes_received"], laptop1["bytes_sent"]) == (8113, 8058)
    assert laptop1["instance"] == {
        "name": "sixtunnel-laptop1",
        "unit": "openvpn-server@sixtunnel-laptop1.service",
        "running": True,
    }
    assert (laptop1["laptop"], laptop1["tunnel_id"], laptop1["prefix"]) == ("laptop1", 0, "2001:db8:abba:1000::/64")
    # laptop2's instance has no socket and its unit does not run: not running, so not connected, and no error.
    assert result["units_asked"] == ["openvpn-server@sixtunnel-laptop2.service"]
    assert laptop2["instance"]["running"] is False
    assert laptop2["connected"] is False and laptop2["error"] is None
    assert [laptop2[key] for key in ("connected_since", "real_address", "bytes_received", "bytes_sent")] == [None] * 4


def test_a_p2p_instance_waiting_for_its_laptop_is_not_connected(tmp_path, capsys, monkeypatch, fake_management):
    tunnels = records(tmp_path)[:1]
    fake_management(tunnels[0]["gateway_management"], p2p_answer(STATE_WAITING))
    [row] = run_module(capsys, monkeypatch, tunnels=tunnels)["rows"]
    assert row["instance"]["running"] is True
    assert (row["connected"], row["real_address"], row["bytes_received"], row["error"]) == (False, None, None, None)


def test_a_socket_nobody_listens_on_is_an_instance_not_running(tmp_path, capsys, monkeypatch):
    tunnels = records(tmp_path)[:1]
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(tunnels[0]["gateway_management"])
    dead.close()
    [row] = run_module(capsys, monkeypatch, tunnels=tunnels)["rows"]
    assert (row["instance"]["running"], row["connected"], row["error"]) == (False, False, None)


def test_an_instance_running_without_a_socket_is_unknown_and_says_why(tmp_path, capsys, monkeypatch):
    # Configured before p2p instances had a management socket: running, but it cannot be asked.
    tunnels = records(tmp_path)[:1]
    unit = "openvpn-server@sixtunnel-laptop1.service"
    [row] = run_module(capsys, monkeypatch, active_units=[unit], tunnels=tunnels)["rows"]
    assert (row["instance"]["running"], row["connected"]) == (True, None)
    assert (
        row["error"] == f"{unit} runs without a management socket at {tunnels[0]['gateway_management']}: run site.yml"
    )


def test_a_busy_instance_is_unknown_and_says_why(tmp_path, capsys, monkeypatch, fake_management):
    # OpenVPN serves one management client at a time: a second one gets no answer at all.
    tunnels = records(tmp_path)[:1]
    fake_management(tunnels[0]["gateway_management"], lambda command: [])
    [row] = run_module(capsys, monkeypatch, tunnels=tunnels, timeout=0.3)["rows"]
    assert row["connected"] is None
    assert row["error"] == f"{tunnels[0]['gateway_management']}: timed out"


def test_server_mode_asks_the_instance_once_and_matches_sessions_by_tunnel_address(
    tmp_path, capsys, monkeypatch, fake_management
):
    tunnels = records(tmp_path, mode="server", managed=False)
    assert tunnels[0]["gateway_management"] == tunnels[1]["gateway_management"]
    fake = fake_management(tunnels[0]["gateway_management"], {"status 3": SERVER_STATUS}.get)
    laptop1, laptop2 = run_module(capsys, monkeypatch, tunnels=tunnels)["rows"]
    assert fake.commands == ["status 3"]
    assert (laptop1["connected"], laptop1["real_address"], laptop1["real_port"]) == (True, "198.51.100.7", 53615)
    assert (laptop1["bytes_received"], laptop1["bytes_sent"], laptop1["connected_since"]) == (2279, 2044, 1796006724)
    # The unmanaged laptop that never connected.
    assert (laptop2["connected"], laptop2["instance"]["running"], laptop2["error"]) == (False, True, None)


def test_certificate_expiry_where_the_gateway_holds_the_certificate(tmp_path, capsys, monkeypatch):
    p2p = records(tmp_path / "p2p", managed=False, auth="peer_fingerprint")
    p2p_gateway = make_certificate(tmp_path / "p2p/sixtunnel-laptop1/cert.pem", 30)
    p2p_unmanaged = make_certificate(tmp_path / "p2p/sixtunnel-laptop2/laptop/cert.pem", 400)
    p2p_gateway2 = make_certificate(tmp_path / "p2p/sixtunnel-laptop2/cert.pem", 10)
    static = records(tmp_path / "static", auth="static_key")[1:]
    server = records(tmp_path / "server", mode="server")
    server_gateway = make_certificate(tmp_path / "server/sixtunnel_server/cert.pem", 3650)
    server_laptop = make_certificate(tmp_path / "server/sixtunnel_server/peers/laptop1.pem", 1)
    rows = run_module(capsys, monkeypatch, tunnels=p2p + static + server)["rows"]
    expiry = {
        (row["laptop"], row["mode"], row["auth"]): [
            row[f"{end}_certificate_not_after"] for end in ("gateway", "laptop")
        ]
        for row in rows
    }
    assert expiry == {
        # A managed p2p laptop is pinned by fingerprint only: the gateway has no copy of its certificate.
        ("laptop1", "p2p", "peer_fingerprint"): [p2p_gateway, None],
        ("laptop2", "p2p", "peer_fingerprint"): [p2p_gateway2, p2p_unmanaged],
        ("laptop2", "p2p", "static_key"): [None, None],
        ("laptop1", "server", "peer_fingerprint"): [server_gateway, server_laptop],
        # Not joined yet: no certificate in peers/.
        ("laptop2", "server", "peer_fingerprint"): [server_gateway, None],
    }
    assert all(row["error"] is None for row in rows)


def test_an_unreadable_certificate_is_named(tmp_path, capsys, monkeypatch):
    tunnels = records(tmp_path)[:1]
    (tmp_path / "sixtunnel-laptop1/cert.pem").write_text("not a certificate\n")
    [row] = run_module(capsys, monkeypatch, tunnels=tunnels)["rows"]
    assert row["gateway_certificate_not_after"] is None
    path = tmp_path / "sixtunnel-laptop1/cert.pem"
    assert row["error"] == f"{path} holds no PEM certificate"


def test_absent_tunnels_have_no_row_and_records_must_be_whole(tmp_path, capsys, monkeypatch):
    tunnels = records(tmp_path)
    tunnels[1]["state"] = "absent"
    assert [row["laptop"] for row in run_module(capsys, monkeypatch, tunnels=tunnels)["rows"]] == ["laptop1"]
    result = run_module(capsys, monkeypatch, tunnels=[{"name": "laptop1", "tunnel_id": 0}])
    assert result["failed"] is True
    assert result["msg"] == (
        "tunnels: records lack auth, gateway_dir, gateway_instance, gateway_laptop_dir, gateway_management, "
        "gateway_unit, laptop_ip, managed, mode, prefix; pass tunnel_plan's records as they are"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.51.100.7:53615", ("198.51.100.7", 53615)),
        ("::ffff:10.89.1.3:41321", ("10.89.1.3", 41321)),
        ("[2001:db8::7]:1194", ("2001:db8::7", 1194)),
        ("fd1e:45a4:5de9:bf7::3", ("fd1e:45a4:5de9:bf7::3", None)),
    ],
)
def test_real_addresses_as_server_instances_print_them(text, expected):
    assert _management.split_real_address(text) == expected


@pytest.mark.parametrize("days", [1, 3650, 40000])
def test_certificate_not_after_is_what_openssl_reads(tmp_path, days):
    # 40000 days ends after 2049: GeneralizedTime instead of UTCTime (RFC 5280).
    expected = make_certificate(tmp_path / "cert.pem", days)
    assert _tunnel_keys.certificate_not_after(str(tmp_path / "cert.pem")).strftime("%Y-%m-%dT%H:%M:%SZ") == expected
