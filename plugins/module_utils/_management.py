# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""OpenVPN's management interface on a local Unix socket, and its answers as OpenVPN 2.6 and 2.7 give them: shared
by the modules tunnel_sessions and tunnel_status (private, may change)."""

from __future__ import annotations

import ipaddress
import socket

# The management socket in each gateway instance's directory (its `management PATH unix` line); the planner names
# it in each tunnel record (gateway_management).
MANAGEMENT_SOCKET = "management.sock"


class ManagementError(Exception):
    """The management interface did not answer as documented."""


class Management:
    """A line-oriented client of OpenVPN's management interface on a Unix socket.

    OpenVPN serves one management client at a time: while another is connected, this one gets no answer and each
    read ends in OSError (socket.timeout) after ``timeout`` seconds.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        try:
            self._socket.connect(path)
        except OSError:
            self._socket.close()
            raise
        self._buffer = b""

    def close(self) -> None:
        self._socket.close()

    def _line(self) -> str:
        while b"\n" not in self._buffer:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ManagementError("the management interface closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("utf-8", errors="replace").rstrip("\r")

    def command(self, text: str, multi_line: bool) -> list[str]:
        """Send one command; return its lines up to END (multi_line) or its one SUCCESS/ERROR line.

        Real-time notifications (lines starting with ">") may arrive at any time and are skipped.
        """
        self._socket.sendall(text.encode("utf-8") + b"\n")
        lines = []
        while True:
            line = self._line()
            if line.startswith(">"):
                continue
            if line.startswith("ERROR:"):
                raise ManagementError(f"{text!r}: {line}")
            if not multi_line:
                return [line]
            if line == "END":
                return lines
            lines.append(line)


def outer_address(address: str) -> str:
    """An outer (real) address as operators write it: an IPv4-mapped IPv6 address (what a dual-stack socket sees
    of an IPv4 laptop, ``::ffff:198.51.100.7``) as plain IPv4; anything else unchanged."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped) if mapped else str(parsed)


def split_real_address(text: str) -> tuple[str, int | None]:
    """(address, port) of a server instance's "Real Address": ``198.51.100.7:53615``, ``::ffff:10.0.0.3:41321``,
    or a bare IPv6 address (no port: an IPv6 address ends in a group of hex digits, so none is split off); the
    address as outer_address gives it, the port None where there is none."""
    try:
        ipaddress.ip_address(text)
        return outer_address(text), None
    except ValueError:
        pass
    address, _colon, port = text.rpartition(":")
    if address and port.isdigit():
        return outer_address(address.strip("[]")), int(port)
    return text, None


def parse_status(lines: list[str]) -> list[dict]:
    """Sessions of a server instance from `status 3` (tab-separated, OpenVPN 2.6 and 2.7): each CLIENT_LIST row by
    its HEADER's names; real_address as OpenVPN prints it (address and port)."""
    header: list[str] = []
    sessions = []
    for line in lines:
        fields = line.split("\t")
        if fields[:2] == ["HEADER", "CLIENT_LIST"]:
            header = fields[1:]
        elif fields[0] == "CLIENT_LIST" and header:
            row = dict(zip(header, fields, strict=False))
            sessions.append(
                {
                    "address": row.get("Virtual IPv6 Address", ""),
                    "real_address": row.get("Real Address", ""),
                    "bytes_received": int(row.get("Bytes Received") or 0),
                    "bytes_sent": int(row.get("Bytes Sent") or 0),
                    "connected_since": int(row.get("Connected Since (time_t)") or 0),
                    "client_id": int(row.get("Client ID") or -1),
                }
            )
    return sessions


def parse_state(lines: list[str]) -> dict:
    """A point-to-point instance's current state from `state` (its last line): {state, since (seconds since the
    epoch), real_address, real_port}; the address and port are the peer's while CONNECTED, else "" and None.

    Fields: time, state name, description, tun IPv4, remote address, remote port, local address, local port,
    tun IPv6 (the management interface's documentation, `state`). Raises ManagementError on an empty answer.
    """
    if not lines:
        raise ManagementError("'state': empty answer")
    fields = lines[-1].split(",")
    fields += [""] * (9 - len(fields))
    try:
        since = int(fields[0])
    except ValueError as exc:
        raise ManagementError(f"'state': unexpected line {lines[-1]!r}") from exc
    return {
        "state": fields[1],
        "since": since,
        "real_address": outer_address(fields[4]) if fields[4] else "",
        "real_port": int(fields[5]) if fields[5].isdigit() else None,
    }


def parse_statistics(lines: list[str]) -> dict:
    """A point-to-point instance's byte counts from `status` (OpenVPN STATISTICS, comma-separated): the link's
    (outer, "TCP/UDP read bytes" and "write bytes", counted since the instance last (re)started its connection)
    as bytes_received and bytes_sent, as a server instance counts each session's."""
    values = dict(line.split(",", 1) for line in lines if "," in line)
    try:
        return {
            "bytes_received": int(values.get("TCP/UDP read bytes") or 0),
            "bytes_sent": int(values.get("TCP/UDP write bytes") or 0),
        }
    except ValueError as exc:
        raise ManagementError(f"'status': unexpected byte counts in {lines!r}") from exc
