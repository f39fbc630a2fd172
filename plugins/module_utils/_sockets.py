# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who listens on which port: shared by the modules tunnel_preflight and tunnel_ready (private, may change)."""

from __future__ import annotations

import re

# One `ss -H` line: state, queues, local address:port, peer, then users:(("name",pid=N,fd=M),...).
_PROCESS = re.compile(r'\("([^"]*)",pid=(\d+)')


def parse_ss(output: str) -> dict[int, list[tuple[str, int]]]:
    """{local port: [(process name, pid), ...]} from `ss -Hlnp` output (several sockets may share a port)."""
    ports: dict[int, list[tuple[str, int]]] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[3]:
            continue
        port_text = fields[3].rsplit(":", 1)[1]
        if not port_text.isdigit():
            continue
        processes = [(name, int(pid)) for name, pid in _PROCESS.findall(line)]
        ports.setdefault(int(port_text), []).extend(processes)
    return ports
