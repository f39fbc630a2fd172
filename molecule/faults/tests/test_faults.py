"""Proves that tunnels come back by themselves after the faults a travelling laptop meets.

Run in this order: each fault starts from all tunnels up, which the previous test leaves behind.
"""

import subprocess
import time

from sixtunnel_molecule import CLIENT_UNIT, SERVER_UNIT, container, main_pid, ping6, seconds_until_ping6

KILLED_TUNNEL_BACK_WITHIN = 30  # seconds, from kill -9 of the gateway's OpenVPN
RESTARTED_GATEWAY_BACK_WITHIN = 60  # seconds, from `podman restart` of the gateway
OUTAGE = 20  # seconds a laptop is off its network
OUTAGE_BACK_WITHIN = 60  # seconds, from the laptop's network coming back


def podman(*args):
    subprocess.run(["podman", *args], check=True, stdout=subprocess.DEVNULL)


def address_of(name):
    """(network, IPv4 address) of a container on its one network."""
    network, address = subprocess.run(
        [
            "podman",
            "inspect",
            "--format",
            "{{range $net, $s := .NetworkSettings.Networks}}{{$net}} {{$s.IPAddress}}{{end}}",
            name,
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout.split()
    return network, address


def other_address(address):
    """Another address of the same /24 (the pinned network of this scenario): the laptop comes back elsewhere."""
    prefix, host = address.rsplit(".", 1)
    return f"{prefix}.{200 + (int(host) % 50)}"


def all_tunnels_up(plan):
    return all(ping6(container(name), tunnel["gateway_ip"]) for name, tunnel in plan.items())


def test_all_tunnels_up_before_the_faults(plan):
    assert all_tunnels_up(plan)


def test_killed_gateway_openvpn_is_restarted_by_systemd(gateway_name, plan):
    gateway = container(gateway_name)
    victim, bystander = sorted(plan)
    killed_pid = main_pid(gateway, SERVER_UNIT.format(victim))
    bystander_pid = main_pid(gateway, SERVER_UNIT.format(bystander))
    assert killed_pid > 0

    gateway.check_output(f"kill -9 {killed_pid}")
    killed_at = time.monotonic()
    seconds = seconds_until_ping6(container(victim), plan[victim]["gateway_ip"], killed_at, KILLED_TUNNEL_BACK_WITHIN)
    print(f"\nMEASURED faults: {victim}'s tunnel back {seconds} s after kill -9 of the gateway's OpenVPN")

    assert seconds is not None, f"{victim}'s tunnel not back within {KILLED_TUNNEL_BACK_WITHIN} s of kill -9"
    assert main_pid(gateway, SERVER_UNIT.format(victim)) not in (0, killed_pid)
    assert main_pid(gateway, SERVER_UNIT.format(bystander)) == bystander_pid, "another laptop's tunnel was restarted"


def test_restarted_gateway_brings_every_tunnel_back(gateway_name, plan):
    restarted_at = time.monotonic()
    podman("restart", gateway_name)
    print(f"\nMEASURED faults: podman restart of the gateway returned after {time.monotonic() - restarted_at:.1f} s")
    gateway, first = container(gateway_name), min(plan)
    while not main_pid(gateway, SERVER_UNIT.format(first)) and time.monotonic() - restarted_at < 60:
        time.sleep(0.5)
    print(f"MEASURED faults: the gateway's OpenVPN for {first} ran again {time.monotonic() - restarted_at:.1f} s after")
    for name, tunnel in sorted(plan.items()):
        seconds = seconds_until_ping6(
            container(name), tunnel["gateway_ip"], restarted_at, RESTARTED_GATEWAY_BACK_WITHIN
        )
        print(f"\nMEASURED faults: {name}'s tunnel back {seconds} s after podman restart of the gateway")
        assert seconds is not None, f"{name}'s tunnel not back within {RESTARTED_GATEWAY_BACK_WITHIN} s"


def test_laptops_back_by_themselves_after_their_network_was_gone(plan):
    """Both laptops (one per auth mode) lose their network for OUTAGE seconds and come back with a new address,
    as from a train into a hotel."""
    before = {name: address_of(name) for name in plan}
    client_pids = {name: main_pid(container(name), CLIENT_UNIT) for name in plan}
    for name, (network, _addresses) in before.items():
        podman("network", "disconnect", network, name)
    try:
        time.sleep(OUTAGE)
        for name, tunnel in plan.items():
            assert not ping6(container(name), tunnel["gateway_ip"], attempts=1), f"{name} was not cut off"
    finally:
        for name, (network, address) in before.items():
            podman("network", "connect", "--ip", other_address(address), network, name)
    back_at = time.monotonic()
    for name, tunnel in sorted(plan.items()):
        laptop = container(name)
        seconds = seconds_until_ping6(laptop, tunnel["gateway_ip"], back_at, OUTAGE_BACK_WITHIN)
        same_process = main_pid(laptop, CLIENT_UNIT) == client_pids[name]
        print(
            f"\nMEASURED faults: {name}'s tunnel back {seconds} s after its network returned from a {OUTAGE} s"
            f" outage, {before[name][1]} -> {address_of(name)[1]}"
            f" (OpenVPN {'kept its PID' if same_process else 'was restarted by systemd'})"
        )
        assert address_of(name)[1] != before[name][1]
        assert seconds is not None, f"{name}'s tunnel not back within {OUTAGE_BACK_WITHIN} s of its network's return"
