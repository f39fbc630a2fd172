"""Proves key rotation with traffic: each rotation (a laptop's keys, or the gateway's key pairs) loses at most 5 s of
a 5 pkt/s ping6, touches no tunnel it does not rotate, and leaves the old key on no host; a static-key laptop moves
to peer fingerprints with one variable.

Run in this order: each test starts from the site the one before left.
"""

import re
import time

import pytest
from sixtunnel_molecule import (
    CLIENT_UNIT,
    EXPORT_DIR,
    INVENTORY_DIR,
    SITE_ADDRESS,
    certificate_fingerprint,
    container,
    inline_block,
    main_pid,
    ping6,
    plan_of,
    podman_cp,
    recap,
    run_playbook,
    start_ping,
    stop_ping,
    whole_inventory,
)

LOSS_BUDGET = 25  # pings of a 5 pkt/s ping6: 5 s, the bound for a rotation
CLIENT_DIR = "/etc/openvpn/client/sixtunnel"
LEDGER = INVENTORY_DIR / ".sixtunnel" / "ledger.yml"


@pytest.fixture(scope="module")
def inventory():
    """The whole inventory: Molecule's hosts and the unmanaged laptop (in the inventory directory only)."""
    return whole_inventory()


@pytest.fixture(scope="module")
def plan(inventory):
    return plan_of(inventory)


@pytest.fixture(scope="module")
def names(inventory):
    """gateway, laptop1 (server instance), laptop2 (static key, p2p), laptop3 (tap, p2p): the hosts with containers."""
    (gateway,) = inventory.get_hosts("sixtunnel_gateways")
    managed = set(inventory.get_hosts("sixtunnel_laptops")) - set(inventory.get_hosts("server_unmanaged"))
    return (gateway, *sorted(managed))


@pytest.fixture(scope="module")
def unmanaged(inventory):
    """The laptop Ansible does not manage, and the bare container that runs its exported profile."""
    return inventory.get_hosts("server_unmanaged")[0], container(inventory.get_hosts("bare_clients")[0])


def key_line(host, path):
    """A line of a key file's body: text that only a copy of that key holds."""
    lines = [line for line in host.file(path).content_string.splitlines() if line and not line.startswith(("-", "#"))]
    assert lines, f"{path} on {host.backend.name} holds no key"
    return max(lines, key=len)


def holders(names, line):
    """Every file on every host of the scenario that holds the line: [host:path]."""
    found = []
    for name in names:
        result = container(name).run(f"grep -rlF -- {line!r} /etc /root /home /tmp /var/tmp /var/lib /run")
        found += [f"{name}:{path}" for path in result.stdout.split()]
    return found


def pids(names, plan):
    """Main PIDs of every tunnel end's unit: {(host, unit): pid}; 0 where it does not run."""
    gateway = container(names[0])
    units = {tunnel["gateway_unit"] for tunnel in plan.values() if tunnel["name"] in names}
    found = {(names[0], unit): main_pid(gateway, unit) for unit in units}
    found.update({(name, CLIENT_UNIT): main_pid(container(name), CLIENT_UNIT) for name in names[1:]})
    return found


def rotate(laptop, gateway, names, plan, *extra):
    """Rotate laptop's keys with --limit under a 5 pkt/s ping6 from it to the site; return (lost, sent, output)."""
    # Every other end, and a server instance, which serves the other laptops too.
    others = {key: pid for key, pid in pids(names, plan).items() if laptop not in key[0] + key[1]}
    start_ping(container(laptop), SITE_ADDRESS)
    started = time.monotonic()
    try:
        rc, output = run_playbook(
            "--limit", f"{gateway},{laptop}", *extra, "sixtunnel.openvpn.rotate", inventory=INVENTORY_DIR
        )
    finally:
        sent, received = stop_ping(container(laptop))
    print(
        f"\nMEASURED rotation: {laptop} ({plan[laptop]['mode']}, {plan[laptop]['auth']}): run {time.monotonic() - started:.0f} s,"
        f" ping6 through it {sent} sent, {sent - received} lost ({(sent - received) / 5:.1f} s)"
    )
    assert rc == 0, output
    now = pids(names, plan)
    restarted = [f"{unit} on {host}" for (host, unit), pid in others.items() if now.get((host, unit)) != pid]
    assert not restarted, f"rotating {laptop} restarted {', '.join(restarted)}"
    return sent - received, sent, output


def fingerprint_of(host, path):
    """`sha256 Fingerprint=AB:CD:...` of the certificate at path on host."""
    return host.check_output(f"openssl x509 -noout -fingerprint -sha256 -in {path}")


def test_every_run_reports_certificates_near_their_end(plan):
    """With a threshold beyond their 10 years every certificate is near its end: each is named, nothing changes."""
    rc, output = run_playbook(
        "-e", "openvpn_server_certificate_warn_days=4000", "-e", "openvpn_client_certificate_warn_days=4000",
        "sixtunnel.openvpn.site",
        inventory=INVENTORY_DIR,
    )  # fmt: skip
    assert rc == 0, output
    warned = re.findall(r"(/etc/openvpn/\S+)/cert\.pem expires in (\d+) days", output)
    certified = [tunnel for tunnel in plan.values() if tunnel["auth"] == "peer_fingerprint"]
    gateway_dirs = {tunnel["gateway_dir"] for tunnel in certified}
    kept = {tunnel["gateway_laptop_dir"] for tunnel in certified if not tunnel["managed"]}  # unmanaged laptops' pairs
    assert {path for path, _days in warned} == gateway_dirs | kept | {CLIENT_DIR}, output
    assert all(3640 <= int(days) <= 3650 for _path, days in warned), warned
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output


@pytest.mark.parametrize("index", [3, 1], ids=["p2p-tap", "server-instance"])
def test_rotating_a_key_pair_loses_at_most_5_s(names, plan, index):
    gateway, laptop = names[0], names[index]
    tunnel = plan[laptop]
    laptop_host, gateway_host = container(laptop), container(gateway)
    old_lines = [key_line(laptop_host, f"{CLIENT_DIR}/key.pem")]
    old_fingerprint = fingerprint_of(laptop_host, f"{CLIENT_DIR}/cert.pem")
    if tunnel["mode"] == "p2p":  # the tunnel's own gateway key pair is rotated with it
        old_lines.append(key_line(gateway_host, f"{tunnel['gateway_dir']}/key.pem"))
    if tunnel["tls_crypt"]:  # its tls-crypt key (p2p) or tls-crypt-v2 client key (server instance) too
        old_lines.append(key_line(gateway_host, tunnel["gateway_tls_crypt_key"]))

    lost, sent, _output = rotate(laptop, gateway, names, plan)

    assert lost <= LOSS_BUDGET, f"{laptop} lost {lost} of {sent} pings while its keys were rotated"
    new_fingerprint = fingerprint_of(laptop_host, f"{CLIENT_DIR}/cert.pem")
    assert new_fingerprint != old_fingerprint, f"{laptop}'s certificate was not renewed"
    for line in old_lines:
        assert not holders(names, line), f"an old private key is still on {holders(names, line)}"
    if tunnel["mode"] == "server":
        pinned = gateway_host.check_output(f"cat {tunnel['gateway_dir']}/peers/{laptop}.pem")
        assert laptop_host.check_output(f"cat {CLIENT_DIR}/cert.pem") in pinned, (
            "the gateway trusts the old certificate"
        )
    assert ping6(laptop_host, SITE_ADDRESS), f"{laptop} cannot reach the site with its new keys"
    assert ping6(gateway_host, tunnel["laptop_ip"]), f"the gateway cannot reach {laptop} with its new keys"


def run_profile(bare, name, profile):
    """Start an exported profile in the bare container; return its log's path."""
    podman_cp(profile, f"{bare.backend.name}:/root/{name}.ovpn")
    started = bare.run(
        f"openvpn --daemon --config /root/{name}.ovpn --log /root/{name}.log --writepid /root/{name}.pid"
    )
    assert started.rc == 0, started.stderr
    return f"/root/{name}.log"


def assert_profile_reaches_site(bare, name, profile):
    """Run the exported profile in the bare container until it reaches the site (or fail with its log), then stop."""
    try:
        log = run_profile(bare, name, profile)
        assert ping6(bare, SITE_ADDRESS, attempts=30), f"{profile} does not connect: {bare.file(log).content_string}"
    finally:
        stop_profile(bare, name)


def stop_profile(bare, name):
    bare.run(f"kill $(cat /root/{name}.pid); while kill -0 $(cat /root/{name}.pid) 2>/dev/null; do sleep 0.2; done")


def test_rotating_an_unmanaged_laptop_renews_its_exported_profile(names, plan, unmanaged, tmp_path):
    """The gateway keeps its key pair: rotated there, exported again; the old profile is refused, the new one works."""
    name, bare = unmanaged
    gateway, tunnel = names[0], plan[name]
    profile = EXPORT_DIR / f"{name}.ovpn"
    old_profile = tmp_path / "old.ovpn"
    old_profile.write_text(profile.read_text())
    old_line = max(inline_block(old_profile.read_text(), "key").splitlines(), key=len)
    old_control = max(inline_block(old_profile.read_text(), tunnel["tls_crypt_option"]).splitlines(), key=len)
    old_fingerprint = certificate_fingerprint(inline_block(old_profile.read_text(), "cert"))
    try:
        run_profile(bare, name, old_profile)
        assert ping6(bare, SITE_ADDRESS), f"{name}'s profile does not reach the site before the rotation"
    finally:
        stop_profile(bare, name)

    rc, output = run_playbook("--limit", f"{gateway},{name}", "sixtunnel.openvpn.rotate", inventory=INVENTORY_DIR)
    assert rc == 0, output

    new_fingerprint = certificate_fingerprint(inline_block(profile.read_text(), "cert"))
    assert new_fingerprint != old_fingerprint, f"{name}'s exported profile still has the old certificate"
    assert old_line not in profile.read_text(), "the exported profile kept the old private key"
    assert not holders(names, old_line), f"the old private key is still on {holders(names, old_line)}"
    assert old_control not in profile.read_text(), "the exported profile kept the old control-channel key"
    assert not holders(names, old_control), f"the old control-channel key is still on {holders(names, old_control)}"
    try:
        log = run_profile(bare, name, old_profile)
        assert not ping6(bare, tunnel["gateway_ip"], attempts=15), (
            f"the old profile still connects: {bare.file(log).content_string}"
        )
    finally:
        stop_profile(bare, name)
    assert_profile_reaches_site(bare, name, profile)


def test_renewing_a_server_instance_needs_every_one_of_its_laptops(names, plan):
    """--limit to one laptop of the instance: refused, naming the others, before any host changes anything."""
    gateway, laptop = names[0], names[1]
    tunnel = plan[laptop]
    old_line = key_line(container(gateway), f"{tunnel['gateway_dir']}/key.pem")
    left_out = sorted(
        name
        for name, other in plan.items()
        if other["mode"] == "server" and other["gateway_instance"] == tunnel["gateway_instance"] and name != laptop
    )
    assert left_out, "the instance serves one laptop only: nothing to leave out"

    rc, output = run_playbook(
        "--limit", f"{gateway},{laptop}", "sixtunnel.openvpn.rotate_gateway", inventory=INVENTORY_DIR
    )

    assert rc != 0, output
    assert tunnel["gateway_instance"] in output and all(name in output for name in left_out), output
    assert key_line(container(gateway), f"{tunnel['gateway_dir']}/key.pem") == old_line, "the instance got new keys"
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output


def test_rotating_the_gateway_loses_at_most_5_s(names, plan, unmanaged):
    """Every gateway key pair renewed in one run: the server instance's and the p2p tap tunnel's gateway end, each
    under a 5 pkt/s ping6 through one of its laptops; the laptops keep theirs, the unmanaged profile is renewed, and
    the static-key tunnel (no gateway key pair) is not restarted."""
    gateway, instance_laptop, static_laptop, p2p_laptop = names
    static = {key: pid for key, pid in pids(names, plan).items() if static_laptop in key[0] + key[1]}
    gateway_host = container(gateway)
    watched = {name: container(name) for name in (instance_laptop, p2p_laptop)}
    assert {plan[name]["mode"] for name in watched} == {"server", "p2p"}, plan
    old_lines = {name: key_line(gateway_host, f"{plan[name]['gateway_dir']}/key.pem") for name in watched}
    old_gateway = {name: fingerprint_of(gateway_host, f"{plan[name]['gateway_dir']}/cert.pem") for name in watched}
    old_laptop = {name: host.file(f"{CLIENT_DIR}/cert.pem").content_string for name, host in watched.items()}
    name, bare = unmanaged
    profile = EXPORT_DIR / f"{name}.ovpn"

    for host in watched.values():
        start_ping(host, SITE_ADDRESS)
    started = time.monotonic()
    try:
        rc, output = run_playbook("sixtunnel.openvpn.rotate_gateway", inventory=INVENTORY_DIR)
    finally:
        counts = {laptop: stop_ping(host) for laptop, host in watched.items()}
    for laptop, (sent, received) in counts.items():
        print(
            f"\nMEASURED gateway rotation: through {laptop} ({plan[laptop]['mode']}): run {time.monotonic() - started:.0f} s,"
            f" ping6 {sent} sent, {sent - received} lost ({(sent - received) / 5:.1f} s)"
        )
    assert rc == 0, output

    for laptop, host in watched.items():
        sent, received = counts[laptop]
        assert sent - received <= LOSS_BUDGET, (
            f"{laptop} lost {sent - received} of {sent} pings in the gateway rotation"
        )
        assert fingerprint_of(gateway_host, f"{plan[laptop]['gateway_dir']}/cert.pem") != old_gateway[laptop], (
            f"{laptop}'s gateway end kept its keys"
        )
        assert host.file(f"{CLIENT_DIR}/cert.pem").content_string == old_laptop[laptop], f"{laptop}'s own keys changed"
        assert not holders(names, old_lines[laptop]), (
            f"an old gateway key is still on {holders(names, old_lines[laptop])}"
        )
        assert ping6(gateway_host, plan[laptop]["laptop_ip"]), f"the gateway cannot reach {laptop} with its new keys"
    assert pids(names, plan).items() >= static.items(), f"the static-key tunnel of {static_laptop} restarted"
    # The unmanaged laptop's profile pins the instance's new certificate, and connects.
    pinned = inline_block(profile.read_text(), "peer-fingerprint")
    assert (
        pinned
        and pinned.strip() == fingerprint_of(gateway_host, f"{plan[name]['gateway_dir']}/cert.pem").split("=", 1)[1]
    ), pinned
    assert_profile_reaches_site(bare, name, profile)


def test_rotating_a_static_key_loses_at_most_5_s(names, plan):
    gateway, laptop = names[0], names[2]
    tunnel = plan[laptop]
    gateway_key = f"{tunnel['gateway_dir']}/static.key"
    old_line = key_line(container(gateway), gateway_key)

    lost, sent, _output = rotate(laptop, gateway, names, plan)

    assert lost <= LOSS_BUDGET, f"{laptop} lost {lost} of {sent} pings while its static key was rotated"
    new_key = container(gateway).file(gateway_key).content_string
    assert old_line not in new_key, "the gateway kept the old static key"
    assert container(laptop).file(f"{CLIENT_DIR}/static.key").content_string == new_key, "the ends hold other keys"
    assert not holders(names, old_line), f"the old static key is still on {holders(names, old_line)}"
    assert ping6(container(gateway), tunnel["laptop_ip"]), f"the gateway cannot reach {laptop} with the new key"


def test_moving_off_static_keys_is_one_variable(names, tmp_path):
    gateway, laptop = names[0], names[2]
    old_line = key_line(container(gateway), f"{laptop_tunnel(laptop)['gateway_dir']}/static.key")
    # host_vars beside an inventory source: Molecule's host_vars files would win over a host variable in the file.
    moved = tmp_path / "moved.yml"
    moved.write_text(f"---\nsixtunnel_laptops:\n  hosts:\n    {laptop}:\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / f"{laptop}.yml").write_text("---\nsixtunnel_auth: peer_fingerprint\n")

    rc, output = run_playbook(
        "-i", str(moved), "--limit", f"{gateway},{laptop}", "-e", f"sixtunnel_ledger_file={LEDGER}",
        "sixtunnel.openvpn.site",
        inventory=INVENTORY_DIR,
    )  # fmt: skip
    assert rc == 0, output

    tunnel = laptop_tunnel(laptop, {"sixtunnel_auth": "peer_fingerprint"})
    assert tunnel["mode"] == "server", "a peer-fingerprint tun laptop joins the server instance"
    assert ping6(container(laptop), SITE_ADDRESS), f"{laptop} cannot reach the site after the move"
    assert ping6(container(gateway), tunnel["laptop_ip"]), f"the gateway cannot reach {laptop} after the move"
    assert not holders(names, old_line), f"the old static key is still on {holders(names, old_line)}"
    for name in (gateway, laptop):
        left = container(name).check_output("find /etc/openvpn -name static.key")
        assert not left, f"a static key is left on {name}: {left}"


def laptop_tunnel(laptop, overrides=None):
    """The laptop's tunnel record as the inventory (with overrides of its variables) implies it."""
    return plan_of(whole_inventory(), overrides={laptop: overrides or {}})[laptop]
