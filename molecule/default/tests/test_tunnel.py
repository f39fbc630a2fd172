"""Proves a converged site with traffic: each laptop's tunnel passes IPv6 both ways and reaches the site."""

import os
import subprocess

import pytest
from sixtunnel_molecule import SITE_ADDRESS, ping6, present

STATIC_KEY_OPT_IN = "allow-deprecated-insecure-static-crypto"


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
    """2000::/3 lives in the tunnel's own table (docs/design.md, Routing); a site address resolves into the tunnel."""
    for name in present(plan):
        via = f"via {plan[name]['gateway_ip']} dev {plan[name]['interface']}"
        assert via in hosts(name).check_output("ip -6 route show table all 2000::/3")
        assert via in hosts(name).check_output(f"ip -6 route get {SITE_ADDRESS}")


def test_every_end_runs_what_its_openvpn_acts_on(hosts, gateway_name, plan):
    """No end's OpenVPN ignores an option the roles wrote (2.7 ignores fast-io and persist-key: written for 2.6 only)."""
    ends = [(gateway_name, f"openvpn-server@sixtunnel-{name}") for name in present(plan)]
    ends += [(name, "openvpn-client@sixtunnel") for name in present(plan)]
    for host_name, unit in ends:
        host = hosts(host_name)
        version = host.check_output("openvpn --version | head -n 1").split()[1]
        print(f"\nMEASURED default: {host_name} runs OpenVPN {version} ({host.system_info.release})")
        journal = host.check_output(f"journalctl --no-pager --output cat --unit {unit}")
        assert "option ignored" not in journal, f"{host_name} (OpenVPN {version}), {unit}:\n{journal}"


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


def run(*command):
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_static_key_configuration_written_under_openvpn_2_6_starts_under_2_7(plan, auth_modes):
    """A package upgrade to OpenVPN 2.7 keeps a static-key laptop working, and only thanks to the opt-in the role
    writes: the laptop's files, run by 2.7 (Debian 13 backports), open the tunnel; without the opt-in they are refused.
    The throwaway container has no network: nothing is sent, not even to the gateway."""
    image = os.environ.get("SIXTUNNEL_IMAGE_27")
    assert image, "SIXTUNNEL_IMAGE_27 is not set: `make molecule` sets it from `make image`"
    laptop = next(name for name in present(plan) if auth_modes[name] == "static_key")
    interface = plan[laptop]["interface"]
    upgraded = "sixtunnel-default-openvpn27"
    created = run(
        *("podman", "run", "--detach", "--replace", "--name", upgraded, "--network", "none"),
        *("--cap-add", "NET_ADMIN", "--device", "/dev/net/tun", image, "sleep", "infinity"),
    )
    assert created.returncode == 0, created.stderr
    try:
        version = run("podman", "exec", upgraded, "openvpn", "--version").stdout
        assert version.startswith("OpenVPN 2.7."), version
        # Streamed from container to container: the key never lands on the controller's disk.
        copy = run(
            *("bash", "-o", "pipefail", "-c"),
            f"podman cp {laptop}:/etc/openvpn/client - | podman cp - {upgraded}:/etc/openvpn/",
        )
        assert copy.returncode == 0, copy.stderr

        # Still running when `timeout` stops it (124): it parsed the config, opened the device, ran the up-script.
        started = run(
            *("podman", "exec", upgraded, "sh", "-c"),
            "timeout 3 openvpn --config /etc/openvpn/client/sixtunnel.conf --verb 3 2>&1",
        )
        assert "Options error" not in started.stdout, started.stdout
        assert f"TUN/TAP device {interface} opened" in started.stdout, started.stdout
        assert f"/etc/openvpn/client/sixtunnel/up.sh {interface} " in started.stdout, started.stdout
        assert started.returncode == 124, started.stdout

        # The same files without the two opt-in lines: what a 2.6-only configuration meets after the upgrade.
        refused = run(
            *("podman", "exec", upgraded, "sh", "-c"),
            f"sed '/{STATIC_KEY_OPT_IN}/d' /etc/openvpn/client/sixtunnel.conf > /etc/openvpn/client/stripped.conf"
            " && timeout 3 openvpn --config /etc/openvpn/client/stripped.conf --verb 3 2>&1",
        )
        assert "Options error: DEPRECATION: No tls-client or tls-server option" in refused.stdout, refused.stdout
        assert refused.returncode == 1, refused.stdout
    finally:
        run("podman", "rm", "--force", "--time", "0", upgraded)
