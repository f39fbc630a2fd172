# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tunnel_prefix
short_description: The /64 of one OpenVPN tunnel, numbered inside the site prefix
version_added: 1.0.0
description:
  - Returns the O(tunnel_id)-th /64 of the tunnel pool, for example V(2001:db8:abba:1000::/64) for tunnel 0 of the
    site V(2001:db8:abba::/48).
  - The default tunnel pool is part 1 of the site prefix split into 16 equal parts, so V(2001:db8:abba:1000::/52) for
    V(2001:db8:abba::/48). Part 2 is the default pool for routed networks, see P(sixtunnel.openvpn.tunnel_plan#filter).
  - The result depends only on the site prefix, the pool and the id, never on other laptops, so a tunnel keeps its
    prefix when the inventory changes.
  - Requires the Python library C(netaddr) on the controller.
positional: _input, tunnel_id
options:
  _input:
    description:
      - The site prefix in CIDR form, for example V(2001:db8:abba::/48).
      - Must be IPv6, without host bits, and shorter than /64; /60 or shorter unless O(pool) is given.
    type: string
    required: true
  tunnel_id:
    description:
      - Number of the tunnel inside the pool, from V(0) up to the number of /64s in the pool minus one.
      - A string of digits is accepted, as INI inventories give one.
    type: int
    required: true
  pool:
    description:
      - The tunnel pool in CIDR form. Must be IPv6, without host bits, inside the site prefix and /64 or shorter.
      - When not given, part 1 of the site prefix split into 16 equal parts.
    type: string
seealso:
  - plugin: sixtunnel.openvpn.tunnel_plan
    plugin_type: filter
  - plugin: ansible.utils.ipsubnet
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Show the /64 of tunnel 0 (2001:db8:abba:1000::/64)
  ansible.builtin.debug:
    msg: "{{ '2001:db8:abba::/48' | sixtunnel.openvpn.tunnel_prefix(0) }}"

- name: Show the /64 of this laptop's tunnel from a pool chosen by hand (2001:db8:abba:ff03::/64)
  ansible.builtin.debug:
    msg: "{{ '2001:db8:abba::/48' | sixtunnel.openvpn.tunnel_prefix(3, pool='2001:db8:abba:ff00::/56') }}"
"""

RETURN = r"""
_value:
  description:
    - The tunnel's /64 in compressed lowercase CIDR form, for example V(2001:db8:abba:1001::/64).
  type: string
"""

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import (
    HAS_NETADDR,
    TunnelPlanError,
    tunnel_prefix,
)


def tunnel_prefix_filter(site_prefix: str, tunnel_id: int | str, pool: str | None = None) -> str:
    if not isinstance(site_prefix, str):
        raise AnsibleFilterError(
            "The input for the sixtunnel.openvpn.tunnel_prefix filter must be a string (the site prefix);"
            f" got {type(site_prefix)} instead"
        )
    if not HAS_NETADDR:
        raise AnsibleFilterError(missing_required_lib("netaddr"))
    try:
        return tunnel_prefix(site_prefix, tunnel_id, pool=pool)
    except TunnelPlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """Ansible jinja2 filters"""

    def filters(self) -> dict[str, t.Callable]:
        return {
            "tunnel_prefix": tunnel_prefix_filter,
        }
