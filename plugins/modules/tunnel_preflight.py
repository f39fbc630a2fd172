#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_preflight
short_description: Refuse a host that cannot carry its tunnels, before anything is changed
version_added: 1.0.0
description:
  - Read-only checks run by C(playbooks/plan.yml) on every host of the run before any host is changed. A failure
    names the host, the value and what to do.
  - IPv6 must exist in the kernel. A host whose new interfaces start with IPv6 off
    (C(net.ipv6.conf.default.disable_ipv6=1)) is fine where the up-script can turn it on for its own device
    (C(/proc/sys) writable), and refused where it cannot.
  - Each planned port must be free, or held by the OpenVPN instance that owns it (its unit's cgroup). A foreign
    process on a planned port would make that tunnel's OpenVPN crash-loop on C(Address already in use).
  - Where tunnels authenticate with C(peer-fingerprint), OpenVPN must be 2.6 or later (the installed C(openvpn), or
    where none is installed yet the version the package manager would install, C(apt-cache policy)). An older one
    would fail inside systemd with an options error, after the other hosts changed.
  - C(ss) names a socket's process only where root may read that process's C(/proc) entries; in a container
    without C(CAP_SYS_PTRACE) a process that dropped root (an OpenVPN running as C(nobody)) is not named and
    by name; a planned port held by such an unnamed process while the tunnel's own unit is not running is
    refused as foreign all the same.
options:
  host:
    description: The inventory name, for messages.
    type: str
    required: true
  tunnels:
    description:
      - The tunnel records (RV(sixtunnel.openvpn.tunnel_plan#filter:_value.tunnels)) whose gateway end this host
        will carry; their C(port), C(transport), C(name), C(gateway_unit) and C(gateway_old_instances) are read,
        other keys are ignored.
      - A port held by the unit of one of the tunnel's C(gateway_old_instances) counts as its own, as the role stops
        that instance (left by a change of the site's C(mode)) before it starts the new one.
    type: list
    elements: dict
    default: []
  peer_fingerprint_laptops:
    description:
      - The laptops whose tunnels on this host use C(peer-fingerprint) (the gateway's, or a laptop's own), for the
        OpenVPN version check; empty skips it.
    type: list
    elements: str
    default: []
  proc_root:
    description: The kernel's C(net.ipv6.conf) tree, read for C(disable_ipv6); another path in unit tests.
    type: path
    default: /proc/sys/net/ipv6/conf
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode; it changes nothing in any mode.
requirements:
  - C(ss) (iproute2) on the managed host when O(tunnels) is not empty.
"""

EXAMPLES = r"""
- name: Refuse the gateway if a planned port is taken
  sixtunnel.openvpn.tunnel_preflight:
    host: "{{ inventory_hostname }}"
    tunnels:
      - {name: laptop1, port: 1195, transport: udp, gateway_unit: openvpn-server@sixtunnel-laptop1.service}
"""

RETURN = r"""
problems:
  description: Why the host cannot carry its tunnels, one sentence each, starting with O(host); empty when it can.
  returned: always
  type: list
  elements: str
listeners:
  description: Processes found on the planned ports, per C(transport/port), each with name, pid and cgroup.
  returned: always
  type: dict
  sample: {"udp/1195": [{"name": "openvpn", "pid": 812, "cgroup": "/system.slice/..."}]}
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._sockets import parse_ss


def cgroup_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def units_running(module: AnsibleModule, units: list[str]) -> dict[str, bool]:
    """{unit: whether it has a main process}, from one `systemctl show` for all units (blocks in order)."""
    systemctl = module.get_bin_path("systemctl", required=True)
    _rc, out, _err = module.run_command([systemctl, "show", "--property=MainPID", "--", *units], check_rc=True)
    pids = [block.strip().partition("=")[2] for block in out.strip("\n").split("\n\n")]
    return {unit: pid not in ("", "0") for unit, pid in zip(units, pids)}


def ipv6_problem(root: str) -> str | None:
    """Why new tunnel devices could not get IPv6 here, or None."""
    if not os.path.isdir(os.path.join(root, "all")):
        return f"IPv6 is off in the kernel ({root} is missing); boot without ipv6.disable=1"
    default = os.path.join(root, "default", "disable_ipv6")
    with open(default, encoding="ascii") as handle:
        off = handle.read().strip() != "0"
    # The file, not its directory: the kernel refuses writes to /proc/sys directories even where the files take them.
    if off and not os.access(default, os.W_OK):
        return (
            "new interfaces start with IPv6 off (net.ipv6.conf.default.disable_ipv6=1) and /proc/sys is read-only, "
            "so the up-script cannot turn it on for the tunnel device; set net.ipv6.conf.default.disable_ipv6=0"
        )
    return None


# peer-fingerprint came with OpenVPN 2.6.
PEER_FINGERPRINT_SINCE = (2, 6)
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def openvpn_version(module: AnsibleModule) -> tuple[str, str] | None:
    """(version, "is installed" or "would be installed") of OpenVPN here, or None where neither can be told."""
    openvpn = module.get_bin_path("openvpn")
    if openvpn:
        # Some releases exit 1 after printing their version: read the output, not the status.
        _rc, out, _err = module.run_command([openvpn, "--version"])
        found = re.search(r"OpenVPN (\d+\.\d+(?:\.\d+)?)", out)
        return (found.group(1), "is installed") if found else None
    apt_cache = module.get_bin_path("apt-cache")
    if apt_cache:
        _rc, out, _err = module.run_command([apt_cache, "policy", "openvpn"])
        found = re.search(r"Candidate:\s*(?:\d+:)?(\d+\.\d+(?:\.\d+)?)", out)
        return (found.group(1), "would be installed") if found else None
    return None


def version_problem(found: tuple[str, str] | None, laptops: list[str]) -> str | None:
    """Why OpenVPN here cannot carry these laptops' peer-fingerprint tunnels, or None."""
    if not laptops or found is None:
        return None
    version, how = found
    if tuple(int(part) for part in _VERSION.match(version).groups()[:2]) >= PEER_FINGERPRINT_SINCE:
        return None
    since = ".".join(map(str, PEER_FINGERPRINT_SINCE))
    return (
        f"OpenVPN {version} {how}, but peer_fingerprint (tunnels of {', '.join(laptops)}) needs OpenVPN {since} or "
        f"later; set sixtunnel_auth: static_key for them, or install OpenVPN {since}+ (a newer release of the "
        "distribution, its backports, or OpenVPN's own packages) before the run"
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            # Whole tunnel records; only the keys read below matter (the planner checked them).
            "tunnels": {"type": "list", "elements": "dict", "default": []},
            "peer_fingerprint_laptops": {"type": "list", "elements": "str", "default": []},
            "proc_root": {"type": "path", "default": "/proc/sys/net/ipv6/conf"},
        },
        supports_check_mode=True,
    )
    host = module.params["host"]
    problems = []
    ipv6 = ipv6_problem(module.params["proc_root"])
    if ipv6:
        problems.append(ipv6)
    laptops = module.params["peer_fingerprint_laptops"]
    version = version_problem(openvpn_version(module) if laptops else None, laptops)
    if version:
        problems.append(version)

    found = {}
    listeners = [
        {
            "port": int(t["port"]),
            "transport": t["transport"],
            "laptop": t["name"],
            "units": [t["gateway_unit"]] + [old["unit"] for old in t.get("gateway_old_instances") or []],
        }
        for t in module.params["tunnels"]
    ]
    if listeners:
        ss = module.get_bin_path("ss", required=True)
        bound = {}
        for transport in ("udp", "tcp"):
            _rc, out, _err = module.run_command([ss, "-Hlnp", "--" + transport], check_rc=True)
            bound[transport] = parse_ss(out)
        running = units_running(module, list(dict.fromkeys(u for listener in listeners for u in listener["units"])))
        for listener in listeners:
            port, transport = listener["port"], listener["transport"]
            holders = [(name, pid, cgroup_of(pid)) for name, pid in bound[transport].get(port, [])]
            found[f"{transport}/{port}"] = [{"name": n, "pid": p, "cgroup": c.strip()} for n, p, c in holders]
            units = listener["units"]
            foreign = [f"{name} (pid {pid})" for name, pid, cgroup in holders if not any(u in cgroup for u in units)]
            if port in bound[transport] and not holders and not any(running.get(unit) for unit in units):
                # A socket whose process ss may not name (see the description), while our unit is not running.
                foreign.append("a process that ss cannot name (one that dropped root, such as another OpenVPN)")
            if foreign:
                who = ", ".join(foreign)
                problems.append(
                    f"{transport.upper()} port {port}, planned for laptop {listener['laptop']}, is taken by {who}; "
                    "stop that process, or give the laptop another port (sixtunnel_port, or sixtunnel_site.port_base)"
                )
    problems = [f"{host}: {problem}" for problem in problems]
    if problems:
        module.fail_json(msg=" | ".join(problems), problems=problems, listeners=found)
    module.exit_json(changed=False, problems=[], listeners=found)


if __name__ == "__main__":
    main()
