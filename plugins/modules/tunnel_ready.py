#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_ready
short_description: Prove that OpenVPN tunnel ends are up, or fail naming the laptop, the cause and the journal
version_added: 1.0.0
description:
  - systemd calls an OpenVPN unit started as soon as OpenVPN reports ready, which is before it has opened the
    device, run the up-script and bound its port; a unit that then dies is restarted again and again and shows
    C(activating (auto-restart)). So a started unit proves nothing. This module waits until every tunnel end
    given is steady, then checks it, in one call for all of them.
  - Steady means the unit is C(active (running)) and has been for O(settle) seconds with the same main process
    and no restart meanwhile. Units started longer ago are checked at once, so a run that started nothing does
    not wait.
  - Then each end must have its device up with its tunnel address, and, where O(tunnels[].port) is given, its
    port bound by the unit's process. Where O(tunnels[].ping) is given, that address must answer one ping6
    through the tunnel.
  - On failure the message names every failing laptop with its cause and the last O(journal_lines) lines of
    its unit's journal.
options:
  tunnels:
    description: Tunnel ends on this host.
    type: list
    elements: dict
    required: true
    suboptions:
      laptop:
        description: The laptop the tunnel belongs to, for messages.
        type: str
        required: true
      unit:
        description: The systemd unit of this end, e.g. C(openvpn-server@sixtunnel-laptop1.service).
        type: str
        required: true
      device:
        description: The tunnel device, e.g. C(sixt1).
        type: str
        required: true
      address:
        description: This end's address on the device, with or without its prefix length.
        type: str
        required: true
      port:
        description:
          - Port the unit's process must have bound (the gateway's); omitted for C(nobind) ends.
          - A listening socket or a connection on that local port counts (a point-to-point TCP server stops
            listening once its laptop is connected).
        type: int
      transport:
        description: Transport of O(tunnels[].port).
        type: str
        choices: [udp, tcp]
        default: udp
      ping:
        description: Address to ping6 through the tunnel (the other end), or omitted for no traffic check.
        type: str
  settle:
    description: Seconds a unit must have run unchanged to count as steady.
    type: int
    default: 3
  timeout:
    description: Seconds to wait for all ends to be steady and to answer, in all.
    type: int
    default: 30
  journal_lines:
    description: Journal lines quoted per failing unit.
    type: int
    default: 12
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode; it only reads, and in check mode does not wait or ping.
requirements:
  - systemd, iproute2 (C(ip), C(ss)) and C(ping) on the managed host.
"""

EXAMPLES = r"""
- name: Prove the laptop's end, with traffic to the gateway's end
  sixtunnel.openvpn.tunnel_ready:
    tunnels:
      - laptop: laptop1
        unit: openvpn-client@sixtunnel.service
        device: sixt1
        address: 2001:db8:abba:1001::2/64
        ping: 2001:db8:abba:1001::1
"""

RETURN = r"""
waited:
  description: Seconds spent waiting for the ends to become steady and to answer.
  returned: always
  type: float
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._sockets import parse_ss

POLL = 0.5


def snapshot(module: AnsibleModule, tools: dict[str, str], tunnels: list[dict]) -> dict:
    """Everything the checks read, in one command each however many tunnels: units, devices, sockets."""
    props = "ActiveState,SubState,MainPID,NRestarts,ActiveEnterTimestampMonotonic"
    units = [tunnel["unit"] for tunnel in tunnels]
    _rc, out, _err = module.run_command([tools["systemctl"], "show", f"--property={props}", "--", *units])
    blocks = out.strip("\n").split("\n\n")
    states = {unit: dict(line.partition("=")[::2] for line in block.splitlines()) for unit, block in zip(units, blocks)}
    _rc, out, _err = module.run_command([tools["ip"], "-j", "addr", "show"])
    links = {link.get("ifname"): link for link in json.loads(out or "[]")}
    sockets = {}
    for transport in sorted({tunnel["transport"] for tunnel in tunnels if tunnel.get("port")}):
        # All states: a point-to-point TCP server stops listening once its laptop is connected.
        _rc, out, _err = module.run_command([tools["ss"], "-Hanp", "--" + transport])
        sockets[transport] = parse_ss(out)
    return {"states": states, "links": links, "sockets": sockets}


def problems_of(tunnel: dict, seen: dict) -> list[str]:
    """Why this tunnel end is not up now, from a snapshot; empty when it is."""
    state = seen["states"].get(tunnel["unit"], {})
    if (state.get("ActiveState"), state.get("SubState")) != ("active", "running"):
        return [f"{tunnel['unit']} is {state.get('ActiveState')} ({state.get('SubState')})"]
    found = []
    device, link = tunnel["device"], seen["links"].get(tunnel["device"])
    wanted = tunnel["address"].split("/")[0]
    if link is None:
        found.append(f"device {device} does not exist")
    elif "UP" not in link.get("flags", []):
        found.append(f"device {device} is down")
    elif not any(info.get("local") == wanted for info in link.get("addr_info", [])):
        found.append(f"device {device} lacks its address {wanted}")
    if tunnel.get("port"):
        what = f"{tunnel['transport'].upper()} port {tunnel['port']}"
        holders = seen["sockets"][tunnel["transport"]].get(tunnel["port"])
        if holders is None:
            found.append(f"{what} is not bound")
        # ss names a socket's process only where it may read that process's /proc (root without CAP_SYS_PTRACE,
        # as in containers, cannot once OpenVPN dropped to nobody): an unnamed holder is taken as OpenVPN.
        elif holders and int(state.get("MainPID") or 0) not in [pid for _name, pid in holders]:
            found.append(f"{what} is held by " + ", ".join(f"{name} (pid {pid})" for name, pid in holders))
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "tunnels": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "laptop": {"type": "str", "required": True},
                    "unit": {"type": "str", "required": True},
                    "device": {"type": "str", "required": True},
                    "address": {"type": "str", "required": True},
                    "port": {"type": "int"},
                    "transport": {"type": "str", "choices": ["udp", "tcp"], "default": "udp"},
                    "ping": {"type": "str"},
                },
            },
            "settle": {"type": "int", "default": 3},
            "timeout": {"type": "int", "default": 30},
            "journal_lines": {"type": "int", "default": 12},
        },
        supports_check_mode=True,
    )
    tunnels = module.params["tunnels"]
    if module.check_mode or not tunnels:
        module.exit_json(changed=False, waited=0.0)
    tools = {name: module.get_bin_path(name, required=True) for name in ("systemctl", "ip", "ss", "ping")}
    settle = module.params["settle"]
    start = time.monotonic()
    deadline = start + module.params["timeout"]
    first_seen: dict[str, tuple[str, str]] = {}
    pending = {tunnel["unit"]: tunnel for tunnel in tunnels}
    causes: dict[str, list[str]] = {}
    while pending:
        seen = snapshot(module, tools, list(pending.values()))
        for unit, tunnel in list(pending.items()):
            state = seen["states"].get(unit, {})
            identity = (state.get("MainPID", ""), state.get("NRestarts", ""))
            first_seen.setdefault(unit, identity)
            causes[unit] = problems_of(tunnel, seen)
            if first_seen[unit] != identity:
                causes[unit].append(f"{unit} restarted while it was checked")
                first_seen[unit] = identity
            age = time.monotonic() - int(state.get("ActiveEnterTimestampMonotonic") or 0) / 1e6
            if causes[unit] or age < settle:
                continue
            if tunnel.get("ping"):
                rc, _out, _err = module.run_command([tools["ping"], "-6", "-c", "1", "-W", "1", tunnel["ping"]])
                if rc != 0:
                    causes[unit] = [f"{tunnel['ping']} (the other end) does not answer ping6 through the tunnel"]
                    continue
            del pending[unit]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(POLL)

    if pending:
        reports = []
        for unit, tunnel in pending.items():
            cause = "; ".join(causes.get(unit) or [f"{unit} did not stay up for {settle} s"])
            _rc, journal, _err = module.run_command(
                ["journalctl", "--no-pager", "-n", str(module.params["journal_lines"]), "-u", unit]
            )
            reports.append(
                f"laptop {tunnel['laptop']}: {cause}. Last lines of the journal of {unit}:\n{journal.rstrip()}"
            )
        module.fail_json(
            msg=f"{len(pending)} tunnel(s) not working after {module.params['timeout']} s:\n" + "\n".join(reports),
            failed_laptops=[tunnel["laptop"] for tunnel in pending.values()],
        )
    module.exit_json(changed=False, waited=round(time.monotonic() - start, 1))


if __name__ == "__main__":
    main()
