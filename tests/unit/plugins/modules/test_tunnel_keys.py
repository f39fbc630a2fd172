# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_keys with the real openssl in a temporary directory: key material made once, fingerprints as openssl's."""

from __future__ import annotations

import datetime
import json
import stat
import subprocess

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_keys

# Stands in for `openvpn --genkey secret FILE`, which this machine need not have.
FAKE_OPENVPN = """#!/bin/sh
echo "static key made with umask $(umask)" > "$3"
"""


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        tunnel_keys.main()
    return json.loads(capsys.readouterr().out)


def openssl(*argv):
    return subprocess.run(["openssl", *argv], check=True, capture_output=True, text=True).stdout


def openssl_fingerprint(cert):
    """`openssl x509 -fingerprint -sha256` prints `sha256 Fingerprint=AB:CD:...` (SHA256 before OpenSSL 3)."""
    return openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)).strip().partition("=")[2]


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


def tree(root):
    """Every path under root with its mode, mtime and content: what must stay the same when nothing is made."""
    found = {}
    for path in root.rglob("*"):
        status = path.stat()
        found[str(path.relative_to(root))] = (status.st_mode, status.st_mtime_ns, path.is_file() and path.read_bytes())
    return found


def test_makes_a_key_pair_once_and_returns_openssls_fingerprint(tmp_path, capsys):
    directory = tmp_path / "sixtunnel-laptop1"
    result = run_module(capsys, directories=[str(directory)])
    assert result["changed"] is True and result["created"] == [str(directory)]
    assert mode_of(directory) == 0o700
    assert mode_of(directory / "key.pem") == 0o600 and mode_of(directory / "cert.pem") == 0o644
    assert sorted(p.name for p in directory.iterdir()) == ["cert.pem", "key.pem"]
    assert result["fingerprints"] == {str(directory): openssl_fingerprint(directory / "cert.pem")}
    assert "CN = sixtunnel-laptop1" in openssl("x509", "-noout", "-subject", "-in", str(directory / "cert.pem"))
    # The public certificate as openssl writes it, and nothing of the key.
    assert result["certificates"] == {str(directory): (directory / "cert.pem").read_text()}
    assert "PRIVATE" not in str(result)

    before = tree(tmp_path)
    again = run_module(capsys, directories=[str(directory)])
    assert again == {**result, "changed": False, "created": []}
    assert tree(tmp_path) == before


def test_a_lost_certificate_is_made_again_for_the_same_key(tmp_path, capsys):
    directory = tmp_path / "end"
    first = run_module(capsys, directories=[str(directory)])
    public_key = openssl("pkey", "-pubout", "-in", str(directory / "key.pem"))
    key = (directory / "key.pem").read_bytes()
    (directory / "cert.pem").unlink()

    result = run_module(capsys, directories=[str(directory)])
    assert result["changed"] is True and result["created"] == [str(directory)]
    assert (directory / "key.pem").read_bytes() == key
    assert openssl("x509", "-noout", "-pubkey", "-in", str(directory / "cert.pem")) == public_key
    assert result["fingerprints"][str(directory)] == openssl_fingerprint(directory / "cert.pem")
    assert result["fingerprints"] != first["fingerprints"]


def test_a_certificate_with_another_common_name_is_made_again_once_for_the_same_key(tmp_path, capsys):
    directory = tmp_path / "sixtunnel"
    first = run_module(capsys, directories=[str(directory)])
    key = (directory / "key.pem").read_bytes()

    # Without common_name an existing certificate is never replaced, whatever its name.
    assert run_module(capsys, directories=[str(directory)])["changed"] is False
    result = run_module(capsys, directories=[str(directory)], common_name="laptop/1")
    assert result["changed"] is True and result["created"] == [str(directory)]
    assert (directory / "key.pem").read_bytes() == key
    assert "CN=laptop/1" in openssl(
        "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", str(directory / "cert.pem")
    )
    assert result["fingerprints"] != first["fingerprints"]
    again = run_module(capsys, directories=[str(directory)], common_name="laptop/1")
    assert again == {**result, "changed": False, "created": []}


def test_check_mode_makes_nothing_and_returns_the_fingerprints_of_what_exists(tmp_path, capsys):
    made = tmp_path / "made"
    run_module(capsys, directories=[str(made)])
    missing = tmp_path / "missing"
    before = tree(tmp_path)

    result = run_module(capsys, directories=[str(made), str(missing)], _ansible_check_mode=True)
    assert result["changed"] is True and result["created"] == [str(missing)]
    assert result["fingerprints"] == {str(made): openssl_fingerprint(made / "cert.pem")}
    assert tree(tmp_path) == before


def test_static_key_is_made_private_once_and_has_no_fingerprint(tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "openvpn").write_text(FAKE_OPENVPN)
    (bin_dir / "openvpn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    directory = tmp_path / "static"

    result = run_module(capsys, directories=[str(directory)], kind="static_key")
    assert result == {**result, "changed": True, "created": [str(directory)], "fingerprints": {}}
    assert sorted(p.name for p in directory.iterdir()) == ["static.key"]
    assert mode_of(directory / "static.key") == 0o600
    assert (directory / "static.key").read_text() == "static key made with umask 0077\n"

    again = run_module(capsys, directories=[str(directory)], kind="static_key")
    assert again["changed"] is False and again["created"] == []


def test_rotate_replaces_only_the_named_directories_key_pair(tmp_path, capsys):
    rotated, kept = tmp_path / "rotated", tmp_path / "kept"
    first = run_module(capsys, directories=[str(rotated), str(kept)], common_name="laptop1")
    old_key = (rotated / "key.pem").read_bytes()
    old_subject = openssl("x509", "-noout", "-subject", "-in", str(rotated / "cert.pem"))
    kept_tree = tree(kept)

    result = run_module(capsys, directories=[str(rotated), str(kept)], common_name="laptop1", rotate=[str(rotated)])
    assert result["changed"] is True and result["created"] == [str(rotated)]
    assert (rotated / "key.pem").read_bytes() != old_key, "rotation kept the old private key"
    assert result["fingerprints"][str(rotated)] == openssl_fingerprint(rotated / "cert.pem")
    assert result["fingerprints"][str(rotated)] != first["fingerprints"][str(rotated)]
    assert result["fingerprints"][str(kept)] == first["fingerprints"][str(kept)]
    # A subject of its own, same CN: a server instance's capath keeps the old one by subject until it restarts.
    new_subject = openssl("x509", "-noout", "-subject", "-in", str(rotated / "cert.pem"))
    assert new_subject != old_subject and "CN = laptop1" in new_subject and "CN = laptop1" in old_subject
    assert tree(kept) == kept_tree
    # The new certificate belongs to the new key, and only the two files are left (no .tmp, no old copy).
    assert openssl("pkey", "-pubout", "-in", str(rotated / "key.pem")) == openssl(
        "x509", "-noout", "-pubkey", "-in", str(rotated / "cert.pem")
    )
    assert sorted(p.name for p in rotated.iterdir()) == ["cert.pem", "key.pem"]
    assert mode_of(rotated / "key.pem") == 0o600


def test_rotate_makes_a_new_static_key(tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "openvpn").write_text(FAKE_OPENVPN.replace('echo "static', 'echo "$$ static'))
    (bin_dir / "openvpn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    directory = tmp_path / "static"
    run_module(capsys, directories=[str(directory)], kind="static_key")
    old = (directory / "static.key").read_text()

    result = run_module(capsys, directories=[str(directory)], kind="static_key", rotate=[str(directory)])
    assert result["changed"] is True and result["created"] == [str(directory)]
    assert (directory / "static.key").read_text() != old
    assert sorted(p.name for p in directory.iterdir()) == ["static.key"]


def test_rotate_refuses_a_directory_it_was_not_given(tmp_path, capsys):
    result = run_module(capsys, directories=[str(tmp_path / "a")], rotate=[str(tmp_path / "b")])
    assert result["failed"] is True and str(tmp_path / "b") in result["msg"]
    assert not (tmp_path / "a").exists()


def test_a_file_without_a_certificate_is_refused(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    with pytest.raises(ValueError, match="holds no PEM certificate"):
        tunnel_keys.certificate_fingerprint(str(tmp_path / "cert.pem"))


def test_a_move_between_auth_modes_removes_the_other_modes_key(tmp_path, capsys, monkeypatch):
    directory = tmp_path / "moved"
    directory.mkdir(mode=0o700)
    (directory / "static.key").write_text("old static key\n")
    result = run_module(capsys, directories=[str(directory)])
    assert result["changed"] is True and result["removed"] == [str(directory / "static.key")]
    assert sorted(p.name for p in directory.iterdir()) == ["cert.pem", "key.pem"]

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "openvpn").write_text(FAKE_OPENVPN)
    (bin_dir / "openvpn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    back = run_module(capsys, directories=[str(directory)], kind="static_key")
    assert sorted(back["removed"]) == [str(directory / "cert.pem"), str(directory / "key.pem")]
    assert sorted(p.name for p in directory.iterdir()) == ["static.key"]


@pytest.fixture
def module_warnings(monkeypatch):
    """What the module passes to AnsibleModule.warn. Recorded here: ansible-core's warn goes to a list global to the
    process, or to the controller's display once another test has loaded controller code."""
    recorded = []
    monkeypatch.setattr(tunnel_keys.AnsibleModule, "warn", lambda _module, warning: recorded.append(warning))
    return recorded


def test_expiry_is_returned_and_warned_about_within_warn_days(tmp_path, capsys, module_warnings):
    directory = tmp_path / "short"
    first = run_module(capsys, directories=[str(directory)], certificate_days=30)
    end = openssl("x509", "-noout", "-enddate", "-in", str(directory / "cert.pem")).strip().partition("=")[2]
    expected = datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.UTC)
    assert first["expires"] == {str(directory): expected.isoformat()}
    assert module_warnings == []

    warned = run_module(capsys, directories=[str(directory)], warn_days=90)
    (warning,) = module_warnings
    assert str(directory) in warning and "expires in 29 days" in warning and "rotat" in warning
    assert warned["changed"] is False


# Stands in for every `openvpn --genkey`: the key file (its last argument) records how it was asked for.
FAKE_OPENVPN_ANY = """#!/bin/sh
for last; do :; done
echo "$* umask $(umask)" > "$last"
"""


@pytest.fixture
def fake_openvpn(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "openvpn").write_text(FAKE_OPENVPN_ANY)
    (bin_dir / "openvpn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


@pytest.mark.parametrize(
    ("kind", "file_name", "genkey"),
    [
        ("tls_crypt", "tls-crypt.key", "tls-crypt"),
        ("tls_crypt_v2_server", "tls-crypt-v2-server.key", "tls-crypt-v2-server"),
    ],
)
def test_control_channel_keys_are_made_private_once(tmp_path, capsys, fake_openvpn, kind, file_name, genkey):
    directory = tmp_path / "sixtunnel-laptop1"
    result = run_module(capsys, directories=[str(directory)], kind=kind)
    assert result["changed"] is True and result["created"] == [str(directory)] and result["fingerprints"] == {}
    assert sorted(p.name for p in directory.iterdir()) == [file_name]
    assert mode_of(directory / file_name) == 0o600 and mode_of(directory) == 0o700
    assert (directory / file_name).read_text() == f"--genkey {genkey} {directory / file_name}.tmp umask 0077\n"

    before = tree(tmp_path)
    again = run_module(capsys, directories=[str(directory)], kind=kind)
    assert again["changed"] is False and again["created"] == []
    assert tree(tmp_path) == before


def test_client_keys_are_made_from_the_server_key_once(tmp_path, capsys, fake_openvpn):
    server_key = tmp_path / "instance" / "tls-crypt-v2-server.key"
    laptops = [tmp_path / "instance" / "tls-crypt-v2" / name for name in ("laptop1", "laptop2")]
    # The server key is required, and must exist.
    with (
        pytest.raises(SystemExit),
        patch_module_args({"directories": [str(laptops[0])], "kind": "tls_crypt_v2_client"}),
    ):
        tunnel_keys.main()
    assert "server_key" in capsys.readouterr().out
    missing = run_module(capsys, directories=[str(laptops[0])], kind="tls_crypt_v2_client", server_key=str(server_key))
    assert (
        missing["failed"]
        and missing["msg"] == f"no server key {server_key} to make the client key in {laptops[0]} from"
    )

    run_module(capsys, directories=[str(server_key.parent)], kind="tls_crypt_v2_server")
    result = run_module(
        capsys, directories=[str(d) for d in laptops], kind="tls_crypt_v2_client", server_key=str(server_key)
    )
    assert result["created"] == [str(d) for d in laptops]
    for directory in laptops:
        key = directory / "tls-crypt-v2-client.key"
        assert mode_of(key) == 0o600 and mode_of(directory) == 0o700
        assert key.read_text() == f"--tls-crypt-v2 {server_key} --genkey tls-crypt-v2-client {key}.tmp umask 0077\n"
    before = tree(tmp_path)
    again = run_module(
        capsys, directories=[str(d) for d in laptops], kind="tls_crypt_v2_client", server_key=str(server_key)
    )
    assert again["changed"] is False and tree(tmp_path) == before
