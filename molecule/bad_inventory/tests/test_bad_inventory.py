"""Proves that each broken inventory of cases.yml is refused before any host changes, naming host and value."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from sixtunnel_molecule import container, run_playbook, ssh_variables

CASES = yaml.safe_load(Path(__file__).with_name("cases.yml").read_text())["cases"]
SITE = {"prefix": "2001:db8:abba::/48"}
HOST_VARS = {"gateway": {}, "laptop1": {"sixtunnel_tunnel_id": 0}, "laptop2": {"sixtunnel_tunnel_id": 1}}

# Everything site.yml would leave on a host; printed, so the output must be empty. Changes anywhere under /etc
# count too, and OpenVPN processes and units, and key files wherever they are.
TRACES = """
find /etc /usr/local /var/lib/sixtunnel -xdev -newer {mark} 2>/dev/null
find /etc /root /usr/local /var/lib -xdev \\( -name key.pem -o -name cert.pem -o -name static.key \\) 2>/dev/null
ls /etc/openvpn/server/*.conf /etc/openvpn/client/*.conf 2>/dev/null
pgrep -a openvpn
systemctl list-units --all --no-legend --plain 'openvpn-*@*'
ls /etc/systemd/system/*.wants/ | grep openvpn
true
"""


def inventory_of(case, names):
    """The base inventory (the scenario's containers) with the case's breakage applied."""
    renamed = {**names, **case.get("rename", {})}
    # Reached over SSH like Molecule's own hosts; a renamed host (a typo) has no address and cannot be reached.
    connection = {role: ssh_variables(name) if renamed[role] == name else {} for role, name in names.items()}
    names = renamed
    host_vars = {role: dict(variables) for role, variables in HOST_VARS.items()}
    for role, variables in host_vars.items():
        for key, value in (case.get(role) or {}).items():
            if value is None:
                variables.pop(key, None)
            else:
                variables[key] = value
    all_vars = {}
    if "site" not in case or case["site"] is not None:
        all_vars["sixtunnel_site"] = {**SITE, **(case.get("site") or {})}
    gateways = case.get("gateways", ["gateway"])
    return {
        "all": {
            "vars": all_vars,
            "children": {
                "sixtunnel_gateways": {
                    "hosts": {names[role]: {**connection[role], **host_vars[role]} for role in gateways}
                },
                "sixtunnel_laptops": {
                    "hosts": {names[role]: {**connection[role], **host_vars[role]} for role in ("laptop1", "laptop2")}
                },
            },
        }
    }


def traces(name, mark):
    return container(name).check_output(TRACES.format(mark=mark))


def test_table_has_at_least_15_cases():
    assert len(CASES) >= 15
    assert len({case["id"] for case in CASES}) == len(CASES), "two cases share an id"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_broken_inventory_is_refused_before_any_change(case, names, marked, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(inventory_of(case, names)))
    rc, output = run_playbook("sixtunnel.openvpn.site", inventory=inventory)

    assert rc != 0, f"site.yml accepted the broken inventory {case['id']}:\n{output}"
    for expected in case["expect"]:
        expected = expected.format(**{**names, **case.get("rename", {})})
        assert expected in output, f"the refusal does not say {expected!r}:\n{output}"
    with ThreadPoolExecutor() as pool:
        left = dict(zip(names.values(), pool.map(lambda name: traces(name, marked), names.values()), strict=True))
    assert not any(left.values()), f"site.yml changed hosts before refusing {case['id']}: {left}"
