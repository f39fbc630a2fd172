"""Proves the export: each unmanaged laptop's profile is self-contained, owner-only, pinned both ways, and a bare
container with nothing but OpenVPN passes IPv6 to the gateway end and the site with it."""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
from sixtunnel_molecule import (
    EXPORT_DIR,
    INVENTORY_DIR,
    SITE_ADDRESS,
    certificate_fingerprint,
    inline_block,
    ping6,
    podman_cp,
    recap,
)

NOBODY = 65534
REPOSITORY = Path(__file__).resolve().parents[3]


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
    # The tunnel's tls-crypt key inline, the gateway's own copy, and the gateway's instance uses it.
    tls_crypt = gateway.file(f"/etc/openvpn/server/sixtunnel-{name}/tls-crypt.key").content_string
    assert inline_block(profile, "tls-crypt") == tls_crypt.strip()
    assert f"\ntls-crypt /etc/openvpn/server/sixtunnel-{name}/tls-crypt.key\n" in server_conf


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
    assert inline_block(profile, "tls-crypt") is None, "a static-key tunnel has no TLS control channel to wrap"


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


def test_a_user_without_root_on_the_controller_runs_the_site_and_exports(unmanaged, inventory):
    """site.yml run by a controller user without root (uid 65534, no sudo): the hosts are reached over SSH and
    become root there, nothing on the controller needs root, no delegated task tries sudo on the controller (not
    even with ansible_become: true for all hosts in the inventory), and the profiles it exports are that user's,
    0600 in a 0700 directory, the same bytes as the root run's."""
    system_python = "/usr/bin/python3"
    probe = subprocess.run(
        [system_python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    )
    # Ansible comes from the venv's site-packages; the venv's own interpreter lives where only root may read.
    assert probe.stdout.strip() == str(sys.version_info[:2]), f"{system_python} is not Python {sys.version_info[:2]}"
    work = Path(tempfile.mkdtemp(prefix="sixtunnel-nobody-"))
    try:
        shutil.copytree(INVENTORY_DIR, work / "inventory", ignore=shutil.ignore_patterns("exports"))
        # As many sites do; a variable, which beats every `become: false` keyword, also on the controller.
        (work / "inventory" / "zz-become.yml").write_text("---\nall:\n  vars:\n    ansible_become: true\n")
        key = work / "id_ed25519"
        gateway_name = inventory.get_hosts("sixtunnel_gateways")[0]
        shutil.copyfile(inventory.get_variables(gateway_name)["ansible_private_key_file"], key)
        (work / "home").mkdir()
        for path in [work, *work.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        key.chmod(0o600)
        work.chmod(0o700)
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work / "home"),
            "PYTHONPATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(REPOSITORY / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"],
            "ANSIBLE_NOCOLOR": "true",
            # Ansible's temp dirs default to ~USER/.ansible/tmp, also for the tasks delegated to the controller
            # ("remote" temp there), and uid 65534's home (/nonexistent) does not exist.
            "ANSIBLE_LOCAL_TEMP": str(work / "home" / "tmp"),
            "ANSIBLE_REMOTE_TEMP": str(work / "home" / "remote-tmp"),
        }
        command = [
            *("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"),
            *(system_python, "-m", "ansible.cli.playbook", "-i", str(work / "inventory")),
            *("-e", f"ansible_private_key_file={key}", "sixtunnel.openvpn.site"),
        ]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, cwd=work, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-5000:]
        assert recap(output)[gateway_name]["changed"] == 0, output[-3000:]
        exports = work / "inventory" / ".sixtunnel" / "exports"
        assert (exports.stat().st_uid, exports.stat().st_mode & 0o777) == (NOBODY, 0o700)
        for name in unmanaged:
            profile = exports / f"{name}.ovpn"
            assert (profile.stat().st_uid, profile.stat().st_mode & 0o777) == (NOBODY, 0o600), name
            assert profile.read_bytes() == (EXPORT_DIR / f"{name}.ovpn").read_bytes(), name
    finally:
        shutil.rmtree(work)
