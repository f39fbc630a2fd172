# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Address planner for IPv6 tunnelled over OpenVPN from laptops to a site gateway.

Pure Python: netaddr only parses and formats addresses, all arithmetic is on integers,
so the filters can share it and it can be tested without Ansible.

Every laptop's /64 is derived from its own ``tunnel_id`` alone, never from its position
in the inventory, so adding, removing or reordering laptops moves nobody.
"""

from __future__ import annotations

import re
import string
import typing as t
from collections.abc import Mapping
from operator import attrgetter, itemgetter

try:
    import netaddr
    from netaddr.strategy import ipv6 as _netaddr_ipv6
except ImportError:
    HAS_NETADDR = False
else:
    HAS_NETADDR = True


IPV6_BITS = 128
TUNNEL_PREFIXLEN = 64
HOST_BITS = IPV6_BITS - TUNNEL_PREFIXLEN
# A tunnel interface holds 2**64 addresses; 0 is the subnet-router anycast address.
MAX_HOST = 2**HOST_BITS - 1

# The site prefix is split into 16 equal parts (4 more prefix bits), as in the manual
# procedure: part 1 (2001:db8:abba:1000::/52) holds tunnels, part 2 routed networks.
POOL_PART_BITS = 4
TUNNEL_POOL_PART = 1
ROUTED_POOL_PART = 2
# Longest site prefix whose 16 parts are still /64 or shorter.
MAX_SITE_PREFIXLEN_FOR_DEFAULT_POOLS = TUNNEL_PREFIXLEN - POOL_PART_BITS

DEFAULT_PORT_BASE = 1194
DEFAULT_GATEWAY_HOST = 1
DEFAULT_LAPTOP_HOST = 2
DEFAULT_INTERFACE_PREFIX = "sixt"
MIN_PORT = 1
MAX_PORT = 65535
# Linux IFNAMSIZ is 16 bytes including the terminating NUL.
MAX_INTERFACE_LENGTH = 15

AUTO = "auto"
STATES = ("present", "absent")
AUTHS = ("peer_fingerprint", "static_key")
DEV_TYPES = ("tap", "tun")
PROTOS = ("udp", "udp6", "tcp", "tcp6")
# 1280 is IPv6's minimum link MTU; 1500 the Ethernet path the outer packets must fit in.
MIN_TUN_MTU, MAX_TUN_MTU, DEFAULT_TUN_MTU = 1280, 1500, 1280
# The distribution's openvpn-server@ unit reads only this directory (Debian and RHEL alike).
GATEWAY_CONFIG_DIR = "/etc/openvpn/server"
GATEWAY_INSTANCE_PREFIX = "sixtunnel-"
GATEWAY_UNIT_TEMPLATE = "openvpn-server@"
# Where the gateway keeps the key pair of a laptop that Ansible does not manage, inside the tunnel's directory.
GATEWAY_LAPTOP_SUBDIR = "laptop"
# Each gateway instance's management interface, a Unix socket in its directory (never a TCP port); sun_path holds
# at most 107 bytes and a NUL.
GATEWAY_MANAGEMENT_SOCKET = "management.sock"
MAX_UNIX_SOCKET_PATH = 107
_BOOLEAN_TEXT = {"true": True, "yes": True, "false": False, "no": False}
LEDGER_USES = ("tunnel", "routed")
SITE_KEYS = (
    "prefix",
    "tunnel_pool",
    "routed_pool",
    "port_base",
    "gateway_host",
    "laptop_host",
    "interface_prefix",
    "mode",
)
# OpenVPN's own terms (--mode): p2p, one instance per laptop (the article's layout); server, one multi-client
# instance per transport for every laptop that can join it (docs/design.md, Server mode).
MODES = ("p2p", "server")
# Server-mode instances: "_" cannot follow "sixtunnel-" in a p2p instance, so no laptop name collides with them.
SERVER_INSTANCE = {"udp": "sixtunnel_server", "tcp": "sixtunnel_server-tcp"}
# Their devices: the site's interface prefix and these; p2p devices end in the tunnel id, a digit.
SERVER_DEVICE_SUFFIX = {"udp": "srv", "tcp": "srv-tcp"}
# Where a server instance keeps the key pair of a laptop that Ansible does not manage, one directory each.
SERVER_LAPTOP_SUBDIR = "unmanaged"
# Control-channel protection (OpenVPN's option names): one shared key per p2p tunnel; in a server instance each
# laptop's own client key, made from the instance's server key (docs/operations.md, Control channel).
TLS_CRYPT_OPTION = {"p2p": "tls-crypt", "server": "tls-crypt-v2"}
# The key the laptop gets, as the gateway keeps it: in the p2p tunnel's directory; in a server instance's
# directory, one directory per laptop (tunnel_keys makes one file per directory).
TLS_CRYPT_KEY_FILE = {"p2p": "tls-crypt.key", "server": "tls-crypt-v2-client.key"}
SERVER_TLS_CRYPT_SUBDIR = "tls-crypt-v2"

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_INTERFACE_CHARACTERS = re.compile(r"[A-Za-z0-9_-]*")
_ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)


class TunnelPlanError(ValueError):
    """An input that cannot be planned; the message names the filter, the laptop and the value."""


# --- small helpers ---------------------------------------------------------------------------


def _require_netaddr(caller: str) -> None:
    if not HAS_NETADDR:
        raise ImportError(f"{caller}: the netaddr Python library is required")


def _kind(value: t.Any) -> str:
    """Type name for messages; Ansible passes tagged/lazy subclasses whose names mean nothing to users."""
    if value is None:
        return "None"
    for kind, types in (("bool", bool), ("int", int), ("str", str), ("dict", Mapping), ("list", (list, tuple))):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _show(value: t.Any) -> str:
    if isinstance(value, str):
        return repr(str(value))
    return repr(value)


def _as_int(value: t.Any) -> int | None:
    """Return value as a plain int, or None if it is not one.

    Digit strings are accepted because INI inventories give every variable as a string;
    bools and floats are refused because they are almost always a mistake here.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        try:
            return int(value)
        except ValueError:
            # More digits than Python converts (sys.get_int_max_str_digits): no id or port anyway.
            return None
    return None


def _format_ip(value: int) -> str:
    return _netaddr_ipv6.int_to_str(value)


def _format_net(start: int, prefixlen: int) -> str:
    return f"{_netaddr_ipv6.int_to_str(start)}/{prefixlen}"


def _net_end(start: int, prefixlen: int) -> int:
    return start + (1 << (IPV6_BITS - prefixlen)) - 1


def _contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[1] <= inner[1] and outer[0] <= inner[0] and _net_end(*inner) <= _net_end(*outer)


def _overlaps(first: tuple[int, int], second: tuple[int, int]) -> bool:
    return first[0] <= _net_end(*second) and second[0] <= _net_end(*first)


def _subnet_count(pool: tuple[int, int]) -> int:
    return 1 << (TUNNEL_PREFIXLEN - pool[1])


def _nth_subnet(pool: tuple[int, int], index: int) -> int:
    return pool[0] + (index << HOST_BITS)


def _parse_network(value: t.Any, what: str, caller: str) -> tuple[int, int]:
    """Parse an IPv6 network in CIDR form into (first address as int, prefix length)."""
    if not isinstance(value, str) or "/" not in value:
        raise TunnelPlanError(f"{caller}: {what} {_show(value)} is not an IPv6 network in CIDR form")
    try:
        network = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise TunnelPlanError(f"{caller}: {what} {_show(value)} is not an IPv6 network in CIDR form") from None
    if network.version != 6:
        raise TunnelPlanError(f"{caller}: {what} {_show(value)} is IPv4; only IPv6 is tunnelled")
    start, prefixlen = network.first, network.prefixlen
    if network.value != start:
        raise TunnelPlanError(
            f"{caller}: {what} {_show(value)} has host bits set; did you mean {_format_net(start, prefixlen)}?"
        )
    return start, prefixlen


def _parse_site_prefix(value: t.Any, caller: str) -> tuple[int, int]:
    prefix = _parse_network(value, "site prefix", caller)
    if prefix[1] >= TUNNEL_PREFIXLEN:
        raise TunnelPlanError(
            f"{caller}: site prefix {_format_net(*prefix)} is too long; it must be shorter than /64 to hold /64 tunnels"
        )
    return prefix


def _default_pool(site_prefix: tuple[int, int], part: int, caller: str, remedy: str) -> tuple[int, int]:
    if site_prefix[1] > MAX_SITE_PREFIXLEN_FOR_DEFAULT_POOLS:
        raise TunnelPlanError(
            f"{caller}: site prefix {_format_net(*site_prefix)} is too long for the default pools "
            f"(/{MAX_SITE_PREFIXLEN_FOR_DEFAULT_POOLS} or shorter); {remedy}"
        )
    prefixlen = site_prefix[1] + POOL_PART_BITS
    return site_prefix[0] + (part << (IPV6_BITS - prefixlen)), prefixlen


def _parse_pool(value: t.Any, what: str, site_prefix: tuple[int, int], caller: str) -> tuple[int, int]:
    pool = _parse_network(value, what, caller)
    if pool[1] > TUNNEL_PREFIXLEN:
        raise TunnelPlanError(f"{caller}: {what} {_format_net(*pool)} is too long; a pool must be /64 or shorter")
    if not _contains(site_prefix, pool):
        raise TunnelPlanError(
            f"{caller}: {what} {_format_net(*pool)} is not inside the site prefix {_format_net(*site_prefix)}"
        )
    return pool


def _id_range(pool: tuple[int, int]) -> str:
    return f"ids 0..{_subnet_count(pool) - 1}"


def _interface_problem(interface: str) -> str | None:
    if not interface:
        return "is empty"
    if len(interface) > MAX_INTERFACE_LENGTH:
        return f"is longer than {MAX_INTERFACE_LENGTH} characters"
    if not _INTERFACE_CHARACTERS.fullmatch(interface):
        return "may only contain letters, digits, '_' and '-'"
    if interface[0] not in _ALPHANUMERIC:
        return "must start with a letter or digit"
    return None


# --- public single-prefix helper -------------------------------------------------------------


def tunnel_prefix(site_prefix: str, tunnel_id: int | str, pool: str | None = None) -> str:
    """The ``tunnel_id``-th /64 of ``pool`` (default: part 1 of the site prefix split into 16 equal parts)."""
    caller = "tunnel_prefix"
    _require_netaddr(caller)
    site = _parse_site_prefix(site_prefix, caller)
    if pool is None:
        tunnel_pool = _default_pool(site, TUNNEL_POOL_PART, caller, "pass pool")
    else:
        tunnel_pool = _parse_pool(pool, "pool", site, caller)
    number = _as_int(tunnel_id)
    if number is None:
        raise TunnelPlanError(f"{caller}: tunnel_id {_show(tunnel_id)} is not an integer")
    if number < 0:
        raise TunnelPlanError(f"{caller}: tunnel_id {number} is negative")
    if number >= _subnet_count(tunnel_pool):
        raise TunnelPlanError(
            f"{caller}: tunnel_id {number} is outside the tunnel pool {_format_net(*tunnel_pool)} "
            f"({_id_range(tunnel_pool)})"
        )
    return _format_net(_nth_subnet(tunnel_pool, number), TUNNEL_PREFIXLEN)


# --- plan_tunnels ----------------------------------------------------------------------------


class _Site:
    __slots__ = (
        "gateway_host",
        "interface_prefix",
        "laptop_host",
        "mode",
        "port_base",
        "prefix",
        "routed_pool",
        "tunnel_pool",
    )


class _Laptop:
    __slots__ = (
        "auth",
        "dev_type",
        "export_dir",
        "http_proxy",
        "interface",
        "managed",
        "mode",
        "name",
        "port",
        "proto",
        "remotes",
        "routed",
        "state",
        "tls_crypt",
        "tun_mtu",
        "tunnel_id",
        "tunnel_start",
        "verify_traffic",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.tunnel_id: int | None = None
        self.state = "present"
        # (start, prefixlen) per routed network; "auto" entries are resolved once ids are checked.
        self.routed: list[tuple[int, int] | str] = []
        self.port: int | None = None
        self.interface: str | None = None
        self.tunnel_start = 0
        self.auth = AUTHS[0]
        self.dev_type = DEV_TYPES[0]
        self.proto = PROTOS[0]
        self.managed = True
        # The gateway instance this laptop's tunnel ends in: its own ("p2p") or the shared one ("server").
        self.mode = MODES[0]
        self.verify_traffic = True
        # None: not set in the inventory (on for peer-fingerprint tunnels); True/False: as set.
        self.tls_crypt: bool | None = None
        self.tun_mtu = DEFAULT_TUN_MTU
        # (host, port or None for the tunnel's own port); None: the gateway's remotes.
        self.remotes: list[tuple[str, int | None]] | None = None
        self.http_proxy: tuple[str, int] | None = None
        self.export_dir: str | None = None


class _Reservation:
    """A ledger row of a laptop that is no longer in the inventory."""

    __slots__ = ("laptop", "network", "tunnel_id", "use")

    def __init__(self, laptop: str, use: str, tunnel_id: int, network: tuple[int, int]) -> None:
        self.laptop = laptop
        self.use = use
        self.tunnel_id = tunnel_id
        self.network = network


def _site_int(site: Mapping, key: str, default: int, low: int, high: int, caller: str) -> int:
    raw = site.get(key)
    if raw is None:
        return default
    value = _as_int(raw)
    if value is None:
        raise TunnelPlanError(f"{caller}: site {key} {_show(raw)} is not an integer")
    if not low <= value <= high:
        raise TunnelPlanError(f"{caller}: site {key} {value} is outside {low}..{high}")
    return value


def _site_host(site: Mapping, key: str, default: int, caller: str) -> int:
    # Refused before the range check so the message says why 0 is wrong, not just that it is.
    if _as_int(site.get(key)) == 0:
        raise TunnelPlanError(f"{caller}: site {key} 0 is the subnet-router anycast address; use 1..{MAX_HOST}")
    return _site_int(site, key, default, 1, MAX_HOST, caller)


def _parse_site(site: t.Any, caller: str) -> _Site:
    if not isinstance(site, Mapping):
        raise TunnelPlanError(f"{caller}: site must be a dict; got {_kind(site)}")
    # A mistyped pool key would silently fall back to the default pool and move every laptop.
    unknown = sorted(str(key) for key in site if key not in SITE_KEYS)
    if unknown:
        raise TunnelPlanError(f"{caller}: site has unknown key {unknown[0]!r}; known keys are {', '.join(SITE_KEYS)}")
    if site.get("prefix") is None:
        raise TunnelPlanError(f"{caller}: site has no prefix")
    plan_site = _Site()
    plan_site.prefix = prefix = _parse_site_prefix(site["prefix"], caller)

    pools = {}
    for key, part in (("tunnel_pool", TUNNEL_POOL_PART), ("routed_pool", ROUTED_POOL_PART)):
        if site.get(key) is None:
            pools[key] = _default_pool(prefix, part, caller, f"set {key}")
        else:
            pools[key] = _parse_pool(site[key], f"site {key}", prefix, caller)
    plan_site.tunnel_pool, plan_site.routed_pool = pools["tunnel_pool"], pools["routed_pool"]
    if _overlaps(plan_site.tunnel_pool, plan_site.routed_pool):
        raise TunnelPlanError(
            f"{caller}: site routed_pool {_format_net(*plan_site.routed_pool)} overlaps "
            f"tunnel_pool {_format_net(*plan_site.tunnel_pool)}"
        )

    plan_site.port_base = _site_int(site, "port_base", DEFAULT_PORT_BASE, MIN_PORT, MAX_PORT, caller)
    plan_site.gateway_host = _site_host(site, "gateway_host", DEFAULT_GATEWAY_HOST, caller)
    plan_site.laptop_host = _site_host(site, "laptop_host", DEFAULT_LAPTOP_HOST, caller)
    if plan_site.gateway_host == plan_site.laptop_host:
        raise TunnelPlanError(
            f"{caller}: site gateway_host and laptop_host are both {plan_site.gateway_host}; they must differ"
        )

    interface_prefix = site.get("interface_prefix")
    if interface_prefix is None:
        interface_prefix = DEFAULT_INTERFACE_PREFIX
    if not isinstance(interface_prefix, str):
        raise TunnelPlanError(f"{caller}: site interface_prefix {_show(interface_prefix)} is not a string")
    interface_prefix = str(interface_prefix)
    where = f"{caller}: site interface_prefix {interface_prefix!r}"
    if len(interface_prefix) >= MAX_INTERFACE_LENGTH:
        raise TunnelPlanError(f"{where} leaves no room for the id in {MAX_INTERFACE_LENGTH} characters")
    if not _INTERFACE_CHARACTERS.fullmatch(interface_prefix):
        raise TunnelPlanError(f"{where} may only contain letters, digits, '_' and '-'")
    # Empty is fine: the names are then the bare ids, which start with a digit.
    if interface_prefix and interface_prefix[0] not in _ALPHANUMERIC:
        raise TunnelPlanError(f"{where} must start with a letter or digit")
    plan_site.interface_prefix = interface_prefix

    mode = site.get("mode")
    if mode is None:
        mode = MODES[0]
    if mode not in MODES:
        raise TunnelPlanError(f"{caller}: site mode {_show(mode)} is not one of {', '.join(map(repr, MODES))}")
    plan_site.mode = str(mode)
    return plan_site


def _parse_laptop(index: int, raw: t.Any, site: _Site, caller: str) -> _Laptop:
    if not isinstance(raw, Mapping):
        raise TunnelPlanError(f"{caller}: laptops[{index}] must be a dict; got {_kind(raw)}")
    name = raw.get("name")
    if name is None:
        raise TunnelPlanError(f"{caller}: laptops[{index}] has no name")
    if not isinstance(name, str) or not name:
        raise TunnelPlanError(f"{caller}: laptops[{index}]: name {_show(name)} must be a non-empty string")
    laptop = _Laptop(str(name))
    who = f"{caller}: laptop '{laptop.name}'"

    raw_id = raw.get("tunnel_id")
    if raw_id is not None:
        tunnel_id = _as_int(raw_id)
        if tunnel_id is None:
            raise TunnelPlanError(f"{who}: tunnel_id {_show(raw_id)} is not an integer")
        if tunnel_id < 0:
            raise TunnelPlanError(f"{who}: tunnel_id {tunnel_id} is negative")
        laptop.tunnel_id = tunnel_id

    state = raw.get("state")
    if state is not None:
        if state not in STATES:
            raise TunnelPlanError(f"{who}: state {_show(state)} is not one of 'present', 'absent'")
        laptop.state = str(state)

    routed_networks = raw.get("routed_networks")
    if routed_networks is not None:
        if not isinstance(routed_networks, (list, tuple)):
            raise TunnelPlanError(f"{who}: routed_networks must be a list; got {_kind(routed_networks)}")
        for value in routed_networks:
            if value == AUTO:
                laptop.routed.append(AUTO)
                continue
            network = _parse_network(value, f"laptop '{laptop.name}': routed network", caller)
            if not _contains(site.prefix, network):
                raise TunnelPlanError(
                    f"{who}: routed network {_format_net(*network)} is outside the site prefix "
                    f"{_format_net(*site.prefix)}"
                )
            if _overlaps(network, site.tunnel_pool):
                raise TunnelPlanError(
                    f"{who}: routed network {_format_net(*network)} overlaps the tunnel pool "
                    f"{_format_net(*site.tunnel_pool)}"
                )
            laptop.routed.append(network)

    raw_port = raw.get("port")
    if raw_port is not None:
        port = _as_int(raw_port)
        if port is None:
            raise TunnelPlanError(f"{who}: port {_show(raw_port)} is not an integer")
        if not MIN_PORT <= port <= MAX_PORT:
            raise TunnelPlanError(f"{who}: port {port} is outside {MIN_PORT}..{MAX_PORT}")
        laptop.port = port

    interface = raw.get("interface")
    if interface is not None:
        if not isinstance(interface, str):
            raise TunnelPlanError(f"{who}: interface {_show(interface)} is not a string")
        problem = _interface_problem(interface)
        if problem:
            raise TunnelPlanError(f"{who}: interface {_show(interface)} {problem}")
        laptop.interface = str(interface)
    _parse_connection(raw, laptop, who)
    if site.mode == "server":
        _choose_mode(raw, laptop, who)
    return laptop


def _choose_mode(raw: Mapping, laptop: _Laptop, who: str) -> None:
    """In a server-mode site: join the shared instance (tun, TLS), or keep a p2p instance (static key, tap).

    A peer-fingerprint laptop that does not ask for a device type joins, as tun: a multi-client instance routes
    by each laptop's address, which needs tun. What is one per instance cannot be chosen per laptop.
    """
    if laptop.auth != "peer_fingerprint" or raw.get("dev_type") == "tap":
        return
    laptop.mode = "server"
    laptop.dev_type = "tun"
    if laptop.port is not None:
        raise TunnelPlanError(
            f"{who}: port {laptop.port} cannot be chosen per laptop in server mode (every laptop shares the "
            "server instance's port, the site's port_base); remove it, or set dev_type tap for a p2p instance"
        )
    if laptop.tun_mtu != DEFAULT_TUN_MTU:
        raise TunnelPlanError(
            f"{who}: tun_mtu {laptop.tun_mtu} cannot be chosen per laptop in server mode (the server instance "
            f"has one, {DEFAULT_TUN_MTU}); remove it, or set dev_type tap for a p2p instance"
        )
    if laptop.tls_crypt is False:
        raise TunnelPlanError(
            f"{who}: tls_crypt false cannot be chosen per laptop in server mode (the server instance wraps every "
            "handshake with tls-crypt-v2); remove it, or set dev_type tap for a p2p instance"
        )


def _as_bool(value: t.Any) -> bool | None:
    """Return value as a bool, or None if it is not one; INI inventories give "true"/"false" as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _BOOLEAN_TEXT.get(value.lower())
    return None


def _choice(raw: Mapping, key: str, choices: tuple[str, ...], who: str) -> str:
    value = raw.get(key)
    if value is None:
        return choices[0]
    if value not in choices:
        raise TunnelPlanError(f"{who}: {key} {_show(value)} is not one of {', '.join(map(repr, choices))}")
    return str(value)


def _flag(raw: Mapping, key: str, who: str) -> bool:
    value = raw.get(key)
    if value is None:
        return True
    flag = _as_bool(value)
    if flag is None:
        raise TunnelPlanError(f"{who}: {key} {_show(value)} is not true or false")
    return flag


def _port_of(value: t.Any, what: str, who: str) -> int:
    port = _as_int(value)
    if port is None or not MIN_PORT <= port <= MAX_PORT:
        raise TunnelPlanError(f"{who}: {what} {_show(value)} is not a port ({MIN_PORT}..{MAX_PORT})")
    return port


def _parse_remotes(value: t.Any, who: str) -> list[tuple[str, int | None]]:
    """A non-empty list of host names or addresses, or {host, port} mappings."""
    if not isinstance(value, (list, tuple)) or not value:
        raise TunnelPlanError(
            f"{who}: remotes {_show(value)} must be a non-empty list of host names, addresses or {{host, port}}"
        )
    remotes: list[tuple[str, int | None]] = []
    for remote in value:
        host, port = (remote.get("host"), remote.get("port")) if isinstance(remote, Mapping) else (remote, None)
        if not isinstance(host, str) or not host:
            raise TunnelPlanError(f"{who}: remote {_show(remote)} has no host name or address")
        remotes.append((str(host), None if port is None else _port_of(port, f"remote {host!r} port", who)))
    return remotes


def _parse_connection(raw: Mapping, laptop: _Laptop, who: str) -> None:
    """Auth mode, device, transport, MTU, remotes, proxy, management and export settings of one laptop."""
    laptop.auth = _choice(raw, "auth", AUTHS, who)
    laptop.dev_type = _choice(raw, "dev_type", DEV_TYPES, who)
    laptop.proto = _choice(raw, "proto", PROTOS, who)
    laptop.managed = _flag(raw, "managed", who)
    laptop.verify_traffic = _flag(raw, "verify_traffic", who)
    if raw.get("tls_crypt") is not None:
        laptop.tls_crypt = _flag(raw, "tls_crypt", who)
        if laptop.tls_crypt and laptop.auth == "static_key":
            raise TunnelPlanError(
                f"{who}: tls_crypt true needs auth peer_fingerprint (a static-key tunnel has no TLS control channel "
                "to protect); remove tls_crypt, or set auth peer_fingerprint"
            )

    raw_mtu = raw.get("tun_mtu")
    if raw_mtu is not None:
        tun_mtu = _as_int(raw_mtu)
        if tun_mtu is None or not MIN_TUN_MTU <= tun_mtu <= MAX_TUN_MTU:
            raise TunnelPlanError(f"{who}: tun_mtu {_show(raw_mtu)} is not an integer in {MIN_TUN_MTU}..{MAX_TUN_MTU}")
        laptop.tun_mtu = tun_mtu

    if raw.get("remotes") is not None:
        laptop.remotes = _parse_remotes(raw["remotes"], who)

    proxy = raw.get("http_proxy")
    if proxy:
        if not isinstance(proxy, Mapping) or not isinstance(proxy.get("host"), str) or not proxy.get("host"):
            raise TunnelPlanError(f"{who}: http_proxy {_show(proxy)} must be {{host, port}}")
        if not laptop.proto.startswith("tcp"):
            raise TunnelPlanError(
                f"{who}: http_proxy {proxy.get('host')!r} needs proto tcp or tcp6 (HTTP CONNECT carries TCP); "
                f"proto is {laptop.proto!r}"
            )
        laptop.http_proxy = (str(proxy["host"]), _port_of(proxy.get("port"), "http_proxy port", who))
    elif proxy is not None and not isinstance(proxy, Mapping):
        raise TunnelPlanError(f"{who}: http_proxy {_show(proxy)} must be {{host, port}}")

    export_dir = raw.get("export_dir")
    if export_dir is not None:
        if not isinstance(export_dir, str) or not export_dir:
            raise TunnelPlanError(f"{who}: export_dir {_show(export_dir)} is not a path")
        laptop.export_dir = str(export_dir)


def _parse_laptops(laptops: t.Any, site: _Site, caller: str) -> list[_Laptop]:
    if not isinstance(laptops, (list, tuple)):
        raise TunnelPlanError(f"{caller}: laptops must be a list; got {_kind(laptops)}")
    parsed = []
    index_by_name: dict[str, int] = {}
    for index, raw in enumerate(laptops):
        laptop = _parse_laptop(index, raw, site, caller)
        first_index = index_by_name.setdefault(laptop.name, index)
        if first_index != index:
            raise TunnelPlanError(
                f"{caller}: laptop '{laptop.name}' is listed twice (laptops[{first_index}] and laptops[{index}])"
            )
        parsed.append(laptop)
    return parsed


def _parse_ledger(ledger: t.Any, current_names: set[str], caller: str) -> list[_Reservation]:
    """Rows of laptops that left the inventory; rows of current laptops are superseded by the new plan."""
    if ledger is None:
        return []
    if not isinstance(ledger, (list, tuple)):
        raise TunnelPlanError(f"{caller}: ledger must be a list; got {_kind(ledger)}")
    reservations = []
    seen = set()
    for index, row in enumerate(ledger):
        if not isinstance(row, Mapping):
            raise TunnelPlanError(f"{caller}: ledger[{index}] must be a dict; got {_kind(row)}")
        laptop = row.get("laptop")
        if not isinstance(laptop, str) or not laptop:
            raise TunnelPlanError(f"{caller}: ledger[{index}] has no laptop name")
        if laptop in current_names:
            continue
        where = f"ledger[{index}] (laptop '{laptop}')"
        use = row.get("use")
        if use not in LEDGER_USES:
            raise TunnelPlanError(f"{caller}: {where}: use {_show(use)} is not one of 'tunnel', 'routed'")
        tunnel_id = _as_int(row.get("tunnel_id"))
        if tunnel_id is None or tunnel_id < 0:
            raise TunnelPlanError(
                f"{caller}: {where}: tunnel_id {_show(row.get('tunnel_id'))} is not a non-negative integer"
            )
        network = _parse_network(row.get("prefix"), f"{where}: prefix", caller)
        identity = (str(laptop), str(use), tunnel_id, network)
        # A row copied twice by hand reserves nothing new.
        if identity in seen:
            continue
        seen.add(identity)
        reservations.append(_Reservation(*identity))
    return reservations


def _reserved_ids(reservations: list[_Reservation], caller: str) -> dict[int, str]:
    owner_by_id: dict[int, str] = {}
    for reservation in reservations:
        if reservation.use != "tunnel":
            continue
        owner = owner_by_id.setdefault(reservation.tunnel_id, reservation.laptop)
        if owner != reservation.laptop:
            raise TunnelPlanError(
                f"{caller}: ledger: tunnel_id {reservation.tunnel_id} is reserved for both '{owner}' "
                f"and '{reservation.laptop}'"
            )
    return owner_by_id


def _lowest_free_id(used: set[int], pool: tuple[int, int]) -> int | None:
    candidate = 0
    while candidate in used:
        candidate += 1
    return candidate if candidate < _subnet_count(pool) else None


def _claim(owners: dict, value: t.Any, laptop: str, subject: str) -> None:
    """Record laptop as the owner of value (an id, port or interface); refuse it if another laptop has it."""
    owner = owners.setdefault(value, laptop)
    if owner != laptop:
        raise TunnelPlanError(f"{subject} is already used by '{owner}'")


def _assign_defaults(laptops: list[_Laptop], reserved_ids: dict[int, str], site: _Site, caller: str) -> None:
    """Check ids, resolve "auto", default ports and interfaces; refuse any clash between laptops."""
    missing = [laptop for laptop in laptops if laptop.tunnel_id is None]
    if missing:
        used = {laptop.tunnel_id for laptop in laptops if laptop.tunnel_id is not None} | reserved_ids.keys()
        free = _lowest_free_id(used, site.tunnel_pool)
        hint = (
            f"the lowest free id is {free}"
            if free is not None
            else f"the tunnel pool {_format_net(*site.tunnel_pool)} is full ({_id_range(site.tunnel_pool)})"
        )
        raise TunnelPlanError(f"{caller}: laptop '{missing[0].name}' has no tunnel_id; {hint}")

    tunnel_count = _subnet_count(site.tunnel_pool)
    routed_count = _subnet_count(site.routed_pool)
    tunnel_pool_start, routed_pool_start = site.tunnel_pool[0], site.routed_pool[0]
    port_base, interface_prefix = site.port_base, site.interface_prefix
    owner_by_id: dict[int, str] = {}
    owner_by_port: dict[int, str] = {}
    owner_by_interface: dict[str, str] = {}
    # The server instances first: a p2p laptop that wants their port or device name is the one refused.
    for transport in sorted({_transport(laptop.proto) for laptop in laptops if laptop.mode == "server"}):
        owner = f"the server instance {SERVER_INSTANCE[transport]}"
        device = server_device(site.interface_prefix, transport)
        if len(device) > MAX_INTERFACE_LENGTH:
            raise TunnelPlanError(
                f"{caller}: site interface_prefix '{interface_prefix}' leaves no room for the server instance's "
                f"device '{device}' ({MAX_INTERFACE_LENGTH} characters); shorten it"
            )
        owner_by_port.setdefault(port_base, owner)
        owner_by_interface[device] = owner
    for laptop in laptops:
        who = f"{caller}: laptop '{laptop.name}'"
        tunnel_id = laptop.tunnel_id
        if tunnel_id >= tunnel_count:
            raise TunnelPlanError(
                f"{who}: tunnel_id {tunnel_id} is outside the tunnel pool {_format_net(*site.tunnel_pool)} "
                f"({_id_range(site.tunnel_pool)})"
            )
        _claim(owner_by_id, tunnel_id, laptop.name, f"{who}: tunnel_id {tunnel_id}")
        if tunnel_id in reserved_ids:
            raise TunnelPlanError(
                f"{who}: tunnel_id {tunnel_id} is reserved in the ledger for '{reserved_ids[tunnel_id]}'"
            )
        laptop.tunnel_start = tunnel_pool_start + (tunnel_id << HOST_BITS)

        if AUTO in laptop.routed:
            if tunnel_id >= routed_count:
                raise TunnelPlanError(
                    f"{who}: routed network 'auto' needs tunnel_id {tunnel_id} inside the routed pool "
                    f"{_format_net(*site.routed_pool)} ({_id_range(site.routed_pool)})"
                )
            auto_network = (routed_pool_start + (tunnel_id << HOST_BITS), TUNNEL_PREFIXLEN)
            laptop.routed = [auto_network if network == AUTO else network for network in laptop.routed]

        if laptop.mode == "server":
            laptop.port = port_base
        elif laptop.port is None:
            port = port_base + tunnel_id
            if port > MAX_PORT:
                raise TunnelPlanError(
                    f"{who}: port {port} (port_base {port_base} + tunnel_id {tunnel_id}) is outside "
                    f"{MIN_PORT}..{MAX_PORT}"
                )
            laptop.port = port
        if laptop.mode == "p2p":
            _claim(owner_by_port, laptop.port, laptop.name, f"{who}: port {laptop.port}")

        if laptop.interface is None:
            interface = f"{interface_prefix}{tunnel_id}"
            if len(interface) > MAX_INTERFACE_LENGTH:
                raise TunnelPlanError(
                    f"{who}: interface '{interface}' (interface_prefix '{interface_prefix}' + tunnel_id {tunnel_id}) "
                    f"is longer than {MAX_INTERFACE_LENGTH} characters"
                )
            laptop.interface = interface
        _claim(owner_by_interface, laptop.interface, laptop.name, f"{who}: interface '{laptop.interface}'")


def _check_overlaps(laptops: list[_Laptop], reservations: list[_Reservation], caller: str) -> None:
    """Refuse any two overlapping networks, in O(n log n): sort by start, compare neighbours.

    Once sorted by (start, widest first), a set of networks is overlap-free exactly when each
    starts after the previous one ends, because CIDR networks either nest or are disjoint.
    """
    spans: list[tuple[int, int, int]] = []
    owners: list[tuple[str, str, tuple[int, int], bool]] = []
    for laptop in laptops:
        spans.append((laptop.tunnel_start, TUNNEL_PREFIXLEN, len(owners)))
        owners.append((laptop.name, "tunnel prefix", (laptop.tunnel_start, TUNNEL_PREFIXLEN), False))
        for network in laptop.routed:
            spans.append((network[0], network[1], len(owners)))
            owners.append((laptop.name, "routed network", network, False))
    for reservation in reservations:
        spans.append((reservation.network[0], reservation.network[1], len(owners)))
        owners.append((reservation.laptop, f"{reservation.use} prefix", reservation.network, True))
    # Among networks starting at the same address the wider (shorter prefix) comes first; ties keep list order.
    spans.sort()

    previous_end = -1
    previous = None
    for start, prefixlen, serial in spans:
        if start <= previous_end:
            raise TunnelPlanError(_overlap_message(owners[previous], owners[serial], caller))
        previous_end = start + (1 << (IPV6_BITS - prefixlen)) - 1
        previous = serial


def _overlap_message(
    first: tuple[str, str, tuple[int, int], bool], second: tuple[str, str, tuple[int, int], bool], caller: str
) -> str:
    first_name, first_what, first_network, first_reserved = first
    second_name, second_what, second_network, second_reserved = second
    if first_reserved and second_reserved:
        return (
            f"{caller}: ledger: {_format_net(*first_network)} of '{first_name}' overlaps "
            f"{_format_net(*second_network)} of '{second_name}'"
        )
    if first_reserved or second_reserved:
        laptop, reserved = (second, first) if first_reserved else (first, second)
        subject = f"{caller}: laptop '{laptop[0]}': {laptop[1]} {_format_net(*laptop[2])}"
        if laptop[2] == reserved[2]:
            return f"{subject} is reserved in the ledger for '{reserved[0]}'"
        return f"{subject} overlaps {_format_net(*reserved[2])}, reserved in the ledger for '{reserved[0]}'"
    subject = f"{caller}: laptop '{second_name}': {second_what} {_format_net(*second_network)}"
    if first_name == second_name:
        return f"{subject} overlaps its own {first_what} {_format_net(*first_network)}"
    return f"{subject} overlaps {first_what} {_format_net(*first_network)} of laptop '{first_name}'"


def plan_tunnels(
    site: Mapping,
    laptops: list,
    ledger: list | None = None,
    gateway_remotes: list | None = None,
    export_dir: str | None = None,
) -> dict:
    """Plan every laptop's tunnel: its /64, addresses, port, interface, routed networks and connection.

    ``gateway_remotes`` is where laptops without ``remotes`` of their own reach the gateway (same shape as
    ``remotes``; None: such laptops get no remotes). ``export_dir`` is the default directory of exported profiles.

    Returns ``{"site": ..., "tunnels": [...], "ledger": [...]}`` made of plain dicts, lists,
    strings, ints and bools; see docs/planner.md for the keys and every refusal.
    """
    caller = "tunnel_plan"
    _require_netaddr(caller)
    plan_site = _parse_site(site, caller)
    parsed_laptops = _parse_laptops(laptops, plan_site, caller)
    default_remotes = _default_remotes(gateway_remotes, parsed_laptops, caller)
    reservations = _parse_ledger(ledger, {laptop.name for laptop in parsed_laptops}, caller)
    reserved_ids = _reserved_ids(reservations, caller)
    _assign_defaults(parsed_laptops, reserved_ids, plan_site, caller)
    _check_overlaps(parsed_laptops, reservations, caller)
    return _build_plan(plan_site, parsed_laptops, reservations, default_remotes, export_dir or "")


def _default_remotes(gateway_remotes: t.Any, laptops: list[_Laptop], caller: str) -> list[tuple[str, int | None]]:
    """The gateway's remotes, checked only when a laptop relies on them: they are that laptop's remotes."""
    if gateway_remotes is None:
        return []
    relying = [laptop for laptop in laptops if laptop.remotes is None]
    if not relying:
        return []
    who = f"{caller}: laptop '{relying[0].name}' (no remotes of its own, so the gateway's gateway_remotes)"
    return _parse_remotes(gateway_remotes, who)


def _transport(proto: str) -> str:
    return "tcp" if proto.startswith("tcp") else "udp"


def server_device(interface_prefix: str, transport: str) -> str:
    """The device of a server-mode instance on the gateway, e.g. ``sixtsrv`` (udp) or ``sixtsrv-tcp``."""
    return interface_prefix + SERVER_DEVICE_SUFFIX[transport]


def _tunnel_record(
    laptop: _Laptop, site: _Site, default_remotes: list[tuple[str, int | None]], export_dir: str
) -> dict:
    """One laptop's complete tunnel record: every field a role renders, derived here and nowhere else."""
    start, suffix = laptop.tunnel_start, f"/{TUNNEL_PREFIXLEN}"
    gateway_ip, laptop_ip = _format_ip(start + site.gateway_host), _format_ip(start + site.laptop_host)
    transport = _transport(laptop.proto)
    remotes = [
        {"host": host, "port": laptop.port if port is None else port}
        for host, port in (default_remotes if laptop.remotes is None else laptop.remotes)
    ]
    # Where the laptop's OpenVPN packets go: the proxy, or each remote's port (its up-script and firewall).
    remote_ports = [laptop.http_proxy[1]] if laptop.http_proxy else list(dict.fromkeys(r["port"] for r in remotes))
    if laptop.mode == "server":
        instance = SERVER_INSTANCE[transport]
        gateway_interface = server_device(site.interface_prefix, transport)
        gateway_laptop_subdir = f"{SERVER_LAPTOP_SUBDIR}/{laptop.name}"
    else:
        instance = GATEWAY_INSTANCE_PREFIX + laptop.name
        gateway_interface = laptop.interface
        gateway_laptop_subdir = GATEWAY_LAPTOP_SUBDIR
    paths = _gateway_instance_paths(instance)
    management = f"{paths['dir']}/{GATEWAY_MANAGEMENT_SOCKET}"
    if len(management.encode("utf-8")) > MAX_UNIX_SOCKET_PATH:
        raise TunnelPlanError(
            f"tunnel_plan: laptop '{laptop.name}': its gateway instance's management socket {management} is "
            f"{len(management.encode('utf-8'))} bytes long; a Unix socket path holds at most {MAX_UNIX_SOCKET_PATH}: "
            "give the laptop a shorter inventory name"
        )
    tls_crypt = laptop.auth == "peer_fingerprint" and laptop.tls_crypt is not False
    tls_crypt_dir = paths["dir"] if laptop.mode == "p2p" else f"{paths['dir']}/{SERVER_TLS_CRYPT_SUBDIR}/{laptop.name}"
    # Instances this tunnel may have ended in under the other mode or transport; the gateway removes those that
    # exist and that no present tunnel uses (a site switched between modes leaves nothing running on its ports).
    old_instances = [] if laptop.auth != "peer_fingerprint" else [SERVER_INSTANCE[other] for other in ("udp", "tcp")]
    if laptop.mode == "server":
        old_instances = [GATEWAY_INSTANCE_PREFIX + laptop.name] + [i for i in old_instances if i != instance]
    return {
        "name": laptop.name,
        "tunnel_id": laptop.tunnel_id,
        "state": laptop.state,
        "managed": laptop.managed,
        "prefix": _format_ip(start) + suffix,
        "gateway_address": gateway_ip + suffix,
        "laptop_address": laptop_ip + suffix,
        "gateway_ip": gateway_ip,
        "laptop_ip": laptop_ip,
        "port": laptop.port,
        "interface": laptop.interface,
        "mode": laptop.mode,
        "gateway_interface": gateway_interface,
        "routed_networks": [_format_net(*network) for network in laptop.routed],
        "auth": laptop.auth,
        "dev_type": laptop.dev_type,
        "tun_mtu": laptop.tun_mtu,
        "proto": laptop.proto,
        "transport": transport,
        # The gateway listens dual-stack on an IPv6 socket: laptops may come over IPv4 or IPv6.
        "gateway_proto": "tcp6-server" if transport == "tcp" else "udp6",
        "laptop_proto": f"{laptop.proto}-client" if transport == "tcp" else laptop.proto,
        "remotes": remotes,
        "http_proxy": {"host": laptop.http_proxy[0], "port": laptop.http_proxy[1]} if laptop.http_proxy else {},
        "remote_ports": remote_ports,
        "verify_traffic": laptop.verify_traffic,
        "tls_crypt": tls_crypt,
        "tls_crypt_option": TLS_CRYPT_OPTION[laptop.mode] if tls_crypt else "",
        "gateway_tls_crypt_key": f"{tls_crypt_dir}/{TLS_CRYPT_KEY_FILE[laptop.mode]}" if tls_crypt else "",
        "export_dir": export_dir if laptop.export_dir is None else laptop.export_dir,
        "gateway_instance": instance,
        "gateway_dir": paths["dir"],
        "gateway_config": paths["config"],
        "gateway_unit": paths["unit"],
        "gateway_management": management,
        "gateway_laptop_dir": f"{paths['dir']}/{gateway_laptop_subdir}",
        "gateway_old_instances": [_gateway_instance_paths(name) for name in old_instances],
    }


def _gateway_instance_paths(instance: str) -> dict:
    """Directory, configuration file and systemd unit of a gateway instance (the distribution's unit template)."""
    directory = f"{GATEWAY_CONFIG_DIR}/{instance}"
    return {
        "instance": instance,
        "dir": directory,
        "config": f"{directory}.conf",
        "unit": f"{GATEWAY_UNIT_TEMPLATE}{instance}.service",
    }


def _build_plan(
    site: _Site,
    laptops: list[_Laptop],
    reservations: list[_Reservation],
    default_remotes: list[tuple[str, int | None]],
    export_dir: str,
) -> dict:
    tunnels = []
    ledger_rows: list[tuple[int, dict]] = []
    for laptop in sorted(laptops, key=attrgetter("tunnel_id")):
        record = _tunnel_record(laptop, site, default_remotes, export_dir)
        tunnels.append(record)
        ledger_rows.append(
            (laptop.tunnel_start, _ledger_row(record["prefix"], "tunnel", laptop.name, laptop.tunnel_id, laptop.state))
        )
        for network, text in zip(laptop.routed, record["routed_networks"], strict=True):
            ledger_rows.append((network[0], _ledger_row(text, "routed", laptop.name, laptop.tunnel_id, laptop.state)))
    for reservation in reservations:
        ledger_rows.append(
            (
                reservation.network[0],
                _ledger_row(
                    _format_net(*reservation.network),
                    reservation.use,
                    reservation.laptop,
                    reservation.tunnel_id,
                    "absent",
                ),
            )
        )
    # Starts are unique: _check_overlaps refused any two networks sharing an address.
    ledger_rows.sort(key=itemgetter(0))
    return {
        "site": {
            "prefix": _format_net(*site.prefix),
            "tunnel_pool": _format_net(*site.tunnel_pool),
            "routed_pool": _format_net(*site.routed_pool),
            "port_base": site.port_base,
        },
        "tunnels": tunnels,
        "ledger": [row for _start, row in ledger_rows],
    }


def _ledger_row(prefix: str, use: str, laptop: str, tunnel_id: int, state: str) -> dict:
    return {"prefix": prefix, "use": use, "laptop": laptop, "tunnel_id": tunnel_id, "state": state}
