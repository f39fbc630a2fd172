"""Proves a converged site with traffic: each laptop's tunnel passes IPv6 both ways and reaches the site."""

import pytest
from sixtunnel_molecule import SITE_ADDRESS, ping6, present


def test_laptop_reaches_gateway_end_and_site(hosts, plan):
    for name in present(plan):
        laptop = hosts(name)
        assert ping6(laptop, plan[name]["gateway_ip"]), f"{name} cannot ping its gateway end"
        assert ping6(laptop, SITE_ADDRESS), f"{name} cannot reach the site address {SITE_ADDRESS}"


def test_gateway_reaches_each_laptop(hosts, gateway_name, plan):
    gateway = hosts(gateway_name)
    for name in present(plan):
        assert ping6(gateway, plan[name]["laptop_ip"]), f"gateway cannot ping {name}"


def test_laptop_routes_global_unicast_via_gateway_end(hosts, plan):
    for name in present(plan):
        route = hosts(name).check_output("ip -6 route show 2000::/3")
        assert f"via {plan[name]['gateway_ip']} dev {plan[name]['interface']}" in route


def test_addresses_match_the_plan(hosts, gateway_name, plan):
    gateway = hosts(gateway_name)
    for name in present(plan):
        tunnel = plan[name]
        assert tunnel["laptop_address"] in hosts(name).check_output(f"ip -6 addr show dev {tunnel['interface']}")
        assert tunnel["gateway_address"] in gateway.check_output(f"ip -6 addr show dev {tunnel['interface']}")


def test_configs_match_the_plan(hosts, gateway_name, plan, auth_modes):
    gateway = hosts(gateway_name)
    for name in present(plan):
        tunnel = plan[name]
        server_conf = gateway.file(f"/etc/openvpn/server/sixtunnel-{name}.conf").content_string
        assert f"\nport {tunnel['port']}\n" in server_conf
        assert f"\ndev {tunnel['interface']}\n" in server_conf
        client_conf = hosts(name).file("/etc/openvpn/client/sixtunnel.conf").content_string
        assert f" {tunnel['port']}\n" in client_conf
        assert ("\ntls-client\n" in client_conf) == (auth_modes[name] == "peer_fingerprint")
        assert ("\nsecret " in client_conf) == (auth_modes[name] == "static_key")
        assert ("\nsecret " in server_conf) == (auth_modes[name] == "static_key")
        assert "script-security 2\n" in client_conf


def test_services_enabled_and_active(hosts, gateway_name, plan):
    gateway = hosts(gateway_name)
    for name in present(plan):
        server = gateway.service(f"openvpn-server@sixtunnel-{name}")
        client = hosts(name).service("openvpn-client@sixtunnel")
        assert server.is_running and server.is_enabled
        assert client.is_running and client.is_enabled


@pytest.mark.parametrize("side", ["gateway", "laptop"])
def test_key_files_are_root_only(hosts, gateway_name, plan, auth_modes, side):
    for name in present(plan):
        key_names = ["key.pem"] if auth_modes[name] == "peer_fingerprint" else ["static.key"]
        host, directory = (
            (hosts(gateway_name), f"/etc/openvpn/server/sixtunnel-{name}")
            if side == "gateway"
            else (hosts(name), "/etc/openvpn/client/sixtunnel")
        )
        assert host.file(directory).mode == 0o700
        for key_name in key_names:
            key = host.file(f"{directory}/{key_name}")
            assert key.exists and key.user == "root" and key.group == "root" and key.mode == 0o600


def test_up_scripts_are_root_owned_and_not_world_accessible(hosts, gateway_name, plan):
    for name in present(plan):
        for host, script in (
            (hosts(gateway_name), f"/etc/openvpn/server/sixtunnel-{name}/up.sh"),
            (hosts(name), "/etc/openvpn/client/sixtunnel/up.sh"),
        ):
            assert host.file(script).user == "root"
            assert host.file(script).mode == 0o750
