# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_keys_info on certificates made by the real openssl: openssl's fingerprints, missing ends, nothing made."""

from __future__ import annotations

import builtins
import json
import subprocess

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.module_utils import _tunnel_keys
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_keys, tunnel_keys_info


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        tunnel_keys_info.main()
    return json.loads(capsys.readouterr().out)


def openssl(*argv):
    return subprocess.run(["openssl", *argv], check=True, capture_output=True, text=True).stdout


def make_end(directory):
    """A tunnel end's key pair, made with openssl as tunnel_keys makes it."""
    directory.mkdir(mode=0o700)
    openssl(
        "req", "-x509", "-sha256", "-days", "1", "-subj", f"/CN={directory.name}",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
    )  # fmt: skip
    return directory


def openssl_fingerprint(cert):
    """`openssl x509 -fingerprint -sha256` prints `sha256 Fingerprint=AB:CD:...` (SHA256 before OpenSSL 3)."""
    return openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)).strip().partition("=")[2]


def tree(root):
    """Every path under root with its mode, mtime and content: what must stay the same when nothing is made."""
    found = {}
    for path in root.rglob("*"):
        status = path.stat()
        found[str(path.relative_to(root))] = (status.st_mode, status.st_mtime_ns, path.is_file() and path.read_bytes())
    return found


@pytest.fixture
def ends(tmp_path):
    """Two tunnel ends with key pairs, one with a key but no certificate, a file, and a path that does not exist."""
    laptop1 = make_end(tmp_path / "sixtunnel-laptop1")
    laptop2 = make_end(tmp_path / "sixtunnel-laptop2")
    no_cert = make_end(tmp_path / "sixtunnel-laptop3")
    (no_cert / "cert.pem").unlink()
    (tmp_path / "a-file").write_text("not a directory\n")
    return {
        "present": [laptop1, laptop2],
        "missing": [tmp_path / "sixtunnel-laptop4", no_cert, tmp_path / "a-file"],
    }


@pytest.mark.parametrize("check_mode", [False, True])
def test_reads_openssls_fingerprints_lists_the_missing_and_makes_nothing(ends, tmp_path, capsys, check_mode):
    before = tree(tmp_path)
    directories = [str(d) for d in [ends["missing"][0], *ends["present"], *ends["missing"][1:]]]

    result = run_module(capsys, directories=directories, _ansible_check_mode=check_mode)
    assert result["changed"] is False
    assert result["fingerprints"] == {str(d): openssl_fingerprint(d / "cert.pem") for d in ends["present"]}
    assert result["missing"] == [str(d) for d in ends["missing"]]
    assert tree(tmp_path) == before
    assert not (tmp_path / "sixtunnel-laptop4").exists()


def test_fingerprints_are_the_ones_tunnel_keys_returns(tmp_path, capsys):
    directory = tmp_path / "sixtunnel-laptop1"
    with patch_module_args({"directories": [str(directory)]}), pytest.raises(SystemExit):
        tunnel_keys.main()
    made = json.loads(capsys.readouterr().out)

    result = run_module(capsys, directories=[str(directory)])
    assert result["fingerprints"] == made["fingerprints"]
    assert len(result["fingerprints"][str(directory)]) == 95  # 32 bytes: 64 hex digits, 31 colons


def test_no_directories_reads_nothing(capsys):
    result = run_module(capsys, directories=[])
    assert result["changed"] is False and result["fingerprints"] == {} and result["missing"] == []


def test_a_cert_pem_without_a_certificate_fails_naming_it(ends, capsys):
    broken = ends["present"][0]
    # The end's own private key where its certificate belongs, made by this test run (no key in the repository).
    (broken / "cert.pem").write_bytes((broken / "key.pem").read_bytes())
    result = run_module(capsys, directories=[str(d) for d in ends["present"]])
    assert result["failed"] is True
    assert result["msg"] == f"no fingerprint for {broken}: {broken / 'cert.pem'} holds no PEM certificate"
    assert "fingerprints" not in result


def test_an_unreadable_cert_pem_fails_and_is_not_missing(ends, capsys, monkeypatch):
    # The tests run as root, which chmod cannot stop; so open() refuses cert.pem as it would for another user.
    def refuse_certificates(path, *args, **kwargs):
        if str(path).endswith("cert.pem"):
            raise PermissionError(13, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(_tunnel_keys, "open", refuse_certificates, raising=False)
    directory = ends["present"][0]
    result = run_module(capsys, directories=[str(directory)])
    assert result["failed"] is True
    assert result["msg"].startswith(f"cannot read {directory / 'cert.pem'}: permission denied;")
    assert result["msg"].endswith("reading it needs root (become: true)")
    assert "missing" not in result
