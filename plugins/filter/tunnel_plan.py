# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tunnel_plan
short_description: Plan the IPv6-over-OpenVPN tunnels of all laptops of a site
version_added: 1.0.0
description:
  - Gives every laptop its own /64 out of the site prefix, the gateway and laptop addresses in it, an OpenVPN port, an
    interface name and its routed networks, and writes a ledger of every prefix in use.
  - A laptop's plan depends only on its own entry (its O(laptops[].tunnel_id)), never on its position in the list, so
    nothing moves when laptops are added, removed or reordered.
  - Refuses, with a message naming the laptop and the value, anything that would make two laptops share a /64, a
    routed network, a port or an interface, and any address outside the site prefix.
  - Pass the previous plan's C(ledger) back in O(ledger) so that the prefixes of laptops that left the inventory stay
    reserved.
  - Requires the Python library C(netaddr) on the controller.
positional: _input, laptops
options:
  _input:
    description:
      - The site. Keys not listed here are refused, so that a mistyped pool key cannot silently move every laptop.
      - Optional keys set to V(null) take their default.
    type: dict
    required: true
    suboptions:
      prefix:
        description:
          - The site prefix in CIDR form, for example V(2001:db8:abba::/48). IPv6, without host bits, shorter than
            /64; /60 or shorter unless both pools are given.
        type: string
        required: true
      tunnel_pool:
        description:
          - Where the tunnel /64s are numbered. Must lie inside O(_input.prefix) and be /64 or shorter.
          - Default is part 1 of the site prefix split into 16 equal parts (V(2001:db8:abba:1000::/52) for
            V(2001:db8:abba::/48)).
        type: string
      routed_pool:
        description:
          - Where V(auto) routed networks are numbered; laptop N's V(auto) network is the N-th /64 of this pool.
            Must lie inside O(_input.prefix) and not overlap the tunnel pool.
          - Default is part 2 of the site prefix split into 16 equal parts (V(2001:db8:abba:2000::/52) for
            V(2001:db8:abba::/48)).
        type: string
      port_base:
        description:
          - OpenVPN port of tunnel 0; tunnel N listens on O(_input.port_base) + N unless the laptop sets O(laptops[].port).
        type: int
        default: 1194
      gateway_host:
        description:
          - Interface identifier (host part) of the gateway's address in every tunnel /64, V(1) to V(2**64-1). V(0)
            is refused as it is the subnet-router anycast address.
        type: int
        default: 1
      laptop_host:
        description:
          - Interface identifier of the laptop's address in every tunnel /64; must differ from O(_input.gateway_host).
        type: int
        default: 2
      interface_prefix:
        description:
          - Tunnel interfaces are named O(_input.interface_prefix) followed by the tunnel id, for example V(sixt0),
            unless the laptop sets O(laptops[].interface).
        type: string
        default: sixt
      mode:
        description:
          - V(p2p) - one OpenVPN instance and port per laptop (OpenVPN's C(mode p2p), the seed's layout).
          - V(server) - one multi-client instance (OpenVPN's C(mode server), tun) on O(_input.port_base) for every
            peer-fingerprint laptop that does not ask for O(laptops[].dev_type=tap), and one on the same port over
            TCP if such a laptop uses TCP; their devices are O(_input.interface_prefix) followed by V(srv) and
            V(srv-tcp). Static-key and tap laptops keep their p2p instance beside it. Every laptop keeps its /64,
            addresses, routed networks and ledger row in either mode.
        type: string
        choices: [p2p, server]
        default: p2p
  laptops:
    description:
      - One entry per laptop, including laptops whose tunnel is to be removed (O(laptops[].state=absent)).
      - Other keys are ignored, so host variables can be passed as they are.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Unique, non-empty name of the laptop.
        type: string
        required: true
      tunnel_id:
        description:
          - Number of the laptop's /64 in the tunnel pool; never reuse the id of another laptop.
          - A string of digits is accepted, as INI inventories give one.
          - When missing, the error message proposes the lowest free id.
        type: int
        required: true
      state:
        description:
          - V(absent) keeps the laptop in the plan and its id, prefixes, port and interface reserved, so that roles can
            remove its tunnel.
        type: string
        choices: [present, absent]
        default: present
      routed_networks:
        description:
          - Networks behind the laptop, routed through its tunnel. Each an IPv6 CIDR network inside the site prefix and
            outside the tunnel pool, or the word V(auto) for the O(laptops[].tunnel_id)-th /64 of the routed pool.
        type: list
        elements: string
        default: []
      port:
        description:
          - OpenVPN port of this tunnel, V(1) to V(65535). Default O(_input.port_base) + O(laptops[].tunnel_id).
        type: int
      interface:
        description:
          - Name of the tunnel interface; at most 15 characters out of letters, digits, V(_) and V(-), starting with a
            letter or digit. Default O(_input.interface_prefix) followed by O(laptops[].tunnel_id).
        type: string
      auth:
        description:
          - How the two ends authenticate. V(peer_fingerprint) - a key pair on each end, each pinning the other's
            certificate fingerprint. V(static_key) - one shared key (deprecated by OpenVPN 2.7).
        type: string
        choices: [peer_fingerprint, static_key]
        default: peer_fingerprint
      dev_type:
        description:
          - V(tap) - an Ethernet link (neighbour discovery, the seed's choice). V(tun) - an IP link.
          - In a server-mode site (O(_input.mode=server)) a peer-fingerprint laptop defaults to V(tun) and joins the
            server instance; V(tap) keeps it on a p2p instance of its own. Joining laptops cannot set
            O(laptops[].port) or O(laptops[].tun_mtu) (one per instance).
        type: string
        choices: [tap, tun]
        default: tap
      proto:
        description:
          - The laptop's transport. V(udp) and V(tcp) take the gateway's address of either family; V(udp6) and
            V(tcp6) only IPv6. The gateway listens dual-stack either way.
        type: string
        choices: [udp, udp6, tcp, tcp6]
        default: udp
      managed:
        description:
          - V(false) for a laptop that Ansible never contacts; its profile is exported instead. V(true)/V(false) or
            the strings V(true), V(false), V(yes), V(no) (INI inventories).
        type: bool
        default: true
      verify_traffic:
        description:
          - Ping the gateway's end through the tunnel after each run and fail if it does not answer.
        type: bool
        default: true
      tls_crypt:
        description:
          - Protect the TLS control channel (C(tls-crypt) in a p2p instance, C(tls-crypt-v2) in a server instance),
            so a handshake without the key gets no answer. Default V(true) for O(laptops[].auth=peer_fingerprint),
            V(false) for V(static_key), which refuses V(true).
          - V(false) is refused for a laptop that joins a server instance (every laptop of it uses tls-crypt-v2).
          - Same forms as O(laptops[].managed).
        type: bool
      tun_mtu:
        description:
          - MTU of the tunnel device, V(1280) to V(1500), the same on both ends.
        type: int
        default: 1280
      remotes:
        description:
          - Where the laptop reaches the gateway, tried in order. Each a host name or address, or C({host, port})
            (port default O(laptops[].port)). Default O(gateway_remotes).
        type: list
        elements: raw
      http_proxy:
        description:
          - C({host, port}) of an HTTP proxy whose CONNECT carries the tunnel; only with O(laptops[].proto) V(tcp) or
            V(tcp6).
        type: dict
        default: {}
      export_dir:
        description:
          - Directory on the controller for this laptop's exported profile (laptops with O(laptops[].managed=false)).
            Default O(export_dir).
        type: path
  gateway_remotes:
    description:
      - The remotes of every laptop without O(laptops[].remotes); same shape. Checked (non-empty) only when a laptop
        relies on it. Without it such laptops get no remotes.
    type: list
    elements: raw
  export_dir:
    description:
      - Default of O(laptops[].export_dir).
    type: path
    default: ""
  ledger:
    description:
      - The RV(_value.ledger) of the previous plan.
      - Rows of laptops that are no longer in O(laptops) are carried over with C(state=absent) and keep their ids and
        prefixes reserved; another laptop claiming them is refused. Delete the rows by hand to free them.
      - Rows of laptops that are in O(laptops) are replaced by the new plan.
    type: list
    elements: dict
seealso:
  - plugin: sixtunnel.openvpn.tunnel_prefix
    plugin_type: filter
    description: The /64 of one tunnel, by the same rules.
"""

EXAMPLES = r"""
---
- name: Plan the tunnels of two laptops
  ansible.builtin.debug:
    msg: >-
      {{ {'prefix': '2001:db8:abba::/48'}
         | sixtunnel.openvpn.tunnel_plan([
             {'name': 'laptop1', 'tunnel_id': 0, 'routed_networks': ['auto']},
             {'name': 'laptop2', 'tunnel_id': 1, 'state': 'absent'},
           ]) }}
  # laptop1: prefix 2001:db8:abba:1000::/64, gateway 2001:db8:abba:1000::1/64,
  # laptop 2001:db8:abba:1000::2/64, port 1194, interface sixt0, routes 2001:db8:abba:2000::/64

- name: Plan again, keeping the prefixes of laptops that left the inventory reserved
  vars:
    sixtunnel_plan: >-
      {{ sixtunnel_site | sixtunnel.openvpn.tunnel_plan(sixtunnel_laptops, ledger=sixtunnel_previous_ledger) }}
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.laptop_address }} via {{ item.interface }} on port {{ item.port }}"
  loop: "{{ sixtunnel_plan.tunnels }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
_value:
  description:
    - The plan. Plain dictionaries, lists, strings and integers; addresses in compressed lowercase form.
  type: dict
  contains:
    site:
      description:
        - The site as planned, with the pools actually used.
        - Keys C(prefix), C(tunnel_pool), C(routed_pool) (strings) and C(port_base) (integer).
      type: dict
      sample:
        prefix: 2001:db8:abba::/48
        tunnel_pool: 2001:db8:abba:1000::/52
        routed_pool: 2001:db8:abba:2000::/52
        port_base: 1194
    tunnels:
      description:
        - One entry per laptop in O(laptops), absent ones included, sorted by C(tunnel_id).
        - A complete tunnel record; the roles render these fields and derive none. Keys C(name), C(tunnel_id),
          C(state), C(managed), C(prefix), C(gateway_address), C(laptop_address) (addresses with /64), C(gateway_ip),
          C(laptop_ip) (bare addresses), C(port), C(interface) (the laptop's device), C(mode) (V(p2p) or V(server), the
          gateway instance's), C(gateway_interface) (the gateway's device), C(routed_networks), C(auth), C(dev_type), C(tun_mtu),
          C(proto) (the laptop's), C(transport) (V(udp) or V(tcp)), C(gateway_proto) and C(laptop_proto) (the
          OpenVPN C(proto) line of each end), C(remotes) (C({host, port}) each), C(http_proxy), C(remote_ports)
          (where the laptop's OpenVPN packets go), C(verify_traffic), C(tls_crypt) (whether the control channel is
          protected), C(tls_crypt_option) (V(tls-crypt) in mode p2p, V(tls-crypt-v2) in mode server, empty without
          protection), C(gateway_tls_crypt_key) (the path of the key the laptop gets, as the gateway keeps it;
          empty without protection), C(export_dir), and the gateway's names
          C(gateway_instance), C(gateway_dir), C(gateway_config), C(gateway_unit), C(gateway_management) (the
          instance's management socket, Unix, root only), C(gateway_laptop_dir) (where the gateway keeps an
          unmanaged laptop's key pair) and C(gateway_old_instances) (C({instance, dir, config, unit}) of each instance
          this tunnel may have used under the other O(_input.mode) or transport; the gateway removes those that exist
          and that no present tunnel uses).
      type: list
      elements: dict
      sample:
        - name: laptop1
          tunnel_id: 0
          state: present
          managed: true
          prefix: 2001:db8:abba:1000::/64
          gateway_address: 2001:db8:abba:1000::1/64
          laptop_address: 2001:db8:abba:1000::2/64
          gateway_ip: 2001:db8:abba:1000::1
          laptop_ip: 2001:db8:abba:1000::2
          port: 1194
          interface: sixt0
          mode: p2p
          gateway_interface: sixt0
          routed_networks:
          - 2001:db8:abba:2000::/64
          auth: peer_fingerprint
          dev_type: tap
          tun_mtu: 1280
          proto: udp
          transport: udp
          gateway_proto: udp6
          laptop_proto: udp
          remotes:
          - host: gateway.example.org
            port: 1194
          http_proxy: {}
          remote_ports:
          - 1194
          verify_traffic: true
          tls_crypt: true
          tls_crypt_option: tls-crypt
          gateway_tls_crypt_key: /etc/openvpn/server/sixtunnel-laptop1/tls-crypt.key
          export_dir: /srv/exports
          gateway_instance: sixtunnel-laptop1
          gateway_dir: /etc/openvpn/server/sixtunnel-laptop1
          gateway_config: /etc/openvpn/server/sixtunnel-laptop1.conf
          gateway_unit: openvpn-server@sixtunnel-laptop1.service
          gateway_management: /etc/openvpn/server/sixtunnel-laptop1/management.sock
          gateway_laptop_dir: /etc/openvpn/server/sixtunnel-laptop1/laptop
          gateway_old_instances:
          - instance: sixtunnel_server
            dir: /etc/openvpn/server/sixtunnel_server
            config: /etc/openvpn/server/sixtunnel_server.conf
            unit: openvpn-server@sixtunnel_server.service
          - instance: sixtunnel_server-tcp
            dir: /etc/openvpn/server/sixtunnel_server-tcp
            config: /etc/openvpn/server/sixtunnel_server-tcp.conf
            unit: openvpn-server@sixtunnel_server-tcp.service
    ledger:
      description:
        - One row per tunnel /64 and per routed network, sorted by prefix, including the rows carried over from
          O(ledger) for laptops that left the inventory (with C(state=absent)). Store it and pass it back next time.
        - Keys C(prefix), C(use) (V(tunnel) or V(routed)), C(laptop), C(tunnel_id) and C(state).
      type: list
      elements: dict
      sample:
        - prefix: 2001:db8:abba:1000::/64
          use: tunnel
          laptop: laptop1
          tunnel_id: 0
          state: present
        - prefix: 2001:db8:abba:2000::/64
          use: routed
          laptop: laptop1
          tunnel_id: 0
          state: present
"""

import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import (
    HAS_NETADDR,
    TunnelPlanError,
    plan_tunnels,
)


def tunnel_plan_filter(
    site: Mapping[str, t.Any],
    laptops: list[dict],
    ledger: list[dict] | None = None,
    gateway_remotes: list | None = None,
    export_dir: str | None = None,
) -> dict:
    if not isinstance(site, Mapping):
        raise AnsibleFilterError(
            "The input for the sixtunnel.openvpn.tunnel_plan filter must be a dictionary (the site);"
            f" got {type(site)} instead"
        )
    if not HAS_NETADDR:
        raise AnsibleFilterError(missing_required_lib("netaddr"))
    try:
        return plan_tunnels(site, laptops, ledger=ledger, gateway_remotes=gateway_remotes, export_dir=export_dir)
    except TunnelPlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """Ansible jinja2 filters"""

    def filters(self) -> dict[str, t.Callable]:
        return {
            "tunnel_plan": tunnel_plan_filter,
        }
