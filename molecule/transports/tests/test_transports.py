"""Proves each transport with traffic: tun, UDP over IPv6 from an IPv6-only network, TCP through an HTTP proxy,
and the MTU promise: the largest packet the tunnel takes crosses a 1400-byte path without being fragmented."""

import subprocess

import pytest
from sixtunnel_molecule import SITE_ADDRESS, address_facing, container, interface_of, ip_counters, ping6

TUN_MTU = 1280  # the roles' default
LARGEST_PING = TUN_MTU - 40 - 8  # IPv6 and ICMPv6 headers
PATH_MTU = 1400  # molecule_networks in molecule.yml


@pytest.mark.parametrize("kind", ["tun", "v6", "tcp"])
def test_laptop_reaches_gateway_end_and_site(kind, laptop_names, plan):
    name = laptop_names[kind]
    laptop = container(name)
    assert ping6(laptop, plan[name]["gateway_ip"]), f"{name} cannot ping its gateway end"
    assert ping6(laptop, SITE_ADDRESS), f"{name} cannot reach the site address {SITE_ADDRESS}"


@pytest.mark.parametrize("kind", ["tun", "v6", "tcp"])
def test_gateway_reaches_laptop(kind, laptop_names, plan, gateway):
    assert ping6(gateway, plan[laptop_names[kind]]["laptop_ip"])


def test_tun_device_carries_ipv6_without_neighbour_discovery(laptop_names, plan, gateway):
    name = laptop_names["tun"]
    tunnel, laptop = plan[name], container(name)
    for host in (laptop, gateway):
        link = host.check_output(f"ip -o link show dev {tunnel['interface']}")
        assert "POINTOPOINT" in link and "NOARP" in link and "link/none" in link
    assert f"via {tunnel['gateway_ip']} dev {tunnel['interface']}" in laptop.check_output(
        "ip -6 route show table all 2000::/3"
    )
    assert ping6(laptop, SITE_ADDRESS)
    assert laptop.check_output(f"ip -6 neigh show dev {tunnel['interface']}") == ""


def test_ipv6_only_laptop_comes_over_ipv6_after_skipping_its_ipv4_remote(laptop_names):
    laptop = container(laptop_names["v6"])
    assert laptop.check_output("ip -4 addr show scope global") == "", "the laptop has IPv4: not an IPv6-only network"
    journal = laptop.check_output("journalctl -u openvpn-client@sixtunnel --no-pager")
    assert "Cannot resolve host address: 10.213.61.10" in journal
    assert "Peer Connection Initiated with [AF_INET6]fd5e:7715:6e76::10" in journal


def test_tcp_laptop_goes_through_the_http_proxy(laptop_names, plan, gateway):
    name = laptop_names["tcp"]
    assert "\nproto tcp6-server\n" in gateway.file(f"/etc/openvpn/server/sixtunnel-{name}.conf").content_string
    client_conf = container(name).file("/etc/openvpn/client/sixtunnel.conf").content_string
    assert "\nproto tcp-client\n" in client_conf
    assert "\nhttp-proxy sixtunnel-transports-proxy 3128\n" in client_conf
    proxy_log = subprocess.run(
        ["podman", "logs", "sixtunnel-transports-proxy"], check=True, capture_output=True, text=True
    )
    assert f"CONNECT sixtunnel-transports-gateway:{plan[name]['port']}" in proxy_log.stdout


@pytest.mark.parametrize("kind", ["tun", "v6", "tcp"])
def test_both_ends_have_the_tunnel_mtu(kind, laptop_names, plan, gateway):
    interface = plan[laptop_names[kind]]["interface"]
    for host in (container(laptop_names[kind]), gateway):
        assert int(host.check_output(f"cat /sys/class/net/{interface}/mtu")) == TUN_MTU


@pytest.mark.parametrize("kind", ["tun", "v6"])
def test_largest_packet_crosses_a_1400_byte_path_unfragmented(kind, laptop_names, plan, gateway):
    """The tunnel promises IPv6 packets of tun-mtu bytes; over UDP they must fit the path whole."""
    name = laptop_names[kind]
    laptop = container(name)
    uplink = interface_of(laptop, address_facing(laptop, gateway, 6 if kind == "v6" else 4))
    assert int(laptop.check_output(f"cat /sys/class/net/{uplink}/mtu")) == PATH_MTU
    assert ping6(laptop, plan[name]["gateway_ip"])
    before = {host: ip_counters(container(host)) for host in (name, gateway.backend.name)}
    big = laptop.run(f"ping -6 -M do -c 3 -W 2 -s {LARGEST_PING} {plan[name]['gateway_ip']}")
    assert big.rc == 0, big.stdout + big.stderr
    after = {host: ip_counters(container(host)) for host in before}
    assert after == before, "the outer packets were fragmented or reassembled"
    too_big = laptop.run(f"ping -6 -M do -c 1 -W 2 -s {LARGEST_PING + 1} {plan[name]['gateway_ip']}")
    assert too_big.rc != 0 and f"mtu={TUN_MTU}" in (too_big.stdout + too_big.stderr).replace(": ", "=")


def test_largest_packet_crosses_the_tcp_tunnel(laptop_names, plan):
    name = laptop_names["tcp"]
    result = container(name).run(f"ping -6 -M do -c 3 -W 2 -s {LARGEST_PING} {plan[name]['gateway_ip']}")
    assert result.rc == 0, result.stdout + result.stderr
