"""Proves onboarding under --limit disturbs no running tunnel, and offboarding removes everything but the id.

Run in this order: offboarding starts from the site that onboarding left.
"""

import re
import time

import pytest
import yaml
from sixtunnel_molecule import (
    CLIENT_UNIT,
    SERVER_UNIT,
    SITE_ADDRESS,
    container,
    main_pid,
    molecule_inventory,
    ping6,
    plan_of,
    run_playbook,
    start_ping,
    stop_ping,
)


@pytest.fixture(scope="module")
def plan(names):
    """The plan once the newcomer is a laptop too."""
    laptop1, laptop2 = names[1:]
    return plan_of(molecule_inventory(), [laptop1, laptop2])


def pids(names):
    """Main PIDs of every running tunnel end: {(host, unit): pid}."""
    gateway, *laptops = names
    found = {}
    for laptop in laptops:
        for host, unit in ((gateway, SERVER_UNIT.format(laptop)), (laptop, CLIENT_UNIT)):
            pid = main_pid(container(host), unit)
            if pid:
                found[(host, unit)] = pid
    return found


def test_onboarding_with_limit_leaves_running_tunnel_alone(names, plan, ledger_file, onboarding_inventory):
    gateway, laptop1, laptop2 = names
    assert ping6(container(laptop1), plan[laptop1]["gateway_ip"]), "laptop1's tunnel is not up before onboarding"
    before = pids(names)
    assert set(before) == {(gateway, SERVER_UNIT.format(laptop1)), (laptop1, CLIENT_UNIT)}

    start_ping(container(laptop1), plan[laptop1]["gateway_ip"])
    started = time.monotonic()
    try:
        rc, output = run_playbook(
            "-i",
            str(onboarding_inventory),
            "--limit",
            f"{gateway},{laptop2}",
            "-e",
            f"sixtunnel_ledger_file={ledger_file}",
            "sixtunnel.openvpn.site",
        )
    finally:
        transmitted, received = stop_ping(container(laptop1))
    print(
        f"\nMEASURED lifecycle: onboarding {laptop2} with --limit took {time.monotonic() - started:.0f} s;"
        f" {laptop1}'s ping6 through it: {transmitted} sent, {transmitted - received} lost"
    )

    assert rc == 0, output
    assert transmitted - received <= 1, f"laptop1 lost {transmitted - received} of {transmitted} pings"
    after = pids(names)
    for key, pid in before.items():
        assert after.get(key) == pid, f"{key[1]} on {key[0]} was restarted by the onboarding run"


def test_onboarded_laptop_passes_traffic(names, plan):
    laptop2 = names[2]
    assert ping6(container(laptop2), plan[laptop2]["gateway_ip"]), "laptop2 cannot ping its gateway end"
    assert ping6(container(laptop2), SITE_ADDRESS), f"laptop2 cannot reach the site address {SITE_ADDRESS}"
    assert ping6(container(names[0]), plan[laptop2]["laptop_ip"]), "the gateway cannot ping laptop2"


def test_offboarding_removes_every_trace_but_the_id(names, plan, ledger_file, onboarding_inventory):
    gateway, laptop1, laptop2 = names
    laptop2_pids = {key: pid for key, pid in pids(names).items() if laptop2 in key[0] or laptop2 in key[1]}
    assert len(laptop2_pids) == 2

    rc, output = run_playbook(
        "-i",
        str(onboarding_inventory),
        "-e",
        f"offboard={laptop1}",
        "-e",
        f"sixtunnel_ledger_file={ledger_file}",
        "sixtunnel.openvpn.offboard",
    )
    assert rc == 0, output

    server = container(gateway)
    instance = f"/etc/openvpn/server/sixtunnel-{laptop1}"
    unit = SERVER_UNIT.format(laptop1)
    assert not server.file(f"{instance}.conf").exists
    assert not server.file(instance).exists, "the instance directory (keys, up-script) is left on the gateway"
    assert not server.service(unit).is_running
    assert not server.service(unit).is_enabled
    assert laptop1 not in server.check_output("ps -eo args"), "an OpenVPN of laptop1 still runs on the gateway"
    listening = server.check_output("ss -H -ulnp")
    assert not re.search(rf":{plan[laptop1]['port']}\s", listening), f"port {plan[laptop1]['port']} still answers"

    client = container(laptop1)
    assert not client.file("/etc/openvpn/client/sixtunnel.conf").exists
    assert not client.file("/etc/openvpn/client/sixtunnel").exists, "the tunnel directory is left on laptop1"
    assert not client.file(f"/etc/systemd/system/{CLIENT_UNIT}.d").exists
    assert not client.service(CLIENT_UNIT).is_running
    assert not client.service(CLIENT_UNIT).is_enabled
    assert client.run("pgrep -x openvpn").rc == 1, "OpenVPN still runs on laptop1"
    left_on_gateway = server.check_output(f"find /etc/openvpn /etc/systemd -path '*{laptop1}*'")
    assert not left_on_gateway, f"laptop1's files are left on the gateway: {left_on_gateway}"
    left_on_laptop = client.check_output("find /etc/openvpn -name '*.pem' -o -name '*.key'")
    assert not left_on_laptop, f"key material is left on laptop1: {left_on_laptop}"

    assert {key: pid for key, pid in pids(names).items() if key in laptop2_pids} == laptop2_pids, "laptop2 restarted"
    assert ping6(container(laptop2), plan[laptop2]["gateway_ip"]), "laptop2's tunnel broke"

    rows = yaml.safe_load(ledger_file.read_text())["ledger"]
    reserved = {"prefix": plan[laptop1]["prefix"], "use": "tunnel", "laptop": laptop1,
                "tunnel_id": plan[laptop1]["tunnel_id"], "state": "absent"}  # fmt: skip
    assert reserved in rows, f"the ledger no longer reserves laptop1's id: {rows}"
