"""The firewall proven with traffic from outside and inside the tunnels. The tests run in file order and the
last ones reboot the gateway and offboard laptop2: converge again before verifying again."""

import re
import subprocess
import time

import pytest
from sixtunnel_molecule import SITE_ADDRESS, address_facing, ping6, present, recap, run_playbook, wait_booted

GATEWAY = "sixtunnel-firewall-gateway"
LAPTOP1 = "sixtunnel-firewall-laptop1"
LAPTOP2 = "sixtunnel-firewall-laptop2"  # routes 2001:db8:abba:2001::/64 to BEHIND
BEHIND = "sixtunnel-firewall-behind"
OUTSIDE = "sixtunnel-firewall-outside"
PROBES = 10  # packets per probe: well above the few keepalives a tunnel sends meanwhile

# Run on OUTSIDE: sends OpenVPN's first packet, P_CONTROL_HARD_RESET_CLIENT_V2 (opcode 7, key id 0, a fresh
# session id, no acks, packet id 0), and prints "answer" if OpenVPN acknowledges one of our session ids,
# "refused" on an ICMP port unreachable, "silent" otherwise.
PROBE = """
import os, socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2)
sock.connect((host, port))
sessions, result = [], "silent"
try:
    for _attempt in range(count):
        sessions.append(os.urandom(8))
        sock.send(bytes([7 << 3]) + sessions[-1] + bytes(5))
    while result == "silent":
        data = sock.recv(2048)
        if any(session in data for session in sessions):
            result = "answer"
except ConnectionRefusedError:
    result = "refused"
except socket.timeout:
    pass
print(result)
"""


def probe(hosts, address, port, count=PROBES):
    return hosts(OUTSIDE).check_output(f"python3 -c '{PROBE}' {address} {port} {count}")


def echo_requests_received(host):
    return int(host.check_output("awk '$1 == \"Icmp6InEchos\" {print $2}' /proc/net/snmp6"))


@pytest.fixture
def gateway_addresses(hosts):
    """The gateway's IPv4 and IPv6 address on the network it shares with OUTSIDE (IPv4 is pinned; IPv6 may change
    on a reboot)."""
    return {family: address_facing(hosts(GATEWAY), hosts(OUTSIDE), family) for family in (4, 6)}


def test_table_holds_exactly_the_inventory_tunnels(table, plan):
    gateway = table(GATEWAY)
    tunnels = present(plan)
    assert gateway.dports("input") == {("udp", tunnel["port"]) for tunnel in tunnels.values()}
    assert gateway.set_elements("laptop_interfaces") == {tunnel["interface"] for tunnel in tunnels.values()}
    assert {chain for chain in gateway.chains() if chain.startswith("from_tunnel_")} == {
        f"from_tunnel_{tunnel['tunnel_id']}" for tunnel in tunnels.values()
    }
    for name, tunnel in tunnels.items():
        assert table(name).dports("output") == {("udp", tunnel["port"])}


@pytest.mark.parametrize("name", [GATEWAY, LAPTOP1, LAPTOP2])
def test_firewall_file_is_root_only_and_loaded_at_boot(hosts, name):
    host = hosts(name)
    assert host.file("/etc/sixtunnel").user == "root" and host.file("/etc/sixtunnel").mode == 0o750
    rules = host.file("/etc/sixtunnel/nftables.nft")
    assert rules.user == "root" and rules.mode == 0o640
    assert re.search(r"^table inet sixtunnel \{\n\}\ndelete table inet sixtunnel$", rules.content_string, re.MULTILINE)
    unit = host.service("sixtunnel-nftables")
    assert unit.is_enabled and unit.is_running


@pytest.mark.parametrize("family", [4, 6])
def test_tunnel_ports_answer_from_outside(hosts, table, plan, gateway_addresses, family):
    gateway = table(GATEWAY)
    for name, tunnel in present(plan).items():
        comment = f"tunnel of {name}"
        before = gateway.packets("input", comment)
        assert probe(hosts, gateway_addresses[family], tunnel["port"]) == "answer", f"port of {name}, IPv{family}"
        counted = gateway.packets("input", comment) - before
        assert counted >= PROBES, f"the rule '{comment}' counted {counted} of {PROBES} probes"
    for name in present(plan):
        assert ping6(hosts(name), SITE_ADDRESS), f"{name}'s tunnel broke after being probed from outside"


@pytest.mark.parametrize("family", [4, 6])
def test_another_udp_port_does_not_pass_the_sixtunnel_rules(hosts, table, plan, gateway_addresses, family):
    gateway = table(GATEWAY)
    other_port = max(tunnel["port"] for tunnel in plan.values()) + 100
    before = gateway.total_packets("input")
    assert probe(hosts, gateway_addresses[family], other_port) == "refused"
    counted = gateway.total_packets("input") - before
    # Only the tunnels' own keepalives, never the probes.
    assert counted < PROBES, (
        f"the sixtunnel input rules counted {counted} packets while {PROBES} went to port {other_port}"
    )


@pytest.mark.parametrize("name", [LAPTOP1, LAPTOP2, BEHIND])
def test_site_is_reachable(hosts, name):
    assert ping6(hosts(name), SITE_ADDRESS), f"{name} cannot reach the site address {SITE_ADDRESS}"


def test_gateway_tracks_no_connections_for_the_tunnels(hosts):
    """The table has no `ct` rule, so nothing in the gateway's network namespace turns connection tracking on: with
    the old return-traffic rule every tunnel packet was tracked (docs/benchmarks.md measured what that cost)."""
    gateway = hosts(GATEWAY)
    count = gateway.file("/proc/sys/net/netfilter/nf_conntrack_count")
    if not count.exists:
        pytest.skip("this kernel has no connection tracking")
    for name in (LAPTOP1, LAPTOP2, BEHIND):
        assert hosts(name).run(f"ping -6 -c 20 -i 0.05 -W 1 {SITE_ADDRESS}").rc == 0, (
            f"{name} got no answer from the site"
        )
    tracked = int(count.content_string)
    ruleset = gateway.check_output("nft list ruleset")
    assert tracked == 0, f"{GATEWAY} tracks {tracked} connections; its ruleset:\n{ruleset}"


@pytest.mark.parametrize("spoofed", ["laptop2's own address", "a site address no laptop owns"])
def test_spoofed_source_from_a_laptop_is_dropped_at_the_gateway(hosts, table, plan, spoofed):
    source = plan[LAPTOP2]["laptop_ip"] if spoofed.startswith("laptop2") else "2001:db8:abba::99"
    laptop, gateway = hosts(LAPTOP1), hosts(GATEWAY)
    comment = f"spoofed source from {LAPTOP1}"
    interface = plan[LAPTOP1]["interface"]
    laptop.check_output(f"ip -6 addr add {source}/128 dev {interface} nodad")
    try:
        dropped, echoes = (
            table(GATEWAY).packets(f"from_tunnel_{plan[LAPTOP1]['tunnel_id']}", comment),
            echo_requests_received(gateway),
        )
        assert laptop.run(f"ping -6 -c 3 -W 1 -I {source} {SITE_ADDRESS}").rc != 0
        dropped = table(GATEWAY).packets(f"from_tunnel_{plan[LAPTOP1]['tunnel_id']}", comment) - dropped
        assert dropped >= 3, f"the gateway dropped {dropped} of 3 pings from {source}"
        assert echo_requests_received(gateway) == echoes, "a spoofed echo request reached the gateway's stack"
    finally:
        laptop.run(f"ip -6 addr del {source}/128 dev {interface}")
    echoes = echo_requests_received(gateway)
    assert ping6(laptop, SITE_ADDRESS, options=f"-I {plan[LAPTOP1]['laptop_ip']}")
    assert echo_requests_received(gateway) > echoes


def test_routed_network_passes_both_firewalls(hosts, table, plan):
    """The host behind laptop2 reaches the site: laptop2's forward rules and the gateway's source check let it."""
    home = table(LAPTOP2).packets("forward", "routed networks home")
    sources = table(GATEWAY).packets(f"from_tunnel_{plan[LAPTOP2]['tunnel_id']}", f"sources of {LAPTOP2}")
    assert ping6(hosts(BEHIND), SITE_ADDRESS)
    assert table(LAPTOP2).packets("forward", "routed networks home") > home
    assert table(GATEWAY).packets(f"from_tunnel_{plan[LAPTOP2]['tunnel_id']}", f"sources of {LAPTOP2}") > sources


@pytest.mark.parametrize(
    ("source", "target"),
    [(LAPTOP1, LAPTOP2), (LAPTOP2, LAPTOP1), (BEHIND, LAPTOP1)],
    ids=["1to2", "2to1", "behind2to1"],
)
def test_laptop_to_laptop_is_dropped(hosts, table, plan, source, target):
    before = table(GATEWAY).packets("forward", "laptop to laptop")
    assert hosts(source).run(f"ping -6 -c 3 -W 1 {plan[target]['laptop_ip']}").rc != 0
    dropped = table(GATEWAY).packets("forward", "laptop to laptop") - before
    assert dropped >= 3, f"the gateway dropped {dropped} of 3 pings from {source} to {target}"


@pytest.mark.parametrize("source", ["own", "routed"])
def test_a_neighbour_cannot_enter_the_site_through_a_routing_laptop(hosts, table, plan, source):
    """OUTSIDE shares laptop2's local network and routes the site via laptop2: laptop2 drops it, whatever the source."""
    outside, laptop = hosts(OUTSIDE), hosts(LAPTOP2)
    laptop_address = address_facing(laptop, outside, 6)
    spoofed = "2001:db8:abba:2001::5"  # inside laptop2's routed network, but arriving from the wrong side
    outside.check_output(f"ip -6 route replace 2001:db8:abba::/48 via {laptop_address}")
    if source == "routed":
        outside.check_output(f"ip -6 addr add {spoofed}/128 dev lo")
    try:
        dropped = table(LAPTOP2).packets("forward", "anything else into the tunnel")
        option = f"-I {spoofed} " if source == "routed" else ""
        assert outside.run(f"ping -6 -c 3 -W 1 {option}{SITE_ADDRESS}").rc != 0
        dropped = table(LAPTOP2).packets("forward", "anything else into the tunnel") - dropped
        assert dropped >= 3, f"laptop2 dropped {dropped} of 3 pings its neighbour sent into the tunnel"
    finally:
        outside.run("ip -6 route del 2001:db8:abba::/48")
        outside.run(f"ip -6 addr del {spoofed}/128 dev lo")


def test_openvpn_runs_unprivileged_and_keeps_its_device_across_a_soft_restart(hosts, plan):
    """The up-script runs as root before the drop; on SIGUSR1 (what ping-restart does) persist-tun keeps the device."""
    tunnel = plan[LAPTOP1]
    sides = [
        (hosts(GATEWAY), f"openvpn-server@sixtunnel-{LAPTOP1}", tunnel["gateway_address"]),
        (hosts(LAPTOP1), "openvpn-client@sixtunnel", tunnel["laptop_address"]),
    ]
    for host, unit, _other in sides:
        pid = host.check_output(f"systemctl show --property MainPID --value {unit}")
        assert host.check_output(f"ps -o user= -p {pid}") == "nobody", f"{unit} does not run as nobody"
    cursors = {}
    for host, unit, _other in sides:
        cursors[unit] = re.search(
            r"cursor: (\S+)", host.check_output(f"journalctl -u {unit} -n 0 --show-cursor")
        ).group(1)
        host.check_output(f"systemctl kill --signal=SIGUSR1 --kill-who=main {unit}")
    started = time.monotonic()
    assert ping6(hosts(LAPTOP1), SITE_ADDRESS, attempts=90), "the tunnel did not come back after SIGUSR1 on both ends"
    print(f"tunnel back {time.monotonic() - started:.1f} s after SIGUSR1 on both ends")
    for host, unit, address in sides:
        log = host.check_output(f"journalctl -u {unit} --after-cursor '{cursors[unit]}' --no-pager")
        assert "Preserving previous TUN/TAP instance" in log, f"{unit} did not keep its device"
        assert address in host.check_output(f"ip -6 addr show dev {tunnel['interface']}")


def test_table_survives_the_admins_nftables_service_and_leaves_its_tables_alone(hosts, table):
    """Debian's nftables.service starts with "flush ruleset"; the admin's own table must survive ours."""
    gateway = hosts(GATEWAY)
    try:
        for action in ("start", "reload", "restart"):
            gateway.check_output(f"systemctl {action} nftables.service")
            assert table(GATEWAY).exists(), f"table inet sixtunnel is gone after systemctl {action} nftables"
            assert gateway.run("nft list table inet filter").rc == 0, "the admin's ruleset is not loaded"
        gateway.check_output("nft add table inet admin")
        gateway.check_output("systemctl reload sixtunnel-nftables.service")
        assert gateway.run("nft list table inet admin").rc == 0, "reloading table inet sixtunnel touched another table"
        gateway.check_output("systemctl stop nftables.service")
        assert not table(GATEWAY).exists() and not gateway.service("sixtunnel-nftables").is_running
    finally:
        gateway.run("systemctl stop nftables.service")
        gateway.run("nft delete table inet admin")
        gateway.check_output("systemctl start sixtunnel-nftables.service")
    assert table(GATEWAY).exists()


def test_firewall_is_up_before_the_tunnels_after_a_reboot(hosts, table, plan):
    subprocess.run(["podman", "restart", "--time", "5", GATEWAY], check=True, capture_output=True)
    gateway = hosts(GATEWAY)
    assert wait_booted(gateway), f"{GATEWAY} did not finish booting"
    started = time.monotonic()
    assert table(GATEWAY).exists()
    loaded = int(
        gateway.check_output("systemctl show --property ActiveEnterTimestampMonotonic --value sixtunnel-nftables")
    )
    for name in present(plan):
        unit = f"openvpn-server@sixtunnel-{name}"
        assert gateway.service(unit).is_running
        assert loaded < int(
            gateway.check_output(f"systemctl show --property ExecMainStartTimestampMonotonic --value {unit}")
        )
    gateway.check_output(f"ip -6 addr replace {SITE_ADDRESS}/128 dev lo")  # prepare's address does not survive
    for name in present(plan):
        assert ping6(hosts(name), SITE_ADDRESS, attempts=120), f"{name} did not reconnect after the reboot"
    print(f"laptops back {time.monotonic() - started:.1f} s after the gateway booted")


def test_offboarding_closes_the_laptops_port(hosts, table, plan, gateway_addresses):
    returncode, output = run_playbook("sixtunnel.openvpn.offboard", "-e", f"offboard={LAPTOP2}")
    assert returncode == 0, output
    gateway = table(GATEWAY)
    assert gateway.dports("input") == {("udp", plan[LAPTOP1]["port"])}
    assert gateway.set_elements("laptop_interfaces") == {plan[LAPTOP1]["interface"]}
    assert f"from_tunnel_{plan[LAPTOP2]['tunnel_id']}" not in gateway.chains()
    assert LAPTOP2 not in hosts(GATEWAY).check_output("nft list table inet sixtunnel")
    for family in (4, 6):
        assert probe(hosts, gateway_addresses[family], plan[LAPTOP2]["port"]) == "refused", f"IPv{family}"
        assert probe(hosts, gateway_addresses[family], plan[LAPTOP1]["port"]) == "answer", f"IPv{family}"
    assert not table(LAPTOP2).exists(), "the offboarded laptop kept its table"
    assert ping6(hosts(LAPTOP1), SITE_ADDRESS)
    returncode, output = run_playbook("sixtunnel.openvpn.offboard", "-e", f"offboard={LAPTOP2}")
    assert returncode == 0, output
    changed = {host: counters["changed"] for host, counters in recap(output).items()}
    assert changed[GATEWAY] == 0 and changed[LAPTOP2] == 0, f"offboarding again changed {changed}"
