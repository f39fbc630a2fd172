"""Proves server mode: one instance per transport carries every laptop that can join, each on its own /64.

Run in this order: onboarding, isolation and offboarding use laptop4 in turn; the switch of modes comes last.
"""

import re
import time

import pytest
from sixtunnel_molecule import (
    EXPORT_DIR,
    INVENTORY_DIR,
    SERVER_UNIT,
    SITE_ADDRESS,
    address_facing,
    container,
    handshake_probe,
    main_pid,
    ping6,
    plan_of,
    podman_cp,
    run_playbook,
    start_ping,
    stop_ping,
    whole_inventory,
)

UDP_INSTANCE = "openvpn-server@sixtunnel_server.service"
TCP_INSTANCE = "openvpn-server@sixtunnel_server-tcp.service"
P2P_SITE = '{"sixtunnel_site": {"prefix": "2001:db8:abba::/48", "mode": "p2p"}}'


@pytest.fixture(scope="module")
def plan(names):
    """The plan once laptop4 is a laptop too."""
    laptops = [names[key] for key in ("laptop1", "laptop2", "laptop3", "laptop4", "mac")]
    return plan_of(whole_inventory(), laptops)


def instance_pids(names):
    """Main PIDs of the gateway's instances: both server instances and laptop2's p2p one."""
    gateway = container(names["gateway"])
    units = (UDP_INSTANCE, TCP_INSTANCE, SERVER_UNIT.format(names["laptop2"]))
    return {unit: main_pid(gateway, unit) for unit in units}


def laptop_address(host, device):
    """The global IPv6 addresses on a laptop's tunnel device."""
    return set(re.findall(r"inet6 (\S+) scope global", host.check_output(f"ip -6 addr show dev {device}")))


def test_each_laptop_ends_in_its_instance(names, plan):
    gateway = container(names["gateway"])
    assert plan[names["laptop1"]]["mode"] == plan[names["laptop3"]]["mode"] == "server"
    assert plan[names["laptop2"]]["mode"] == "p2p", "a static-key laptop cannot join a server instance"
    for unit, pid in instance_pids(names).items():
        assert pid, f"{unit} does not run on the gateway"
    # Three OpenVPN processes for four laptops over two transports: one per instance, none per joined laptop.
    assert len(gateway.check_output("pgrep -x openvpn").split()) == 3
    assert not gateway.file(f"/etc/openvpn/server/sixtunnel-{names['laptop1']}.conf").exists


@pytest.mark.parametrize("laptop", ["laptop1", "laptop2", "laptop3"])
def test_traffic_passes_both_ways(names, plan, laptop):
    name = names[laptop]
    tunnel, host, gateway = plan[name], container(name), container(names["gateway"])
    assert laptop_address(host, tunnel["interface"]) == {tunnel["laptop_address"]}
    assert ping6(host, tunnel["gateway_ip"]), f"{name} cannot ping its gateway end {tunnel['gateway_ip']}"
    assert ping6(host, SITE_ADDRESS), f"{name} cannot reach the site address {SITE_ADDRESS}"
    assert ping6(gateway, tunnel["laptop_ip"]), f"the gateway cannot ping {name} at {tunnel['laptop_ip']}"


def test_routed_network_reaches_its_laptop(names, plan):
    name = names["laptop1"]
    (network,) = plan[name]["routed_networks"]
    address = network.split("/")[0] + "1"
    container(name).check_output(f"ip -6 addr replace {address}/128 dev lo")
    assert ping6(container(names["gateway"]), address), f"the gateway cannot reach {address} behind {name}"


def test_unmanaged_laptops_profile_works_against_the_server_instance(names, plan, inventory):
    """The exported profile alone, in a container nobody configured: the instance pushes its address and route."""
    name, bare = names["mac"], container(inventory.get_hosts("bare_clients")[0])
    profile = (EXPORT_DIR / f"{name}.ovpn").read_text()
    assert "\nclient\n" in profile and "ifconfig-ipv6 " not in profile, profile
    # Its own tls-crypt-v2 client key, inline: the one the gateway made for it from the instance's server key.
    client_key = (
        container(names["gateway"])
        .file(f"/etc/openvpn/server/sixtunnel_server/tls-crypt-v2/{name}/tls-crypt-v2-client.key")
        .content_string
    )
    assert f"\n<tls-crypt-v2>\n{client_key.strip()}\n</tls-crypt-v2>\n" in profile
    podman_cp(EXPORT_DIR / f"{name}.ovpn", f"{bare.backend.name}:/root/{name}.ovpn")
    started = bare.run(
        f"openvpn --daemon --config /root/{name}.ovpn --log /root/{name}.log --writepid /root/{name}.pid"
    )
    assert started.rc == 0, started.stderr
    try:
        assert ping6(bare, plan[name]["gateway_ip"]), bare.file(f"/root/{name}.log").content_string
        assert ping6(bare, SITE_ADDRESS), f"{name}'s profile does not reach the site address {SITE_ADDRESS}"
        assert plan[name]["laptop_address"] in bare.check_output("ip -6 addr show"), "the pushed address is not set"
        assert ping6(container(names["gateway"]), plan[name]["laptop_ip"]), f"the gateway cannot ping {name}"
    finally:
        bare.run(f"kill $(cat /root/{name}.pid); while kill -0 $(cat /root/{name}.pid) 2>/dev/null; do sleep 0.2; done")


def test_server_instance_answers_no_handshake_without_a_client_key(names, plan):
    """One P_CONTROL_HARD_RESET_CLIENT_V2 without a tls-crypt-v2 client key, from a container, to the UDP instance:
    no answer (the secrets scenario shows the same probe answered by a peer-fingerprint port without tls-crypt),
    while its laptops, each with its own client key, pass traffic."""
    gateway, prober = container(names["gateway"]), container(names["laptop2"])
    address, laptop1 = address_facing(gateway, prober, 4), names["laptop1"]
    assert plan[laptop1]["tls_crypt_option"] == "tls-crypt-v2"
    since = gateway.check_output("date '+%Y-%m-%d %H:%M:%S'")
    answer = handshake_probe(prober, address, plan[laptop1]["port"])
    journal = gateway.check_output(f"journalctl -u {UDP_INSTANCE} --since {since!r} --no-pager -o cat")
    print(
        f"\nMEASURED server_mode: handshake probe to {address} port {plan[laptop1]['port']} (tls-crypt-v2): "
        f"{answer or 'no answer within 5 s'}; the instance logged: {journal.strip()!r}"
    )
    assert answer is None, f"the server instance answered a handshake without a client key (opcode {answer})"
    # The control: the probe reached the instance, which dropped it unread (measured: "TLS Error: could not determine
    # wrapping from [AF_INET6]::ffff:PROBER:PORT").
    assert "could not determine wrapping" in journal, journal
    config = gateway.file("/etc/openvpn/server/sixtunnel_server.conf").content_string
    assert "\ntls-crypt-v2 /etc/openvpn/server/sixtunnel_server/tls-crypt-v2-server.key\n" in config
    for key in ("laptop1", "laptop3"):
        name = names[key]
        assert (
            "\ntls-crypt-v2 /etc/openvpn/client/sixtunnel/tls-crypt-v2.key\n"
            in container(name).file("/etc/openvpn/client/sixtunnel.conf").content_string
        )
        assert ping6(container(name), plan[name]["gateway_ip"]), f"{name} cannot reach its gateway end"
        assert ping6(gateway, plan[name]["laptop_ip"]), f"the gateway cannot reach {name}"


def test_onboarding_with_limit_restarts_no_instance(names, plan, ledger_file, onboarding_inventory):
    laptop1, laptop4 = names["laptop1"], names["laptop4"]
    before = instance_pids(names)
    start_ping(container(laptop1), plan[laptop1]["gateway_ip"])
    started = time.monotonic()
    try:
        rc, output = run_playbook(
            "-i", str(onboarding_inventory), "--limit", f"{names['gateway']},{laptop4}",
            "-e", f"sixtunnel_ledger_file={ledger_file}", "sixtunnel.openvpn.site", inventory=INVENTORY_DIR,
        )  # fmt: skip
    finally:
        transmitted, received = stop_ping(container(laptop1))
    print(
        f"\nMEASURED server_mode: onboarding {laptop4} with --limit took {time.monotonic() - started:.0f} s;"
        f" {laptop1}'s ping6 through the server instance: {transmitted} sent, {transmitted - received} lost"
    )
    assert rc == 0, output
    assert transmitted - received <= 1, f"laptop1 lost {transmitted - received} of {transmitted} pings"
    assert instance_pids(names) == before, "an instance was restarted by the onboarding run"
    clients = container(names["gateway"]).file("/etc/openvpn/server/sixtunnel_server/clients").content_string
    assert f"] {names['mac']}\n" in clients and f"] {laptop4}\n" in clients, clients
    tunnel = plan[laptop4]
    assert laptop_address(container(laptop4), tunnel["interface"]) == {tunnel["laptop_address"]}
    assert ping6(container(laptop4), SITE_ADDRESS), f"{laptop4} cannot reach the site address"
    assert ping6(container(names["gateway"]), tunnel["laptop_ip"]), f"the gateway cannot ping {laptop4}"


def test_a_laptop_cannot_send_from_another_laptops_address(names, plan):
    """laptop4, with its own certificate, puts laptop1's address on its device: the server instance drops that."""
    laptop1, laptop4 = names["laptop1"], names["laptop4"]
    host, stolen, own = container(laptop4), plan[laptop1]["laptop_ip"], plan[laptop4]["laptop_ip"]
    host.check_output(f"ip -6 addr add {stolen}/128 dev {plan[laptop4]['interface']} nodad")
    try:
        answered = host.run(f"ping -6 -c 3 -W 1 -I {stolen} {SITE_ADDRESS}").rc == 0
        # The control: the same device, the same moment, from laptop4's own address.
        assert ping6(host, SITE_ADDRESS, options=f"-I {own}"), f"{laptop4} cannot reach the site from {own}"
    finally:
        host.check_output(f"ip -6 addr del {stolen}/128 dev {plan[laptop4]['interface']}")
    assert not answered, f"{laptop4} reached the site from {laptop1}'s address {stolen}"
    assert ping6(container(laptop1), SITE_ADDRESS), f"{laptop1} lost its tunnel"


def test_offboarding_an_unreachable_laptop_ends_its_session(names, plan, ledger_file, onboarding_inventory):
    """laptop4 is offboarded while it cannot be reached (stolen): its OpenVPN keeps trying, the gateway refuses it."""
    gateway, laptop1, laptop4 = container(names["gateway"]), names["laptop1"], names["laptop4"]
    assert ping6(container(laptop4), plan[laptop4]["gateway_ip"]), "laptop4 is not connected before offboarding"
    before = instance_pids(names)
    start_ping(container(laptop1), plan[laptop1]["gateway_ip"])
    try:
        rc, output = run_playbook(
            "-i", str(onboarding_inventory), "--limit", names["gateway"], "-e", f"offboard={laptop4}",
            "-e", f"sixtunnel_ledger_file={ledger_file}", "sixtunnel.openvpn.offboard", inventory=INVENTORY_DIR,
        )  # fmt: skip
    finally:
        transmitted, received = stop_ping(container(laptop1))
    assert rc == 0, output
    assert transmitted - received <= 1, f"laptop1 lost {transmitted - received} of {transmitted} pings"
    assert instance_pids(names) == before, "an instance was restarted by offboarding"

    # The session ended at once, and laptop4's attempts to come back are refused (its OpenVPN was not touched).
    assert container(laptop4).file("/etc/openvpn/client/sixtunnel.conf").exists
    assert "AUTH_FAILED" in container(laptop4).check_output(
        "journalctl -u openvpn-client@sixtunnel.service -n 100 --no-pager -o cat"
    ), "the gateway did not refuse laptop4's new handshake"
    assert not ping6(container(laptop4), plan[laptop4]["gateway_ip"], attempts=5), "laptop4 still reaches the site"
    assert plan[laptop4]["gateway_address"] not in gateway.check_output("ip -6 addr show dev sixtsrv")
    instance = "/etc/openvpn/server/sixtunnel_server"
    assert not gateway.file(f"{instance}/peers/{laptop4}.pem").exists
    assert not gateway.file(f"{instance}/tls-crypt-v2/{laptop4}").exists, "laptop4's client key is still there"
    assert laptop4 not in gateway.file(f"{instance}/clients").content_string
    journal = gateway.check_output(f"journalctl -u {UDP_INSTANCE} -n 200 --no-pager -o cat")
    assert "client-connect" in journal, journal
    assert ping6(container(laptop1), SITE_ADDRESS), f"{laptop1} lost its tunnel"


def test_switching_modes_keeps_every_address(names, plan, ledger_file):
    gateway = container(names["gateway"])
    laptops = [names[key] for key in ("laptop1", "laptop2", "laptop3")]
    ledger_before = ledger_file.read_text()
    for mode, extra in (("p2p", ["-e", P2P_SITE]), ("server", [])):
        rc, output = run_playbook(
            *extra, "-e", f"sixtunnel_ledger_file={ledger_file}", "sixtunnel.openvpn.site", inventory=INVENTORY_DIR
        )
        assert rc == 0, f"switching to {mode} mode failed:\n{output}"
        for name in laptops:
            tunnel, host = plan[name], container(name)
            assert laptop_address(host, tunnel["interface"]) == {tunnel["laptop_address"]}, f"{name} in {mode}"
            assert ping6(host, SITE_ADDRESS), f"{name} cannot reach the site in {mode} mode"
            assert ping6(gateway, tunnel["laptop_ip"]), f"the gateway cannot ping {name} in {mode} mode"
        joined = [f"/etc/openvpn/server/sixtunnel-{names[key]}.conf" for key in ("laptop1", "laptop3")]
        server_configs = ["/etc/openvpn/server/sixtunnel_server.conf", "/etc/openvpn/server/sixtunnel_server-tcp.conf"]
        present, gone = (joined, server_configs) if mode == "p2p" else (server_configs, joined)
        for path in present:
            assert gateway.file(path).exists, f"{path} missing in {mode} mode"
        for path in gone:
            assert not gateway.file(path).exists, f"{path} left behind in {mode} mode"
        # p2p: one instance per laptop (mac's too); server: one per transport and laptop2's own.
        p2p_units = [SERVER_UNIT.format(names[key]) for key in ("laptop1", "laptop2", "laptop3", "mac")]
        running = p2p_units if mode == "p2p" else [UDP_INSTANCE, TCP_INSTANCE, SERVER_UNIT.format(names["laptop2"])]
        units = gateway.run("systemctl list-units --all --no-pager --plain 'openvpn-server@*'").stdout
        for unit in running:
            assert gateway.service(unit).is_running, f"{unit} is not running in {mode} mode:\n{units}"
        assert len(gateway.check_output("pgrep -x openvpn").split()) == len(running), f"{mode} mode:\n{units}"
    assert ledger_file.read_text() == ledger_before, "switching modes changed the ledger"
