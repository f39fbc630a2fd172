"""Proves the export: each unmanaged laptop's profile is self-contained, owner-only, pinned both ways, and a bare
container with nothing but OpenVPN passes IPv6 to the gateway end and the site with it."""

import pytest
from sixtunnel_molecule import (
    EXPORT_DIR,
    SITE_ADDRESS,
    certificate_fingerprint,
    inline_block,
    ping6,
    podman_cp,
)


def profile_of(name):
    return (EXPORT_DIR / f"{name}.ovpn").read_text()


def test_export_directory_and_profiles_are_owner_only(unmanaged):
    assert EXPORT_DIR.stat().st_mode & 0o777 == 0o700
    assert sorted(path.name for path in EXPORT_DIR.iterdir()) == sorted(f"{name}.ovpn" for name in unmanaged)
    for name in unmanaged:
        assert (EXPORT_DIR / f"{name}.ovpn").stat().st_mode & 0o777 == 0o600


def test_profiles_use_openvpns_own_directives_not_scripts(unmanaged, plan, inventory):
    gateway_name = inventory.get_hosts("sixtunnel_gateways")[0]
    for name, variables in unmanaged.items():
        tunnel, lines = plan[name], profile_of(name).splitlines()
        assert f"ifconfig-ipv6 {tunnel['laptop_address']} {tunnel['gateway_ip']}" in lines
        assert "route-ipv6 2000::/3" in lines
        assert f"remote {gateway_name} {tunnel['port']}" in lines
        assert f"dev {variables.get('sixtunnel_dev_type', 'tap')}" in lines
        assert "tun-mtu 1280" in lines
        directives = {line.split()[0] for line in lines if line and not line.startswith(("#", "<", "-", " "))}
        assert not directives & {"up", "down", "script-security", "route-up", "cert", "key", "secret", "user"}


@pytest.mark.parametrize("name", ["sixtunnel-export-mac"])
def test_peer_fingerprint_profile_pins_the_gateway_and_is_pinned_by_it(name, gateway):
    profile = profile_of(name)
    assert "\ntls-client\n" in profile
    assert "PRIVATE KEY-----" in inline_block(profile, "key")
    gateway_cert = gateway.file(f"/etc/openvpn/server/sixtunnel-{name}/cert.pem").content_string
    assert inline_block(profile, "peer-fingerprint") == certificate_fingerprint(gateway_cert)
    server_conf = gateway.file(f"/etc/openvpn/server/sixtunnel-{name}.conf").content_string
    assert f"\npeer-fingerprint {certificate_fingerprint(inline_block(profile, 'cert'))}\n" in server_conf


@pytest.mark.parametrize("name", ["sixtunnel-export-mac"])
def test_unmanaged_laptops_key_pair_is_kept_on_the_gateway_root_only(name, gateway):
    directory = f"/etc/openvpn/server/sixtunnel-{name}/laptop"
    assert gateway.file(directory).mode == 0o700
    key = gateway.file(f"{directory}/key.pem")
    assert key.user == "root" and key.group == "root" and key.mode == 0o600
    assert key.content_string.strip() == inline_block(profile_of(name), "key").strip()


@pytest.mark.parametrize("name", ["sixtunnel-export-legacy"])
def test_static_key_profile_carries_the_gateways_key(name, gateway):
    profile = profile_of(name)
    assert "\nkey-direction 1\n" in profile
    static_key = gateway.file(f"/etc/openvpn/server/sixtunnel-{name}/static.key").content_string
    assert inline_block(profile, "secret").strip() == static_key.strip()


def test_bare_client_has_nothing_from_ansible(bare):
    assert bare.run("grep -rl 'Ansible managed' /etc /usr/local /opt /srv").stdout == ""
    assert not bare.file("/etc/openvpn/client/sixtunnel.conf").exists


@pytest.mark.parametrize("name", ["sixtunnel-export-mac", "sixtunnel-export-legacy"])
def test_bare_client_passes_ipv6_with_only_the_profile(name, plan, bare):
    """One profile at a time: both route 2000::/3."""
    podman_cp(EXPORT_DIR / f"{name}.ovpn", f"{bare.backend.name}:/root/{name}.ovpn")
    started = bare.run(
        f"openvpn --daemon --config /root/{name}.ovpn --log /root/{name}.log --writepid /root/{name}.pid"
    )
    assert started.rc == 0, started.stderr
    try:
        assert ping6(bare, plan[name]["gateway_ip"]), bare.file(f"/root/{name}.log").content_string
        assert ping6(bare, SITE_ADDRESS), f"{name}'s profile does not reach the site address {SITE_ADDRESS}"
        address = plan[name]["laptop_address"]
        assert address in bare.check_output("ip -6 addr show"), f"{address} not configured by the profile"
    finally:
        bare.run(f"kill $(cat /root/{name}.pid); while kill -0 $(cat /root/{name}.pid) 2>/dev/null; do sleep 0.2; done")
