"""The collection as a user installs it (issue 13): the tarball, the README's inventory, a stock Ansible.

The README's minimal inventory is run as written; a host_vars file per host only says where this lab's containers
are (address, SSH account) and where the laptops reach the gateway, as a user's own names would.
"""

import os
import re
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from sixtunnel_molecule import SITE_ADDRESS, address_facing, container, ping6, recap

REPO = Path(__file__).resolve().parents[3]
README_MARK = "<!-- sixtunnel: the minimal inventory; molecule/install runs it as written -->"
# The README's host names, and the containers standing in for them.
HOSTS = {"gateway": "sixtunnel-install-gateway", "laptop1": "sixtunnel-install-laptop1"}
SSH_CONFIG = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ssh" / "ssh_config"


def readme_inventory():
    """The YAML block that follows the README's mark."""
    after = (REPO / "README.md").read_text().split(README_MARK, 1)[1]
    return re.search(r"```yaml\n(.*?)```", after, re.DOTALL).group(1)


def user_env(home):
    """A user's shell: their PATH (for ansible-playbook) and a home of their own; no ANSIBLE_* setting at all."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A user's directory: the collection installed from its tarball, and the README's inventory."""
    work = tmp_path_factory.mktemp("user")
    home = work / "home"
    home.mkdir()
    build = subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(work / "dist"), str(REPO)],
        env=user_env(home), cwd=work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = (work / "dist").glob("sixtunnel-openvpn-*.tar.gz")
    install = subprocess.run(
        ["ansible-galaxy", "collection", "install", str(tarball)],
        env=user_env(home), cwd=work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr

    inventory = work / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(readme_inventory())
    gateway_address = address_facing(container(HOSTS["gateway"]), container(HOSTS["laptop1"]), 4)
    for name, container_name in HOSTS.items():
        where = {"ansible_host": container_name, "ansible_ssh_common_args": f"-F {SSH_CONFIG}"}
        if name == "gateway":
            where["sixtunnel_gateway_remotes"] = [gateway_address]
        (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(where))
    return {"work": work, "home": home, "tarball": tarball, "inventory": inventory}


def site(user):
    """`ansible-playbook -i inventory sixtunnel.openvpn.site` as the README says, from the user's directory."""
    result = subprocess.run(
        ["ansible-playbook", "-i", "inventory", "sixtunnel.openvpn.site"],
        env=user_env(user["home"]), cwd=user["work"], capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def test_the_tarball_holds_the_collection_and_its_licence_not_the_tests(user):
    with tarfile.open(user["tarball"]) as archive:
        names = archive.getnames()
    for needed in ("README.md", "CHANGELOG.md", "meta/runtime.yml", "playbooks/site.yml", "roles/openvpn_server"):
        assert needed in names, f"{needed} is missing from {user['tarball'].name}"
    assert any(name.startswith("LICENSE") for name in names), names
    for developer_only in ("molecule/", "tests/", ".config/", "inventories/lab/", "benchmarks/", "Makefile"):
        assert not [name for name in names if name.startswith(developer_only)], f"{developer_only} is in the tarball"


def test_the_readme_inventory_converges_without_a_warning(user):
    rc, output = site(user)
    assert rc == 0, output
    warnings = [line for line in output.splitlines() if "[WARNING]" in line or "[DEPRECATION" in line]
    assert not warnings, "\n".join(warnings)


def test_a_second_run_changes_nothing_and_warns_about_nothing(user):
    rc, output = site(user)
    assert rc == 0, output
    assert not [line for line in output.splitlines() if "[WARNING]" in line], output
    changed = {host: counts["changed"] for host, counts in recap(output).items()}
    assert changed and not any(changed.values()), changed


def test_the_ledger_and_the_profile_are_where_the_readme_says(user):
    hidden = user["inventory"] / ".sixtunnel"
    ledger = yaml.safe_load((hidden / "ledger.yml").read_text())
    assert {row["laptop"] for row in ledger["ledger"]} == {"laptop1", "macbook"}, ledger
    profile = hidden / "exports" / "macbook.ovpn"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert "dev tun" in profile.read_text().splitlines()
    assert sorted(path.name for path in user["inventory"].iterdir()) == [".sixtunnel", "host_vars", "hosts.yml"]


def test_the_laptop_reaches_the_site_through_its_tunnel(user):
    assert ping6(container(HOSTS["laptop1"]), SITE_ADDRESS)
