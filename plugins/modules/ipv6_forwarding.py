#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipv6_forwarding
short_description: Turn on IPv6 forwarding without losing the routes that router advertisements gave the host
version_added: 1.0.0
description:
  - Makes the host an IPv6 router (C(net.ipv6.conf.all.forwarding=1)), live and in a C(sysctl.d) file, and keeps
    router advertisements working on the interfaces that used them.
  - Linux ignores router advertisements on a forwarding interface unless its C(accept_ra) is 2, and when
    forwarding is turned on it deletes every route learned from them except on interfaces with C(accept_ra=2).
    A gateway or routing laptop whose uplink takes its default route from advertisements would lose it at
    once, and for good. So, before forwarding is turned on, every interface that uses advertisements gets
    C(accept_ra=2), that is one with C(accept_ra=1) while it does not forward yet, or one with C(accept_ra=2) already
    (this module's earlier runs). Interfaces that already forward with C(accept_ra=1) (the admin's own router
    set-up) and the C(all), C(default) and C(lo) entries are left as they are.
  - The file lists the C(accept_ra) lines before the forwarding line, so systemd-sysctl applies them in the
    same order at boot.
  - Why not M(ansible.posix.sysctl)? The interfaces to change are read from C(/proc/sys) on the host, and they
    must be written before forwarding; one module does the reading, the ordered writes and one file in one
    round trip, where the sysctl module needs a read task and one task per key.
options:
  path:
    description: The C(sysctl.d) file this module owns; written whole.
    type: path
    default: /etc/sysctl.d/60-sixtunnel-forwarding.conf
  proc_root:
    description: The kernel's C(net.ipv6.conf) tree, read for C(accept_ra) and written; another path in unit tests.
    type: path
    default: /proc/sys/net/ipv6/conf
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode and diff mode.
  - A read-only C(/proc/sys) (containers) is only a failure where a value must change; the message says what
    to set at the container's start.
seealso:
  - name: Linux ip-sysctl documentation (accept_ra, forwarding)
    description: The kernel's description of the IPv6 forwarding and accept_ra settings this module sets.
    link: https://docs.kernel.org/networking/ip-sysctl.html
"""

EXAMPLES = r"""
- name: Route IPv6 between the tunnels and the site, keeping the uplink's router advertisements
  sixtunnel.openvpn.ipv6_forwarding:
  register: forwarding

- name: Show the interfaces that keep router advertisements
  ansible.builtin.debug:
    msg: "{{ forwarding.ra_interfaces }}"
"""

RETURN = r"""
ra_interfaces:
  description: Interfaces that keep accepting router advertisements (C(accept_ra=2)), sorted.
  returned: always
  type: list
  elements: str
  sample: [eth0]
written:
  description: The C(/proc/sys) keys this run wrote (or would write, in check mode), in order.
  returned: always
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

SKIPPED = {"all", "default", "lo"}


def read_value(path: str) -> str:
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def ra_interfaces(conf: dict[str, dict[str, str]]) -> list[str]:
    """Interfaces that use router advertisements, from {interface: {"accept_ra": "1", "forwarding": "0"}}."""
    chosen = []
    for name, values in conf.items():
        if name in SKIPPED:
            continue
        accept_ra, forwarding = values.get("accept_ra"), values.get("forwarding")
        if accept_ra == "2" or (accept_ra == "1" and forwarding == "0"):
            chosen.append(name)
    return sorted(chosen)


def sysctl_key(interface: str) -> str:
    # sysctl separates with dots, so a dot in an interface name (VLAN eth0.7) is written as a slash.
    return f"net.ipv6.conf.{interface.replace('.', '/')}.accept_ra"


def file_content(interfaces: list[str]) -> str:
    lines = ["# Written by sixtunnel.openvpn: route IPv6, and keep the router advertisements of these uplinks."]
    lines += [f"{sysctl_key(name)} = 2" for name in interfaces]
    lines.append("net.ipv6.conf.all.forwarding = 1")
    return "\n".join(lines) + "\n"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/sysctl.d/60-sixtunnel-forwarding.conf"},
            "proc_root": {"type": "path", "default": "/proc/sys/net/ipv6/conf"},
        },
        supports_check_mode=True,
    )
    root = module.params["proc_root"]
    if not os.path.isdir(os.path.join(root, "all")):
        module.fail_json(msg=f"IPv6 is off in this host's kernel ({root} is missing): boot without ipv6.disable=1")
    conf = {}
    for name in os.listdir(root):
        conf[name] = {key: read_value(os.path.join(root, name, key)) for key in ("accept_ra", "forwarding")}
    interfaces = ra_interfaces(conf)

    # Order matters: accept_ra=2 first, or turning forwarding on deletes the routes learned from advertisements.
    wanted = [(os.path.join(root, name, "accept_ra"), "2") for name in interfaces]
    wanted.append((os.path.join(root, "all", "forwarding"), "1"))
    to_write = [(path, value) for path, value in wanted if read_value(path) != value]
    for path, value in to_write:
        if module.check_mode:
            continue
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as exc:
            module.fail_json(
                msg=f"cannot set {path} to {value}: {exc.strerror}. Where /proc/sys is read-only (a container), "
                "set it when the host starts (podman/docker --sysctl) or make /proc/sys writable",
                ra_interfaces=interfaces,
            )

    path = module.params["path"]
    content = file_content(interfaces)
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    file_changed = old != content
    if file_changed and not module.check_mode:
        module.atomic_move(_write_temp(module, content), path)
        module.set_mode_if_different(path, "0644", False)
    module.exit_json(
        changed=bool(to_write) or file_changed,
        ra_interfaces=interfaces,
        written=[path for path, _value in to_write],
        diff={"before": old, "after": content, "before_header": path, "after_header": path},
    )


def _write_temp(module: AnsibleModule, content: str) -> str:
    descriptor, temp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(content)
    return temp


if __name__ == "__main__":
    main()
