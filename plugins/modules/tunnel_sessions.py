#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_sessions
short_description: List the laptops' sessions of an OpenVPN server instance, and end those of offboarded laptops
version_added: 1.0.0
description:
  - Talks to the management interface of one OpenVPN instance in server mode over its local Unix socket, never a
    TCP port. Reads C(status 3) and returns one entry per connected laptop.
  - With O(kill), ends the session of each connected laptop whose tunnel address is listed, with C(client-kill) and
    the session's client id (the address names one session; a common name may have several, C(duplicate-cn)).
    A laptop whose certificate is no longer trusted cannot start a new one.
  - A socket that does not exist means the instance is not running, so there are no sessions and nothing to end.
options:
  socket:
    description: Path of the instance's management socket (its C(management PATH unix) line).
    type: path
    required: true
  kill:
    description: Tunnel IPv6 addresses (without prefix length) of laptops whose session is to end now.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each answer of the management interface.
    type: float
    default: 5
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode; it then reports which sessions it would end.
  - Runs as root, as the role's instances accept management clients of user and group root only.
seealso:
  - name: OpenVPN management interface
    description: The C(status) and C(client-kill) commands.
    link: https://openvpn.net/community-resources/management-interface/
"""

EXAMPLES = r"""
- name: End the session of an offboarded laptop
  sixtunnel.openvpn.tunnel_sessions:
    socket: /etc/openvpn/server/sixtunnel_server/management.sock
    kill:
      - 2001:db8:abba:1003::2
"""

RETURN = r"""
sessions:
  description: One entry per connected laptop, as the instance saw them before anything was ended.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The laptop's tunnel IPv6 address.
      type: str
    real_address:
      description: Where its packets come from now (address and port, OpenVPN's format).
      type: str
    bytes_received:
      description: Bytes received from the laptop in this session.
      type: int
    bytes_sent:
      description: Bytes sent to the laptop in this session.
      type: int
    connected_since:
      description: Start of the session, seconds since the epoch.
      type: int
    client_id:
      description: OpenVPN's id of the session (C(client-kill) takes it).
      type: int
  sample:
    - address: 2001:db8:abba:1000::2
      real_address: 198.51.100.7:53615
      bytes_received: 2279
      bytes_sent: 2044
      connected_since: 1796006724
      client_id: 0
killed:
  description: Tunnel addresses whose session was ended (or would be, in check mode).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._management import (
    Management,
    ManagementError,
    parse_status,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "required": True},
            "kill": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 5},
        },
        supports_check_mode=True,
    )
    path = module.params["socket"]
    if not os.path.exists(path):
        module.exit_json(changed=False, sessions=[], killed=[])

    try:
        management = Management(path, module.params["timeout"])
    except OSError as exc:
        module.fail_json(msg=f"{path}: cannot connect to the OpenVPN management interface: {exc}")
    try:
        sessions = parse_status(management.command("status 3", multi_line=True))
        wanted = set(module.params["kill"])
        ending = [session for session in sessions if session["address"] in wanted]
        if not module.check_mode:
            for session in ending:
                management.command(f"client-kill {session['client_id']}", multi_line=False)
    except (OSError, ManagementError, ValueError) as exc:
        module.fail_json(msg=f"{path}: {exc}")
    finally:
        management.close()
    killed = [session["address"] for session in ending]
    module.exit_json(changed=bool(killed), sessions=sessions, killed=killed)


if __name__ == "__main__":
    main()
