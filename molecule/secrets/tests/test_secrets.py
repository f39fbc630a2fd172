"""Proves no private key or static key leaves its host: not in -vvv output, temp dirs, fact cache or repo.

The needles are the exact key bytes read from the hosts after the runs: every base64 line of each private
key and every hex line of each static key, plus the base64 form of whole files (what a slurp would carry).
They stay in memory and reach grep on stdin, so the search itself writes no key to disk.
"""

import base64
import re
import shutil
import subprocess

import pytest
import yaml
from sixtunnel_molecule import (
    INVENTORY_DIR,
    P_CONTROL_HARD_RESET_SERVER_V2,
    address_facing,
    container,
    handshake_probe,
    journal_tail,
    ping6,
    plan_of,
    recap,
    run_playbook,
)

KEY_FILES = "find /etc/openvpn -type f \\( -name '*.pem' -o -name '*.key' \\)"


def hosts_of(inventory):
    return inventory.get_hosts("sixtunnel_gateways") + inventory.get_hosts("sixtunnel_laptops")


def secret_files(host):
    """{path: content} of the key material on a host: PEM private keys and static keys."""
    files = {}
    for path in host.check_output(KEY_FILES).split():
        content = host.check_output(f"cat {path}")
        # tls-crypt keys are "OpenVPN Static key V1" files too; tls-crypt-v2 keys have armour of their own.
        if "PRIVATE KEY" in content or "OpenVPN Static key" in content or "OpenVPN tls-crypt-v2" in content:
            files[path] = content
    return files


def needles_of(content):
    """Lines of key bytes (not the BEGIN/END armour) and the whole file as base64, cut in pieces."""
    lines = [line.strip() for line in content.splitlines() if line.strip() and not line.startswith(("-----", "#"))]
    needles = {line for line in lines if len(line) >= 16}
    whole = base64.b64encode(content.encode()).decode()
    needles.update(whole[start : start + 40] for start in range(0, len(whole) - 40, 40))
    return needles


@pytest.fixture(scope="session")
def secrets(inventory, converged, checked):
    """{host: {path: content}} read after both runs."""
    return {name: secret_files(container(name)) for name in hosts_of(inventory)}


@pytest.fixture(scope="session")
def needles(secrets):
    found = set()
    for files in secrets.values():
        for content in files.values():
            found |= needles_of(content)
    return "\n".join(sorted(found)) + "\n"


def grep_hits(paths, needles):
    """Files under paths (the controller's) holding any needle; .venv is pip's, never written by a run."""
    result = subprocess.run(
        ["grep", "-rlsF", "--binary-files=text", "--exclude-dir=.venv", "-f", "-", *map(str, paths)],
        input=needles,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), f"grep failed ({result.returncode})"
    return result.stdout.split()


def grep_hits_on(name, paths, needles):
    """Files under paths on a container holding any needle (the needles go in on stdin, not on a command line)."""
    result = subprocess.run(
        ["podman", "exec", "-i", name, "grep", "-rlsF", "-f", "-", *paths],
        input=needles,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1, 2), f"grep on {name} failed ({result.returncode})"
    return result.stdout.split()


def test_both_auth_modes_converged_and_pass_traffic(inventory, converged):
    laptops = inventory.get_hosts("sixtunnel_laptops")
    plan = plan_of(inventory, laptops)
    auth = {name: inventory.get_variables(name).get("sixtunnel_auth", "peer_fingerprint") for name in laptops}
    assert sorted(auth.values()) == ["peer_fingerprint", "peer_fingerprint", "static_key"]
    for name in laptops:
        assert ping6(container(name), plan[name]["gateway_ip"]), f"{name}'s tunnel ({auth[name]}) does not pass"


def test_every_host_holds_key_material(inventory, secrets):
    gateway, laptop1, laptop2, laptop3 = hosts_of(inventory)
    assert any("PRIVATE KEY" in content for content in secrets[gateway].values())
    assert any("Static key" in content for content in secrets[gateway].values())
    assert any("PRIVATE KEY" in content for content in secrets[laptop1].values())
    assert any("Static key" in content for content in secrets[laptop2].values())
    # The tls-crypt key: made on the gateway, carried to laptop1 only (laptop3 opted out, laptop2 has a static key).
    tls_crypt = f"/etc/openvpn/server/sixtunnel-{laptop1}/tls-crypt.key"
    assert secrets[laptop1]["/etc/openvpn/client/sixtunnel/tls-crypt.key"] == secrets[gateway][tls_crypt]
    assert not [path for name in (laptop2, laptop3) for path in secrets[name] if "tls-crypt" in path]
    assert not [path for path in secrets[gateway] if "tls-crypt" in path and path != tls_crypt]


def test_needles_are_found_where_the_keys_are(inventory, needles):
    """The search would see a leak: on the hosts it finds the keys themselves."""
    for name in hosts_of(inventory):
        assert grep_hits_on(name, ["/etc/openvpn"], needles), f"the needles do not find the keys on {name}"


def test_no_key_material_in_output_temp_cache_or_repo(places_searched, needles, workdir):
    assert (workdir / "converge.out").stat().st_size > 100_000, "the -vvv run printed suspiciously little"
    assert (workdir / "fact-cache").is_dir(), "no fact cache was written: the cache was not searched"
    assert grep_hits(places_searched, needles) == []


def test_no_key_material_left_in_remote_temp(inventory, needles):
    for name in hosts_of(inventory):
        # Ansible's remote temp dirs: ~/.ansible/tmp of the SSH account (/home) and of root.
        hits = grep_hits_on(name, ["/tmp", "/var/tmp", "/root", "/home"], needles)
        assert hits == [], f"key material in temp files on {name}: {hits}"


def test_private_keys_are_root_only(inventory, secrets):
    for name, files in secrets.items():
        host = container(name)
        for path in files:
            assert host.check_output(f"stat -c '%a %U %G' {path}") == "600 root root", f"{name}:{path}"
            directory = path.rsplit("/", 1)[0]
            assert host.check_output(f"stat -c '%a %U' {directory}") == "700 root", f"{name}:{directory}"


def test_check_mode_on_converged_site_changes_nothing(inventory, checked):
    counters = recap(checked)
    assert set(counters) >= set(hosts_of(inventory)), checked[-3000:]
    for name, counts in counters.items():
        assert counts["changed"] == 0 and counts["failed"] == 0, f"{name}: {counts}"
    assert not re.search(r"^[-+].*(PRIVATE KEY|Static key)", checked, re.MULTILINE), "a diff shows key material"


def test_a_protected_port_does_not_answer_a_handshake_without_the_key(inventory, converged):
    """One P_CONTROL_HARD_RESET_CLIENT_V2 from a container: laptop1's tls-crypt port stays silent, while laptop3's
    (the same peer-fingerprint tunnel without tls-crypt) answers with P_CONTROL_HARD_RESET_SERVER_V2, so the probe
    is one OpenVPN answers and the silence is tls-crypt's."""
    gateway_name, laptop1, laptop2, laptop3 = hosts_of(inventory)
    plan = plan_of(inventory, [laptop1, laptop2, laptop3])
    assert (plan[laptop1]["tls_crypt"], plan[laptop3]["tls_crypt"]) == (True, False)
    gateway, prober = container(gateway_name), container(laptop2)
    address = address_facing(gateway, prober, 4)
    open_answer = handshake_probe(prober, address, plan[laptop3]["port"])
    protected_answer = handshake_probe(prober, address, plan[laptop1]["port"])
    print(
        f"\nMEASURED secrets: handshake probe to {address} port {plan[laptop3]['port']} (no tls-crypt): opcode "
        f"{open_answer}; port {plan[laptop1]['port']} (tls-crypt): {protected_answer or 'no answer within 5 s'}"
    )
    assert open_answer == P_CONTROL_HARD_RESET_SERVER_V2, f"{laptop3}'s unprotected port answered {open_answer}"
    assert protected_answer is None, f"{laptop1}'s tls-crypt port answered a handshake without the key"
    unit = f"openvpn-server@sixtunnel-{laptop1}.service"
    assert "tls-crypt unwrap" in journal_tail(gateway, unit, 50), journal_tail(gateway, unit, 50)

    # Meanwhile laptop1, which has the key, passes traffic both ways, and both ends say tls-crypt.
    assert ping6(container(laptop1), plan[laptop1]["gateway_ip"]), f"{laptop1} cannot reach its gateway end"
    assert ping6(gateway, plan[laptop1]["laptop_ip"]), f"the gateway cannot reach {laptop1}"
    gateway_conf = gateway.file(f"/etc/openvpn/server/sixtunnel-{laptop1}.conf").content_string
    laptop_conf = container(laptop1).file("/etc/openvpn/client/sixtunnel.conf").content_string
    assert f"\ntls-crypt /etc/openvpn/server/sixtunnel-{laptop1}/tls-crypt.key\n" in gateway_conf
    assert "\ntls-crypt /etc/openvpn/client/sixtunnel/tls-crypt.key\n" in laptop_conf


def test_a_gateway_run_alone_never_switches_on_a_laptop_it_does_not_reach(inventory, tmp_path_factory):
    """laptop3 asks for tls-crypt now, as every laptop does after an upgrade: a run of the gateway alone leaves its
    tunnel unprotected and working (its laptop would not get the key); the run that reaches it switches both ends.
    Last in this file: it changes laptop3's tunnel, which the tests above read as it was."""
    gateway_name, _laptop1, laptop2, laptop3 = hosts_of(inventory)
    work = tmp_path_factory.mktemp("upgrade") / "inventory"
    shutil.copytree(INVENTORY_DIR, work)
    found = sorted((work / "host_vars").glob(f"{laptop3}*"))
    assert len(found) == 1, f"not one host_vars file of {laptop3}: {found}"
    variables = yaml.safe_load(found[0].read_text())
    assert variables.pop("sixtunnel_tls_crypt") is False
    found[0].write_text(yaml.safe_dump(variables))
    tunnel = plan_of(inventory, [laptop3])[laptop3]
    gateway, laptop, prober = container(gateway_name), container(laptop3), container(laptop2)
    gateway_conf, key = f"/etc/openvpn/server/sixtunnel-{laptop3}.conf", f"/etc/openvpn/server/sixtunnel-{laptop3}/"
    laptop_conf = "/etc/openvpn/client/sixtunnel.conf"

    rc, output = run_playbook("--limit", gateway_name, "sixtunnel.openvpn.site", inventory=work)
    assert rc == 0, output[-5000:]
    assert "\ntls-crypt " not in gateway.file(gateway_conf).content_string
    assert not gateway.file(key + "tls-crypt.key").exists, "the gateway made a key its laptop cannot have yet"
    assert ping6(laptop, tunnel["gateway_ip"]), f"the gateway-only run broke {laptop3}'s tunnel"

    rc, output = run_playbook("--limit", f"{gateway_name},{laptop3}", "sixtunnel.openvpn.site", inventory=work)
    assert rc == 0, output[-5000:]
    assert f"\ntls-crypt {key}tls-crypt.key\n" in gateway.file(gateway_conf).content_string
    assert "\ntls-crypt /etc/openvpn/client/sixtunnel/tls-crypt.key\n" in laptop.file(laptop_conf).content_string
    assert ping6(laptop, tunnel["gateway_ip"]), f"{laptop3} cannot reach its gateway end with tls-crypt"
    assert ping6(gateway, tunnel["laptop_ip"]), f"the gateway cannot reach {laptop3} with tls-crypt"
    # Silence alone proves little here: a p2p instance without tls-crypt that answered a probe then takes control
    # packets from that address only, until the handshake ends or times out ("Received control packet from unexpected
    # IP addr", measured with OpenVPN 2.6.14), so the earlier probe could silence this one. The journal says why.
    unit = f"openvpn-server@sixtunnel-{laptop3}.service"
    since = gateway.check_output("date '+%Y-%m-%d %H:%M:%S'")
    answer = handshake_probe(prober, address_facing(gateway, prober, 4), tunnel["port"])
    journal = gateway.check_output(f"journalctl -u {unit} --since {since!r} --no-pager -o cat")
    print(f"\nMEASURED secrets: after the run that reached {laptop3}, the probe to its port: {answer or 'no answer'}")
    assert answer is None, f"{laptop3}'s port still answers a handshake without the key"
    assert "tls-crypt unwrap" in journal, journal
