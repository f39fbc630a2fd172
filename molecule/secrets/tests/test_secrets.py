"""Proves no private key or static key leaves its host: not in -vvv output, temp dirs, fact cache or repo.

The needles are the exact key bytes read from the hosts after the runs: every base64 line of each private
key and every hex line of each static key, plus the base64 form of whole files (what a slurp would carry).
They stay in memory and reach grep on stdin, so the search itself writes no key to disk.
"""

import base64
import re
import subprocess

import pytest
from sixtunnel_molecule import container, ping6, plan_of, recap

KEY_FILES = "find /etc/openvpn -type f \\( -name '*.pem' -o -name '*.key' \\)"


def hosts_of(inventory):
    return inventory.get_hosts("sixtunnel_gateways") + inventory.get_hosts("sixtunnel_laptops")


def secret_files(host):
    """{path: content} of the key material on a host: PEM private keys and static keys."""
    files = {}
    for path in host.check_output(KEY_FILES).split():
        content = host.check_output(f"cat {path}")
        if "PRIVATE KEY" in content or "OpenVPN Static key" in content:
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
    assert sorted(auth.values()) == ["peer_fingerprint", "static_key"]
    for name in laptops:
        assert ping6(container(name), plan[name]["gateway_ip"]), f"{name}'s tunnel ({auth[name]}) does not pass"


def test_every_host_holds_key_material(inventory, secrets):
    gateway, laptop1, laptop2 = hosts_of(inventory)
    assert any("PRIVATE KEY" in content for content in secrets[gateway].values())
    assert any("Static key" in content for content in secrets[gateway].values())
    assert any("PRIVATE KEY" in content for content in secrets[laptop1].values())
    assert any("Static key" in content for content in secrets[laptop2].values())


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
