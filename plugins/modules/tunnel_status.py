#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_status
short_description: Who is connected to the gateway now, since when, from where, and how much traffic
version_added: 1.0.0
description:
  - Runs on the gateway. Reads each gateway instance's management interface over its local Unix socket (never a TCP
    port; the socket's path is the tunnel record's C(gateway_management)) and returns one row per laptop.
  - A point-to-point instance (mode V(p2p)) is asked C(state) (connected or not, since when, the laptop's outer
    address and port) and C(status) (its link's byte counts). A server instance (mode V(server)) is asked
    C(status 3); a laptop is connected while the instance lists a session with the laptop's tunnel address.
  - A socket that does not exist, or that nobody listens on (an OpenVPN killed with C(kill -9) leaves it behind),
    means the instance is not running, so its laptops are not connected; that is not an error. Where its systemd
    unit runs all the same (an instance configured before it had a management socket), its laptops' C(connected) is
    null and C(error) says so.
  - Certificate expiry is read from the public certificates the gateway holds (C(cert.pem) of the instance, and the
    laptop's where the gateway keeps one); no private key and no static key is opened.
  - Reads only; never changes anything.
options:
  tunnels:
    description:
      - Tunnel records as C(sixtunnel.openvpn.tunnel_plan) returns them; records with C(state) V(absent) are skipped.
      - Read from each record are C(name), C(tunnel_id), C(prefix), C(mode), C(auth), C(managed), C(laptop_ip),
        C(gateway_instance), C(gateway_unit), C(gateway_dir), C(gateway_management) and C(gateway_laptop_dir).
    type: list
    elements: dict
    required: true
  timeout:
    description:
      - Seconds to wait for each answer of a management interface. OpenVPN serves one management client at a time,
        so a second client (another status run) waits; after this long its laptops' rows carry an C(error).
    type: float
    default: 5
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode (it changes nothing in either mode).
  - Runs as root, as the role's instances accept management clients of user and group root only.
  - A laptop that goes away without a word (switched off, out of reach) is shown connected until its instance gives
    it up after the gateway's C(keepalive) timeout (60 s in p2p mode with the role's default C(5 60); a server
    instance doubles it).
seealso:
  - name: OpenVPN management interface
    description: The C(state) and C(status) commands.
    link: https://openvpn.net/community-resources/management-interface/
  - name: Operators' guide, Status
    description: The playbook C(sixtunnel.openvpn.status) that prints these rows as a table and as JSON.
    link: https://github.com/sixtunnel/openvpn/blob/main/docs/operations.md
"""

EXAMPLES = r"""
- name: Read who is connected
  sixtunnel.openvpn.tunnel_status:
    tunnels: "{{ sixtunnel_tunnels }}"
  register: status
  become: true

- name: Name the connected laptops
  ansible.builtin.debug:
    msg: "{{ status.rows | selectattr('connected') | map(attribute='laptop') | list }}"
"""

RETURN = r"""
rows:
  description: One row per present tunnel, sorted by tunnel id.
  returned: always
  type: list
  elements: dict
  contains:
    laptop:
      description: The laptop's inventory name.
      type: str
    tunnel_id:
      description: The laptop's tunnel id.
      type: int
    prefix:
      description: The laptop's /64.
      type: str
    mode:
      description: The gateway instance's mode, V(p2p) or V(server).
      type: str
    auth:
      description: V(peer_fingerprint) or V(static_key).
      type: str
    managed:
      description: Whether Ansible manages the laptop.
      type: bool
    instance:
      description: The gateway instance serving the laptop, and its systemd unit.
      type: dict
      contains:
        name:
          description: The instance, e.g. C(sixtunnel-laptop1) or C(sixtunnel_server).
          type: str
        unit:
          description: Its unit, e.g. C(openvpn-server@sixtunnel-laptop1.service).
          type: str
        running:
          description: Whether the instance runs (false where its socket is missing or dead and its unit is not active).
          type: bool
    connected:
      description: Whether the laptop is connected now; null where the instance could not be read (see C(error)).
      type: bool
    connected_since:
      description: Start of the connection (p2p) or session (server), seconds since the epoch; null if not connected.
      type: int
    connected_since_iso:
      description: The same in ISO 8601, UTC (C(2026-11-30T06:22:08Z)); null if not connected.
      type: str
    real_address:
      description:
        - The laptop's current outer address, the one its packets come from (an IPv4 laptop reaching the gateway's
          dual-stack socket as plain IPv4); null if not connected.
      type: str
    real_port:
      description: Its outer port; null if not connected or not known.
      type: int
    bytes_received:
      description:
        - Bytes the gateway received from the laptop on the link (outer packets, OpenVPN's overhead included) since
          the connection (p2p) or session (server) began; null if not connected.
      type: int
    bytes_sent:
      description: Bytes the gateway sent to the laptop on the link, counted the same way; null if not connected.
      type: int
    gateway_certificate_not_after:
      description:
        - End of validity of the gateway end's certificate (ISO 8601, UTC); null for a static-key tunnel or where
          the gateway has no certificate yet.
      type: str
    laptop_certificate_not_after:
      description:
        - End of validity of the laptop's certificate where the gateway holds it (server mode keeps each laptop's in
          C(peers/); p2p mode an unmanaged laptop's key pair); null elsewhere (a managed p2p laptop's is pinned by
          fingerprint only).
      type: str
    error:
      description: Why the instance or a certificate could not be read; null when all was read.
      type: str
  sample:
    - laptop: laptop1
      tunnel_id: 0
      prefix: 2001:db8:abba:1000::/64
      mode: p2p
      auth: peer_fingerprint
      managed: true
      instance:
        name: sixtunnel-laptop1
        unit: openvpn-server@sixtunnel-laptop1.service
        running: true
      connected: true
      connected_since: 1796018953
      connected_since_iso: "2026-11-30T06:09:13Z"
      real_address: 198.51.100.7
      real_port: 41321
      bytes_received: 8113
      bytes_sent: 8058
      gateway_certificate_not_after: "2036-11-27T06:09:12Z"
      laptop_certificate_not_after: null
      error: null
time:
  description: When the instances were read, seconds since the epoch (the gateway's clock).
  returned: always
  type: int
"""

import errno
import os
import time
from collections.abc import Callable

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._management import (
    Management,
    ManagementError,
    parse_state,
    parse_statistics,
    parse_status,
    split_real_address,
)
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_keys import (
    CERTIFICATE,
    certificate_not_after,
)

# A socket file that nobody listens on: the instance is gone (kill -9 leaves the file), not an error.
_NOT_LISTENING = (errno.ENOENT, errno.ECONNREFUSED)

_NOT_CONNECTED = {
    "connected": False,
    "connected_since": None,
    "real_address": None,
    "real_port": None,
    "bytes_received": None,
    "bytes_sent": None,
}


def iso_utc(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def read_instance(path: str, mode: str, timeout: float, unit: str, unit_active: Callable[[str], bool]) -> dict:
    """What one instance says: {running, error} and its state and statistics (p2p) or sessions (server); never
    raises."""
    try:
        management = Management(path, timeout)
    except OSError as exc:
        if exc.errno not in _NOT_LISTENING:
            return {"running": False, "error": f"{path}: cannot connect to the OpenVPN management interface: {exc}"}
        if unit_active(unit):
            # Written before instances had a management socket: unknown, not "not connected".
            return {"running": True, "error": f"{unit} runs without a management socket at {path}: run site.yml"}
        return {"running": False, "error": None}
    try:
        if mode == "server":
            return {"running": True, "error": None, "sessions": parse_status(management.command("status 3", True))}
        state = parse_state(management.command("state", True))
        statistics = parse_statistics(management.command("status", True))
        return {"running": True, "error": None, "state": state, "statistics": statistics}
    except (OSError, ManagementError, ValueError) as exc:
        # socket.timeout: another management client holds the instance (OpenVPN serves one at a time).
        return {"running": True, "error": f"{path}: {exc or type(exc).__name__}"}
    finally:
        management.close()


def connection(tunnel: dict, instance: dict) -> dict:
    """The laptop's part of what its instance said."""
    if not instance["running"]:
        return dict(_NOT_CONNECTED)
    if instance["error"]:
        return {**_NOT_CONNECTED, "connected": None}
    if tunnel["mode"] == "server":
        session = next((s for s in instance["sessions"] if s["address"] == tunnel["laptop_ip"]), None)
        if session is None:
            return dict(_NOT_CONNECTED)
        address, port = split_real_address(session["real_address"])
        return {
            "connected": True,
            "connected_since": session["connected_since"],
            "real_address": address,
            "real_port": port,
            "bytes_received": session["bytes_received"],
            "bytes_sent": session["bytes_sent"],
        }
    state = instance["state"]
    if state["state"] != "CONNECTED":
        return dict(_NOT_CONNECTED)
    return {
        "connected": True,
        "connected_since": state["since"],
        "real_address": state["real_address"] or None,
        "real_port": state["real_port"],
        **instance["statistics"],
    }


def certificates(tunnel: dict) -> tuple[str | None, str | None, list[str]]:
    """(gateway's notAfter, laptop's notAfter, problems): ISO 8601 or None where the gateway holds no certificate."""
    paths = {"gateway": None, "laptop": None}
    if tunnel["auth"] == "peer_fingerprint":
        paths["gateway"] = os.path.join(tunnel["gateway_dir"], CERTIFICATE)
        if tunnel["mode"] == "server":
            paths["laptop"] = os.path.join(tunnel["gateway_dir"], "peers", f"{tunnel['name']}.pem")
        elif not tunnel["managed"]:
            paths["laptop"] = os.path.join(tunnel["gateway_laptop_dir"], CERTIFICATE)
    found, problems = {}, []
    for end, path in paths.items():
        found[end] = None
        if path is None:
            continue
        try:
            found[end] = iso_utc(int(certificate_not_after(path).timestamp()))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            problems.append(str(exc))
    return found["gateway"], found["laptop"], problems


def status_rows(tunnels: list[dict], timeout: float, unit_active: Callable[[str], bool]) -> list[dict]:
    """One row per present tunnel (RETURN's rows), each instance asked once; unit_active(unit) says whether a systemd
    unit runs (asked only of an instance whose socket is missing or dead)."""
    instances: dict[str, dict] = {}
    rows = []
    for tunnel in sorted(tunnels, key=lambda record: record["tunnel_id"]):
        if tunnel.get("state", "present") != "present":
            continue
        path = tunnel["gateway_management"]
        if path not in instances:
            instances[path] = read_instance(path, tunnel["mode"], timeout, tunnel["gateway_unit"], unit_active)
        instance = instances[path]
        now = connection(tunnel, instance)
        gateway_expiry, laptop_expiry, problems = certificates(tunnel)
        errors = ([instance["error"]] if instance["error"] else []) + problems
        rows.append(
            {
                "laptop": tunnel["name"],
                "tunnel_id": tunnel["tunnel_id"],
                "prefix": tunnel["prefix"],
                "mode": tunnel["mode"],
                "auth": tunnel["auth"],
                "managed": tunnel["managed"],
                "instance": {
                    "name": tunnel["gateway_instance"],
                    "unit": tunnel["gateway_unit"],
                    "running": instance["running"],
                },
                **now,
                "connected_since_iso": iso_utc(now["connected_since"]),
                "gateway_certificate_not_after": gateway_expiry,
                "laptop_certificate_not_after": laptop_expiry,
                "error": "; ".join(errors) or None,
            }
        )
    return rows


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "tunnels": {"type": "list", "elements": "dict", "required": True},
            "timeout": {"type": "float", "default": 5},
        },
        supports_check_mode=True,
    )
    missing = sorted(
        {
            key
            for tunnel in module.params["tunnels"]
            for key in ("name", "tunnel_id", "prefix", "mode", "auth", "managed", "laptop_ip", "gateway_instance")
            + ("gateway_unit", "gateway_dir", "gateway_management", "gateway_laptop_dir")
            if key not in tunnel
        }
    )
    if missing:
        module.fail_json(msg=f"tunnels: records lack {', '.join(missing)}; pass tunnel_plan's records as they are")
    read_at = int(time.time())
    rows = status_rows(
        module.params["tunnels"],
        module.params["timeout"],
        lambda unit: module.run_command(["systemctl", "is-active", "--quiet", unit])[0] == 0,
    )
    module.exit_json(changed=False, rows=rows, time=read_at)


if __name__ == "__main__":
    main()
