"""Proves the seed's "Full Network Connection": a /64 routed behind a laptop is reached through its tunnel."""

import ipaddress
import re

from sixtunnel_molecule import SITE_ADDRESS, ping6


def hops(host, address):
    """The addresses traceroute sees on the way to address, one per hop."""
    output = host.check_output(f"traceroute -6 -n -q 1 -w 2 -m 5 {address}")
    return [match.group(1) for match in re.finditer(r"^\s*\d+\s+(\S+)", output, re.MULTILINE)]


def tunnel_packets(host, interface):
    rx = int(host.file(f"/sys/class/net/{interface}/statistics/rx_packets").content_string)
    tx = int(host.file(f"/sys/class/net/{interface}/statistics/tx_packets").content_string)
    return rx, tx


def test_host_address_is_in_the_planned_routed_network(tunnel, behind):
    address, router = behind[1:]
    (network,) = tunnel["routed_networks"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(network)
    assert ipaddress.ip_address(router) in ipaddress.ip_network(network)


def test_gateway_routes_the_network_into_the_tunnel(gateway, tunnel, behind):
    address = behind[1]
    route = gateway.check_output(f"ip -6 route get {address}")
    assert f"via {tunnel['laptop_ip']} dev {tunnel['interface']}" in route


def test_gateway_reaches_host_behind_laptop(gateway, behind):
    address = behind[1]
    assert ping6(gateway, address), f"gateway cannot ping {address} behind the laptop"


def test_host_behind_laptop_reaches_gateway_and_site(tunnel, behind):
    host = behind[0]
    assert ping6(host, tunnel["gateway_ip"]), "host behind the laptop cannot ping the gateway end"
    assert ping6(host, SITE_ADDRESS), f"host behind the laptop cannot ping the site address {SITE_ADDRESS}"


def test_path_from_gateway_goes_through_laptop_tunnel_end(gateway, tunnel, behind):
    address = behind[1]
    assert hops(gateway, address) == [tunnel["laptop_ip"], address]


def test_path_from_host_goes_through_laptop_to_site(behind):
    host, router = behind[0], behind[2]
    assert hops(host, SITE_ADDRESS) == [router, SITE_ADDRESS]


def test_traffic_to_host_crosses_the_tunnel_device(gateway, tunnel, behind):
    address = behind[1]
    rx_before, tx_before = tunnel_packets(gateway, tunnel["interface"])
    gateway.check_output(f"ping -6 -c 20 -i 0.05 -W 1 {address}")
    rx_after, tx_after = tunnel_packets(gateway, tunnel["interface"])
    assert tx_after - tx_before >= 20 and rx_after - rx_before >= 20
