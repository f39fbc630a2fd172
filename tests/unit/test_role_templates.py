"""Every file the roles template says it is Ansible-managed, so an admin knows not to edit it by hand."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(REPO.glob("roles/*/templates/**/*.j2"))
MANAGED_HEADER = "{{ ansible_managed | comment"


def test_roles_have_templates():
    assert TEMPLATES, "no role templates found"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(REPO)))
def test_template_starts_with_ansible_managed(template):
    lines = template.read_text().splitlines()
    # A script keeps its shebang first; the header is the next line.
    first = lines[1] if lines[0].startswith("#!") else lines[0]
    assert first.startswith(MANAGED_HEADER), f"{template.name} starts with {first!r}"


# Rendering the roles' templates with Jinja2 alone: Ansible's `comment` filter and `version` test are all they use
# beyond Jinja2's own (StrictUndefined: a variable a template needs and a test forgot fails the test).
def render(template: str, **variables) -> str:
    from ansible.plugins.filter.core import comment, to_json
    from ansible.plugins.test.core import version_compare
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(str(REPO)), undefined=StrictUndefined, keep_trailing_newline=True)
    environment.filters["comment"] = comment
    environment.filters["to_json"] = to_json
    environment.tests["ansible.builtin.version"] = version_compare
    return environment.get_template(template).render(ansible_managed="Ansible managed", **variables)


def rendered_lines(text: str) -> list[str]:
    """The directives or rules: comments and blank lines dropped, whitespace stripped."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def gateway_tunnel(dev_type="tap", transport="udp", tunnel_id=0):
    return {
        "name": f"laptop{tunnel_id}",
        "prefix": f"2001:db8:abba:{0x1000 + tunnel_id:x}::/64",
        "routed_networks": [],
        "tunnel_id": tunnel_id,
        "interface": f"sixt{tunnel_id}",
        "mode": "p2p",
        "gateway_interface": f"sixt{tunnel_id}",
        "dev_type": dev_type,
        "tun_mtu": 1280,
        "gateway_proto": "udp6" if transport == "udp" else "tcp6-server",
        "laptop_proto": "udp" if transport == "udp" else "tcp-client",
        "port": 1194 + tunnel_id,
        "transport": transport,
        "auth": "peer_fingerprint",
        "gateway_dir": f"/etc/openvpn/server/sixtunnel-laptop{tunnel_id}",
        "gateway_management": f"/etc/openvpn/server/sixtunnel-laptop{tunnel_id}/management.sock",
        "remotes": [{"host": "vpn.example.org", "port": 1194 + tunnel_id}],
        "http_proxy": None,
    }


def render_gateway_conf(tunnel, version="2.6.14", tls_crypt=()):
    return render(
        "roles/openvpn_server/templates/tunnel.conf.j2",
        tunnel=tunnel,
        openvpn_server_keepalive="5 60",
        openvpn_server_socket_buffer=2097152,
        openvpn_server_fast_io=True,
        tunnel_common_openvpn_version=version,
        __openvpn_server_user="nobody",
        __openvpn_server_group="nogroup",
        __openvpn_server_laptop_fingerprints={tunnel["name"]: "AB:CD"},
        __openvpn_server_tls_crypt=list(tls_crypt),
    )


def render_laptop_conf(tunnel, version="2.6.14", tls_crypt_key=""):
    return render(
        "roles/openvpn_client/templates/tunnel.conf.j2",
        openvpn_client_tunnel=tunnel,
        openvpn_client_keepalive="5 60",
        openvpn_client_socket_buffer=2097152,
        openvpn_client_fast_io=True,
        tunnel_common_openvpn_version=version,
        __openvpn_client_user="nobody",
        __openvpn_client_group="nogroup",
        __openvpn_client_dir="/etc/openvpn/client/sixtunnel",
        openvpn_client_gateway_fingerprint="AB:CD",
        openvpn_client_tls_crypt_key=tls_crypt_key,
    )


def render_gateway_nft(tunnels, notrack=True, laptop_to_laptop=False):
    return render(
        "roles/openvpn_server/templates/sixtunnel.nft.j2",
        __openvpn_server_present=tunnels,
        openvpn_server_firewall_notrack=notrack,
        openvpn_server_allow_laptop_to_laptop=laptop_to_laptop,
    )


@pytest.mark.parametrize("version", ["2.6.14", "2.7.8"])
@pytest.mark.parametrize("render_conf", [render_gateway_conf, render_laptop_conf], ids=["gateway", "laptop"])
def test_tun_queue_holds_1000_packets_on_both_ends(render_conf, version):
    # A tun device's own queue (500) drops under one TCP flow; a tap device has 1000 already and gets no line.
    assert "txqueuelen 1000" in rendered_lines(render_conf(gateway_tunnel("tun"), version))
    assert not any(
        line.startswith("txqueuelen") for line in rendered_lines(render_conf(gateway_tunnel("tap"), version))
    )


def management_lines(lines):
    return [line for line in lines if line.startswith("management")]


@pytest.mark.parametrize("version", ["2.6.14", "2.7.8"])
def test_each_p2p_gateway_instance_has_a_root_only_management_socket(version):
    # A Unix socket of root only (the status view reads it), never a TCP port; the laptop's end has none.
    assert management_lines(rendered_lines(render_gateway_conf(gateway_tunnel(), version))) == [
        "management /etc/openvpn/server/sixtunnel-laptop0/management.sock unix",
        "management-client-user root",
        "management-client-group root",
    ]
    assert management_lines(rendered_lines(render_laptop_conf(gateway_tunnel(), version))) == []


@pytest.mark.parametrize("dev_type", ["tap", "tun"])
@pytest.mark.parametrize("render_conf", [render_gateway_conf, render_laptop_conf], ids=["gateway", "laptop"])
def test_nothing_rendered_disables_dco(render_conf, dev_type):
    # DCO (tun, TLS) is OpenVPN's own choice at start: no line may switch it off or pick an option it refuses.
    lines = rendered_lines(render_conf(gateway_tunnel(dev_type)))
    refused = ("disable-dco", "fragment", "comp-lzo", "compress", "shaper", "secret")
    assert not [line for line in lines if line.split()[0] in refused]


def test_gateway_table_exempts_udp_transport_from_conntrack_both_ways():
    tunnels = [gateway_tunnel(tunnel_id=0), gateway_tunnel(tunnel_id=1), gateway_tunnel(transport="tcp", tunnel_id=2)]
    lines = rendered_lines(render_gateway_nft(tunnels))
    # Raw priority runs before conntrack (-200); only packets to this host: a forwarded flow stays tracked.
    assert "type filter hook prerouting priority raw; policy accept;" in lines
    assert "fib daddr type local udp dport { 1194, 1195 } notrack" in lines
    assert "type filter hook output priority raw; policy accept;" in lines
    assert "udp sport { 1194, 1195 } notrack" in lines
    # The input rule accepts by port, without state: it holds for untracked packets too.
    assert 'udp dport 1194 counter accept comment "tunnel of laptop0"' in lines
    assert 'tcp dport 1196 counter accept comment "tunnel of laptop2"' in lines
    # TCP tunnels keep conntrack: only UDP ports are in the notrack rules.
    assert not any("1196" in line and "notrack" in line for line in lines)


@pytest.mark.parametrize("laptop_to_laptop", [False, True])
@pytest.mark.parametrize("notrack", [False, True])
def test_gateway_table_keeps_no_state(notrack, laptop_to_laptop):
    # One `ct` expression anywhere in the table turns connection tracking on for every packet of the gateway
    # (docs/benchmarks.md measured what that costs); every rule here decides without it.
    tunnels = [gateway_tunnel(tunnel_id=0), gateway_tunnel("tun", tunnel_id=1)]
    lines = rendered_lines(render_gateway_nft(tunnels, notrack, laptop_to_laptop))
    assert not [line for line in lines if re.search(r"\bct\b", line)]
    dropped = 'iifname @laptop_interfaces oifname @laptop_interfaces counter drop comment "laptop to laptop"'
    assert (dropped in lines) is not laptop_to_laptop
    assert ("chain forward {" in lines) is not laptop_to_laptop


@pytest.mark.parametrize(
    "tunnels, notrack",
    [([gateway_tunnel()], False), ([], True), ([gateway_tunnel(transport="tcp")], True)],
    ids=["notrack off", "no tunnels", "tcp only"],
)
def test_gateway_table_has_no_notrack_chains_without_udp_ports_or_when_off(tunnels, notrack):
    text = render_gateway_nft(tunnels, notrack)
    assert "notrack" not in text
    assert "transport_in" not in text


def test_gateway_table_checks_with_nft_where_it_can():
    # The kernel's own check of the rendered table, where nft runs as root (the host of `make bench`, a gateway).
    import shutil
    import subprocess

    nft = shutil.which("nft")
    if not nft:
        pytest.skip("no nft")
    text = render_gateway_nft([gateway_tunnel(tunnel_id=0), gateway_tunnel("tun", tunnel_id=1)])
    result = subprocess.run([nft, "-c", "-f", "-"], input=text, capture_output=True, text=True, check=False)
    if "Operation not permitted" in result.stderr:
        pytest.skip("nft -c needs root")
    assert result.returncode == 0, result.stderr


def test_notrack_is_opt_in():
    # The bench measured no saving beyond its noise (docs/benchmarks.md): a default table has no notrack chains.
    import yaml

    defaults = yaml.safe_load((REPO / "roles/openvpn_server/defaults/main.yml").read_text())
    assert defaults["openvpn_server_firewall_notrack"] is False
    specs = yaml.safe_load((REPO / "roles/openvpn_server/meta/argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["openvpn_server_firewall_notrack"]["default"] is False


# --- server mode: records from the planner itself ----------------------------------------------


def server_plan():
    """A server-mode site: laptop1 (routes a /64) and laptop3 (TCP) join, laptop2 (static key) keeps p2p."""
    from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import plan_tunnels

    laptops = [
        {"name": "laptop1", "tunnel_id": 1, "routed_networks": ["auto"]},
        {"name": "laptop2", "tunnel_id": 2, "auth": "static_key"},
        {"name": "laptop3", "tunnel_id": 3, "proto": "tcp"},
    ]
    return plan_tunnels({"prefix": "2001:db8:abba::/48", "mode": "server"}, laptops)["tunnels"]


def server_instance(tunnels, transport):
    joined = [t for t in tunnels if t["mode"] == "server" and t["transport"] == transport]
    first = joined[0]
    return {
        "name": first["gateway_instance"],
        "dir": first["gateway_dir"],
        "management": first["gateway_management"],
        "interface": first["gateway_interface"],
        "port": first["port"],
        "proto": first["gateway_proto"],
        "transport": transport,
        "tun_mtu": first["tun_mtu"],
        "tunnels": joined,
    }


@pytest.mark.parametrize("version", ["2.6.14", "2.7.8"])
def test_server_instance_leaves_dco_on_and_reads_laptops_per_handshake(version):
    instance = server_instance(server_plan(), "udp")
    lines = rendered_lines(
        render(
            "roles/openvpn_server/templates/server.conf.j2",
            instance=instance,
            openvpn_server_keepalive="5 60",
            openvpn_server_socket_buffer=2097152,
            openvpn_server_fast_io=True,
            tunnel_common_openvpn_version=version,
            __openvpn_server_instance_user="sixtunnel",
            __openvpn_server_instance_group="sixtunnel",
        )
    )
    # What DCO needs in server mode (README.dco.md): tun, topology subnet, TLS; nothing that turns it off.
    for line in ("mode server", "tls-server", "topology subnet", "dev-type tun", "txqueuelen 1000"):
        assert line in lines
    refused = ("disable-dco", "fragment", "comp-lzo", "compress", "shaper", "secret", "client-to-client")
    assert not [line for line in lines if line.split()[0] in refused]
    # Per handshake, never at start only: a new laptop needs no restart.
    assert "capath /etc/openvpn/server/sixtunnel_server/peers" in lines
    # Every laptop's handshake wrapped in its own client key, made from this server key.
    assert "tls-crypt-v2 /etc/openvpn/server/sixtunnel_server/tls-crypt-v2-server.key" in lines
    assert "client-connect /etc/openvpn/server/sixtunnel_server/connect.sh" in lines
    assert not [line for line in lines if line.startswith(("peer-fingerprint", "ca ", "client-config-dir"))]
    assert management_lines(lines) == [
        "management /etc/openvpn/server/sixtunnel_server/management.sock unix",
        "management-client-user root",
        "management-client-group root",
    ]


def test_clients_give_each_laptop_its_own_address_and_networks():
    tunnels = server_plan()
    instance = server_instance(tunnels, "udp")
    text = render(
        "roles/openvpn_server/templates/clients.j2",
        instance=instance,
        __openvpn_server_laptop_fingerprints={"laptop1": "AA:01"},
    )
    laptop1 = tunnels[0]
    assert rendered_lines(text) == [
        "[AA:01] laptop1",
        f"ifconfig-ipv6-push {laptop1['laptop_address']} {laptop1['gateway_ip']}",
        f"iroute-ipv6 {laptop1['prefix']}",
        f"iroute-ipv6 {laptop1['routed_networks'][0]}",
        'push "route-ipv6 2000::/3"',
    ]


def test_gateway_table_of_a_server_mode_site_checks_with_nft_where_it_can():
    import shutil
    import subprocess

    tunnels = server_plan()
    text = render_gateway_nft(tunnels, notrack=True)
    lines = rendered_lines(text)
    # One input rule per instance's port and transport, not one per laptop; p2p laptop2 keeps its own.
    assert 'udp dport 1194 counter accept comment "server instance sixtunnel_server"' in lines
    assert 'tcp dport 1194 counter accept comment "server instance sixtunnel_server-tcp"' in lines
    assert 'udp dport 1196 counter accept comment "tunnel of laptop2"' in lines
    assert "fib daddr type local udp dport { 1194, 1196 } notrack" in lines
    assert (
        'iifname vmap { "sixt2" : jump from_tunnel_2, "sixtsrv" : jump from_server_udp, "sixtsrv-tcp" : jump from_server_tcp }'
        in lines
    )
    nft = shutil.which("nft")
    if not nft:
        pytest.skip("no nft")
    result = subprocess.run([nft, "-c", "-f", "-"], input=text, capture_output=True, text=True, check=False)
    if "Operation not permitted" in result.stderr:
        pytest.skip("nft -c needs root")
    assert result.returncode == 0, result.stderr


# --- control channel: records from the planner itself --------------------------------------------


def p2p_plan(**settings):
    from ansible_collections.sixtunnel.openvpn.plugins.plugin_utils.planner import plan_tunnels

    laptops = [{"name": "laptop1", "tunnel_id": 1, **settings}]
    return plan_tunnels({"prefix": "2001:db8:abba::/48"}, laptops, gateway_remotes=["vpn.example.org"])["tunnels"]


def tls_crypt_lines(text):
    return [line for line in rendered_lines(text) if line.startswith("tls-crypt")]


def test_gateway_wraps_the_control_channel_where_it_chose_to():
    (tunnel,) = p2p_plan()
    assert tls_crypt_lines(render_gateway_conf(tunnel, tls_crypt=["laptop1"])) == [
        "tls-crypt /etc/openvpn/server/sixtunnel-laptop1/tls-crypt.key"
    ]
    # Held back (a run that does not reach the laptop): the configuration stays as it was.
    assert tls_crypt_lines(render_gateway_conf(tunnel, tls_crypt=[])) == []


@pytest.mark.parametrize(
    ("tunnel", "line"),
    [
        (p2p_plan()[0], "tls-crypt /etc/openvpn/client/sixtunnel/tls-crypt.key"),
        (server_plan()[0], "tls-crypt-v2 /etc/openvpn/client/sixtunnel/tls-crypt-v2.key"),
    ],
    ids=["p2p", "server"],
)
def test_laptop_wraps_the_control_channel_when_it_has_the_key(tunnel, line):
    assert tls_crypt_lines(render_laptop_conf(tunnel, tls_crypt_key="KEY")) == [line]
    # No key from the gateway (it kept the tunnel unprotected): no line, so both ends still agree.
    assert tls_crypt_lines(render_laptop_conf(tunnel)) == []


def render_profile(tunnel, tls_crypt_key):
    return render(
        "roles/openvpn_client/templates/profile.ovpn.j2",
        openvpn_client_tunnel=tunnel,
        openvpn_client_keepalive="5 20",
        openvpn_client_routes=["2000::/3"],
        openvpn_client_gateway_fingerprint="AB:CD",
        openvpn_client_profile_certificate="CERT",
        openvpn_client_profile_key="PRIVATE",
        openvpn_client_static_key="",
        openvpn_client_static_key_cipher="AES-256-CBC",
        openvpn_client_tls_crypt_key=tls_crypt_key,
    )


@pytest.mark.parametrize(("tunnel", "tag"), [(p2p_plan()[0], "tls-crypt"), (server_plan()[0], "tls-crypt-v2")])
def test_profile_carries_the_control_channel_key_inline(tunnel, tag):
    text = render_profile(tunnel, "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n")
    assert f"\n<{tag}>\n-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n</{tag}>\n" in text
    assert "<tls-crypt" not in render_profile(tunnel, "")
