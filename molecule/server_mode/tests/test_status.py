"""Proves the status view (sixtunnel.openvpn.status) in server mode: each laptop's row is found by its tunnel address
in its instance's session list, with its real outer address and growing byte counts; the unmanaged laptop, whose
profile does not run, is not connected. The p2p laptop beside the server instances has its row too.

Runs after test_server_mode.py (pytest takes the files in order): by then the unmanaged laptop's profile has been
stopped and the mode switch has restarted the server instances, so it holds no session.
"""

from sixtunnel_molecule import (
    INVENTORY_DIR,
    addresses_facing,
    certificate_not_after,
    container,
    plan_of,
    recap,
    tunnel_status,
    whole_inventory,
)


def test_status_shows_each_laptop_of_the_server_instances(names, ledger_file):
    gateway = container(names["gateway"])
    plan = plan_of(whole_inventory())
    # The whole inventory (the unmanaged laptop too), with the ledger of the converge.
    status = ("-e", f"sixtunnel_ledger_file={ledger_file}")
    returncode, output, rows = tunnel_status(*status, inventory=INVENTORY_DIR)
    assert returncode == 0, output[-3000:]
    # The bare container is in Molecule's inventory (not a laptop): the plan's delegated tasks name it.
    contacted = set(recap(output)) & set(whole_inventory().get_hosts("sixtunnel_laptops"))
    assert not contacted, f"laptops were contacted: {contacted}"
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output[-3000:]
    print(f"\nMEASURED server_mode: status rows {rows}")
    expected = {
        names["laptop1"]: ("server", "sixtunnel_server", True),
        names["laptop2"]: ("p2p", f"sixtunnel-{names['laptop2']}", True),
        names["laptop3"]: ("server", "sixtunnel_server-tcp", True),
        names["mac"]: ("server", "sixtunnel_server", False),
    }
    assert {name: (row["mode"], row["instance"]["name"], row["connected"]) for name, row in rows.items()} == expected
    for key in ("laptop1", "laptop3"):
        row = rows[names[key]]
        assert row["real_address"] in addresses_facing(container(names[key]), gateway), row
        assert row["bytes_received"] > 0 and row["bytes_sent"] > 0, row
        directory = plan[names[key]]["gateway_dir"]
        assert row["gateway_certificate_not_after"] == certificate_not_after(gateway, f"{directory}/cert.pem")
        assert row["laptop_certificate_not_after"] == certificate_not_after(
            gateway, f"{directory}/peers/{names[key]}.pem"
        )
    mac = rows[names["mac"]]
    assert mac["instance"]["running"] is True and mac["error"] is None, mac
    assert [mac[key] for key in ("real_address", "connected_since", "bytes_received", "bytes_sent")] == [None] * 4
    assert mac["laptop_certificate_not_after"] is not None, "the gateway holds the unmanaged laptop's certificate"

    # A burst of 100 pings of 1000 bytes: at least that many bytes more each way in laptop1's session.
    laptop1, before = names["laptop1"], rows[names["laptop1"]]
    assert container(laptop1).run(f"ping -6 -q -c 100 -i 0.01 -s 1000 {plan[laptop1]['gateway_ip']}").rc == 0
    returncode, output, rows = tunnel_status(*status, inventory=INVENTORY_DIR)
    assert returncode == 0, output[-3000:]
    grown = (
        rows[laptop1]["bytes_received"] - before["bytes_received"],
        rows[laptop1]["bytes_sent"] - before["bytes_sent"],
    )
    print(f"MEASURED server_mode: {laptop1} bytes received, sent grew by {grown} over a 100 x 1000-byte ping6 burst")
    assert min(grown) >= 100 * 1000, grown
    assert rows[laptop1]["connected_since"] == before["connected_since"], "the session restarted"
