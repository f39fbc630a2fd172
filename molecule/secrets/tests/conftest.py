"""Fixtures of the secrets scenario: the runs at -vvv and in check mode, with every place they may write."""

import os
from pathlib import Path

import pytest
from sixtunnel_molecule import run_playbook


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """The controller's side of the runs: temp dir, fact cache, log file, outputs."""
    return tmp_path_factory.mktemp("secrets")


@pytest.fixture(scope="session")
def run(workdir):
    """Run a playbook with Ansible's local temp dir, fact cache and log pointed where the tests search them. The
    remote temp dirs stay Ansible's default, each user's ~/.ansible/tmp (the SSH account's and root's): the tests
    search /home and /root on every host."""
    env = {
        "ANSIBLE_LOCAL_TEMP": str(workdir / "local-temp"),
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(workdir / "fact-cache"),
        "ANSIBLE_LOG_PATH": str(workdir / "ansible.log"),
    }

    def run_and_keep(name, *args):
        rc, output = run_playbook(*args, env=env)
        (workdir / f"{name}.out").write_text(output)
        return rc, output

    return run_and_keep


@pytest.fixture(scope="session")
def converged(run):
    """The whole site converged at -vvv, the way an admin debugging it would run it."""
    rc, output = run("converge", "-vvv", "sixtunnel.openvpn.site")
    assert rc == 0, output[-5000:]
    return output


@pytest.fixture(scope="session")
def checked(converged, run):
    """--check --diff against the converged site."""
    rc, output = run("check", "--check", "--diff", "sixtunnel.openvpn.site")
    assert rc == 0, output[-5000:]
    return output


@pytest.fixture(scope="session")
def places_searched(workdir):
    """Every place on the controller a run may have written to."""
    return [
        workdir,
        Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]),  # Molecule's inventory, the ledger beside it
        Path.home() / ".ansible",
        Path(__file__).resolve().parents[3],  # the repository
    ]
