"""Proves the status view (sixtunnel.openvpn.status) against the converged p2p site, with traffic: a connected
laptop is shown connected from its real outer address with growing byte counts, and a stopped one as not
connected, in the same run; the scenario is left as it was found (the stopped laptop's tunnel works again)."""

import time

from sixtunnel_molecule import (
    CLIENT_UNIT,
    addresses_facing,
    certificate_not_after,
    container,
    ping6,
    present,
    recap,
    tunnel_status,
)

# The gateway gives up a silent laptop after keepalive's 60 s (openvpn_server_keepalive 5 60), then its instance
# waits for the next handshake; a status run takes seconds on top.
NOT_CONNECTED_WITHIN = 90


def connected_rows(rows, names):
    return {name: rows[name]["connected"] for name in names}


def test_status_shows_connected_laptops_their_traffic_and_a_stopped_one(gateway, gateway_name, plan, auth_modes):
    laptops = sorted(present(plan))
    # Check mode, as an operator may run it: a read-only run changes nothing and contacts the gateway only.
    returncode, output, rows = tunnel_status("--check")
    assert returncode == 0, output[-3000:]
    assert recap(output) == {gateway_name: recap(output)[gateway_name]}, "a laptop was contacted"
    assert recap(output)[gateway_name]["changed"] == 0, output[-3000:]
    assert sorted(rows) == laptops
    for name in laptops:
        row, laptop = rows[name], container(name)
        assert row["connected"] is True, row
        assert (row["tunnel_id"], row["prefix"], row["mode"]) == (plan[name]["tunnel_id"], plan[name]["prefix"], "p2p")
        # Where its packets come from: its own address on the network it shares with the gateway.
        assert row["real_address"] in addresses_facing(laptop, gateway), row
        assert row["bytes_received"] > 0 and row["bytes_sent"] > 0, row
        assert time.time() - 3600 < row["connected_since"] <= time.time() + 5, row
        expected = None  # a static-key tunnel has no certificate
        if auth_modes[name] == "peer_fingerprint":
            expected = certificate_not_after(gateway, f"{plan[name]['gateway_dir']}/cert.pem")
        assert row["gateway_certificate_not_after"] == expected, row
        assert row["laptop_certificate_not_after"] is None and row["error"] is None, row
        assert name in output and plan[name]["prefix"] in output
        # The table's FROM column: an IPv6 address in brackets before its port, as OpenVPN and ssh write it.
        address, port = row["real_address"], row["real_port"]
        assert (f"[{address}]:{port}" if ":" in address else f"{address}:{port}") in output, output[-3000:]
    print(f"\nMEASURED default: status rows {rows}")

    # A burst of 100 pings of 1000 bytes through each tunnel: at least that many bytes more each way.
    before = rows
    for name in laptops:
        assert container(name).run(f"ping -6 -q -c 100 -i 0.01 -s 1000 {plan[name]['gateway_ip']}").rc == 0
    returncode, output, rows = tunnel_status()
    assert returncode == 0, output[-3000:]
    for name in laptops:
        grown = (
            rows[name]["bytes_received"] - before[name]["bytes_received"],
            rows[name]["bytes_sent"] - before[name]["bytes_sent"],
        )
        print(f"MEASURED default: {name} bytes received, sent grew by {grown} over a 100 x 1000-byte ping6 burst")
        assert min(grown) >= 100 * 1000, (name, grown)
        assert rows[name]["connected_since"] == before[name]["connected_since"], "the connection restarted"

    # One laptop stopped, the other still connected: both seen in the same status run.
    stopped = next(name for name in laptops if auth_modes[name] == "peer_fingerprint")
    running = [name for name in laptops if name != stopped]
    stopped_at = time.monotonic()
    container(stopped).check_output(f"systemctl stop {CLIENT_UNIT}")
    try:
        seconds = None
        while time.monotonic() - stopped_at < NOT_CONNECTED_WITHIN:
            returncode, output, rows = tunnel_status()
            assert returncode == 0, output[-3000:]
            if rows[stopped]["connected"] is False:
                seconds = round(time.monotonic() - stopped_at, 1)
                break
            time.sleep(2)
        print(f"MEASURED default: {stopped} shown not connected {seconds} s after its unit stopped")
        assert seconds is not None, f"{stopped} still shown connected after {NOT_CONNECTED_WITHIN} s: {rows[stopped]}"
        assert connected_rows(rows, running) == dict.fromkeys(running, True), rows
        row = rows[stopped]
        assert row["instance"]["running"] is True, row
        assert [row[key] for key in ("real_address", "connected_since", "bytes_received", "bytes_sent")] == [None] * 4
        assert "no" in next(line for line in output.splitlines() if stopped in line and plan[stopped]["prefix"] in line)
    finally:
        container(stopped).check_output(f"systemctl start {CLIENT_UNIT}")
        assert ping6(container(stopped), plan[stopped]["gateway_ip"], attempts=60), f"{stopped}'s tunnel is not back"
    returncode, output, rows = tunnel_status()
    assert connected_rows(rows, laptops) == dict.fromkeys(laptops, True), rows
