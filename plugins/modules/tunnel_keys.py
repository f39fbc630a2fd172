#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_keys
short_description: Make the key material of OpenVPN tunnel ends once, on the host that uses it
version_added: 1.0.0
description:
  - For each directory, makes one tunnel end's key material if it is missing, and never touches it again;
    re-runs do not regenerate keys.
  - O(kind=certificate) makes an EC P-256 private key C(key.pem) and a self-signed certificate C(cert.pem) with
    C(openssl), and returns the certificate's SHA-256 fingerprint, the value OpenVPN's C(peer-fingerprint) pins.
    A directory that has C(key.pem) but lost C(cert.pem) gets a new certificate for the same key.
  - O(kind=static_key) makes C(static.key) with C(openvpn --genkey secret), the compatibility mode of the seed article.
  - A directory holds the material of one auth mode. Making a certificate removes a C(static.key) left there by the
    static-key kind, and making a static key removes C(key.pem) and C(cert.pem), so a tunnel moved between auth
    modes keeps no old key.
  - O(kind=tls_crypt) makes C(tls-crypt.key) with C(openvpn --genkey tls-crypt), the key both ends of a p2p tunnel
    wrap their TLS control channel in (C(tls-crypt)).
  - O(kind=tls_crypt_v2_server) makes C(tls-crypt-v2-server.key) with C(openvpn --genkey tls-crypt-v2-server), a
    server instance's key (C(tls-crypt-v2)).
  - O(kind=tls_crypt_v2_client) makes C(tls-crypt-v2-client.key) with C(openvpn --tls-crypt-v2 SERVER_KEY --genkey
    tls-crypt-v2-client), one laptop's client key, wrapped with O(server_key) so the server instance can read it.
  - Key files are written mode 0600 from the start (umask 077) and renamed into place, so no reader ever sees a
    partial or world-readable key. Key contents are never returned.
  - One call handles every directory, so a gateway with many laptops pays one round trip.
options:
  directories:
    description: Directories, one per tunnel end. Missing ones are made, mode 0700.
    type: list
    elements: path
    required: true
  kind:
    description: What to make in each directory.
    type: str
    choices: [certificate, static_key, tls_crypt, tls_crypt_v2_server, tls_crypt_v2_client]
    default: certificate
  server_key:
    description:
      - Path of the server key (made with O(kind=tls_crypt_v2_server)) the client keys are made from; required with
        O(kind=tls_crypt_v2_client), where it must exist. Only read when a client key is missing.
    type: path
    version_added: 1.0.0
  certificate_days:
    description: Validity of new self-signed certificates, in days. Existing certificates are kept.
    type: int
    default: 3650
  rotate:
    description:
      - Directories (among O(directories)) whose key material is replaced now by new material, a new private key
        and certificate (O(kind=certificate)) or a new key of the other kinds. Each new file is written
        beside the old one and renamed over it, so the old key is gone from the directory and no reader sees a
        partial file.
      - A running OpenVPN keeps the key it loaded until it restarts; the caller restarts both ends of the tunnel.
    type: list
    elements: path
    default: []
    version_added: 1.0.0
  warn_days:
    description:
      - Warn (an Ansible warning, on every run) about each certificate that expires within this many days, naming
        its directory, its end date and the way out (rotation). V(0) never warns.
    type: int
    default: 0
    version_added: 1.0.0
  common_name:
    description:
      - Common name (CN) of the certificates (O(kind=certificate)); default the directory's name.
      - Where given, an existing certificate with another common name is replaced by one for the same key, once
        (its fingerprint changes; the key does not). A server instance needs each laptop's certificate to have a
        subject of its own (OpenSSL finds trusted certificates by subject).
    type: str
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode; it then reports what it would make and returns the fingerprints of what exists.
requirements:
  - openssl (O(kind=certificate)) or openvpn 2.5 or later (the other kinds) on the managed host.
seealso:
  - module: sixtunnel.openvpn.tunnel_keys_info
    description: Reads the fingerprints only, without making anything.
"""

EXAMPLES = r"""
- name: Make the gateway's key pair of each tunnel
  sixtunnel.openvpn.tunnel_keys:
    directories:
      - /etc/openvpn/server/sixtunnel-laptop1
      - /etc/openvpn/server/sixtunnel-laptop2
  register: gateway_keys

- name: Show the fingerprint laptop1 must pin
  ansible.builtin.debug:
    msg: "{{ gateway_keys.fingerprints['/etc/openvpn/server/sixtunnel-laptop1'] }}"
"""

RETURN = r"""
fingerprints:
  description: SHA-256 fingerprint of C(cert.pem) per directory, upper-case hex with colons (O(kind=certificate)).
  returned: always
  type: dict
  sample: {"/etc/openvpn/server/sixtunnel-laptop1": "3A:9F:...:C2"}
certificates:
  description:
    - C(cert.pem) of each directory as PEM text (public), for a peer that must trust it (a server-mode gateway's
      C(capath)), O(kind=certificate).
  returned: always
  type: dict
  sample: {"/etc/openvpn/client/sixtunnel": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"}
  version_added: 1.0.0
expires:
  description:
    - End of validity (notAfter) of C(cert.pem) per directory, ISO 8601 in UTC (O(kind=certificate)).
  returned: always
  type: dict
  sample: {"/etc/openvpn/client/sixtunnel": "2036-11-27T06:10:00+00:00"}
  version_added: 1.0.0
created:
  description: Directories whose key material this run made or replaced (O(rotate)), or would in check mode.
  returned: always
  type: list
  elements: str
removed:
  description: Files of the other kind removed (or that would be, in check mode), after a move between auth modes.
  returned: always
  type: list
  elements: str
  version_added: 1.0.0
"""

import datetime
import os
import re
import secrets

from ansible.module_utils.basic import AnsibleModule

# Shared with tunnel_keys_info, so both return one fingerprint format; still importable from here.
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_keys import (
    CERTIFICATE,
    certificate_fingerprint,
    certificate_not_after,
    certificate_pem,
)


def run_private(module: AnsibleModule, argv: list[str]) -> None:
    """Run a key-making command with umask 077, so no key file is ever readable by others."""
    old_umask = os.umask(0o077)
    try:
        rc, _out, err = module.run_command(argv)
    finally:
        os.umask(old_umask)
    if rc != 0:
        module.fail_json(msg=f"{argv[0]} failed with rc={rc}: {err.strip()}")


def common_name_of(directory: str, common_name: str | None) -> str:
    return common_name if common_name is not None else os.path.basename(directory.rstrip("/"))


def subject_argument(common_name: str) -> str:
    """`openssl req -subj` text: the CN ("/" and "\\" escaped, as openssl parses that argument) and a serialNumber
    attribute (RFC 5280's X520SerialNumber) drawn at random for each certificate.

    Each certificate gets a subject of its own so that a server instance's capath finds it: OpenSSL keeps every
    trusted certificate it has loaded, by subject, for the life of the process, and would go on finding a rotated-out
    certificate of the same subject and refuse its successor (measured: a rotated laptop got VERIFY ERROR until the
    instance restarted).
    """
    return "/CN=" + common_name.replace("\\", "\\\\").replace("/", "\\/") + "/serialNumber=" + secrets.token_hex(8)


# The CN of an RFC 2253 subject (attributes are comma-separated; a comma inside a value is escaped).
RFC2253_COMMON_NAME = re.compile(r"(?:^|,)CN=((?:[^,\\]|\\.)*)")


def current_common_name(module: AnsibleModule, cert_path: str) -> str:
    """The CN of an existing certificate, as openssl prints it in RFC 2253 form (only its CN is compared), or the
    whole subject where it has none."""
    openssl = module.get_bin_path("openssl", required=True)
    rc, out, err = module.run_command([openssl, "x509", "-in", cert_path, "-noout", "-subject", "-nameopt", "RFC2253"])
    if rc != 0:
        module.fail_json(msg=f"{cert_path}: openssl cannot read the certificate: {err.strip()}")
    subject = out.strip().removeprefix("subject=").strip()
    match = RFC2253_COMMON_NAME.search(subject)
    return match.group(1) if match else subject


def make_certificate(module: AnsibleModule, directory: str, days: int, common_name: str, new_key: bool) -> None:
    """A self-signed certificate for the directory's key.pem, or for a new key where there is none or new_key."""
    key_path = os.path.join(directory, "key.pem")
    cert_path = os.path.join(directory, CERTIFICATE)
    openssl = module.get_bin_path("openssl", required=True)
    subject = subject_argument(common_name)
    request = [openssl, "req", "-x509", "-sha256", "-days", str(days), "-subj", subject, "-out", cert_path + ".tmp"]
    if os.path.exists(key_path) and not new_key:
        run_private(module, request + ["-key", key_path])
    else:
        new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_path + ".tmp"]
        run_private(module, request + new_key)
        os.rename(key_path + ".tmp", key_path)
    os.chmod(cert_path + ".tmp", 0o644)
    os.rename(cert_path + ".tmp", cert_path)


# The file each key kind makes, and `openvpn --genkey`'s name for it.
OPENVPN_KEYS = {
    "static_key": ("static.key", "secret"),
    "tls_crypt": ("tls-crypt.key", "tls-crypt"),
    "tls_crypt_v2_server": ("tls-crypt-v2-server.key", "tls-crypt-v2-server"),
    "tls_crypt_v2_client": ("tls-crypt-v2-client.key", "tls-crypt-v2-client"),
}


# What each kind keeps in a directory, and what it removes: the two auth modes' material (certificate, static key)
# never lives side by side; a tls-crypt key sits beside a key pair and replaces nothing.
FILES = {"certificate": ("key.pem", CERTIFICATE), **{kind: (name,) for kind, (name, _genkey) in OPENVPN_KEYS.items()}}
REPLACES = {"certificate": FILES["static_key"], "static_key": FILES["certificate"]}


def make_openvpn_key(module: AnsibleModule, directory: str, kind: str, server_key: str | None) -> None:
    """`openvpn --genkey` of one kind into the directory; a client key is made from (wrapped with) server_key."""
    file_name, genkey = OPENVPN_KEYS[kind]
    key_path = os.path.join(directory, file_name)
    openvpn = module.get_bin_path("openvpn", required=True)
    wrap = ["--tls-crypt-v2", server_key] if kind == "tls_crypt_v2_client" else []
    run_private(module, [openvpn, *wrap, "--genkey", genkey, key_path + ".tmp"])
    os.rename(key_path + ".tmp", key_path)


def is_complete(directory: str, kind: str) -> bool:
    return all(os.path.isfile(os.path.join(directory, name)) for name in FILES[kind])


def other_kinds_files(directory: str, kind: str) -> list[str]:
    """The files of the other auth mode in directory: left by a tunnel that moved between auth modes."""
    names = REPLACES.get(kind, ())
    return [os.path.join(directory, name) for name in names if os.path.lexists(os.path.join(directory, name))]


def warn_expiry(module: AnsibleModule, directory: str, not_after: datetime.datetime, days: int) -> None:
    left = not_after - datetime.datetime.now(datetime.timezone.utc)
    if days and left < datetime.timedelta(days=days):
        state = "expired" if left.total_seconds() < 0 else f"expires in {left.days} days"
        module.warn(
            f"{directory}/{CERTIFICATE} {state} ({not_after.isoformat()}); renew it with a rotation"
            " (playbook sixtunnel.openvpn.rotate for a laptop's, sixtunnel.openvpn.rotate_gateway for the"
            " gateway's, docs/operations.md)"
        )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "path", "required": True},
            "kind": {"type": "str", "choices": ["certificate", *OPENVPN_KEYS], "default": "certificate"},
            "certificate_days": {"type": "int", "default": 3650},
            "common_name": {"type": "str"},
            "rotate": {"type": "list", "elements": "path", "default": []},
            "warn_days": {"type": "int", "default": 0},
            "server_key": {"type": "path"},
        },
        required_if=[("kind", "tls_crypt_v2_client", ["server_key"])],
        supports_check_mode=True,
    )
    kind = module.params["kind"]
    rotate = {os.path.normpath(directory) for directory in module.params["rotate"]}
    unknown = rotate - {os.path.normpath(directory) for directory in module.params["directories"]}
    if unknown:
        module.fail_json(msg=f"rotate names directories that are not in directories: {', '.join(sorted(unknown))}")
    server_key = module.params["server_key"]
    created = []
    removed = []
    fingerprints = {}
    certificates = {}
    expires = {}
    for directory in module.params["directories"]:
        common_name = common_name_of(directory, module.params["common_name"])
        rotated = os.path.normpath(directory) in rotate
        complete = is_complete(directory, kind) and not rotated
        if complete and kind == "certificate" and module.params["common_name"] is not None:
            # Only where asked: a certificate whose fingerprint is already pinned is otherwise never replaced.
            complete = current_common_name(module, os.path.join(directory, CERTIFICATE)) == common_name
        if not complete:
            created.append(directory)
            if module.check_mode:
                continue
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if kind == "certificate":
                make_certificate(module, directory, module.params["certificate_days"], common_name, rotated)
            else:
                if server_key and not os.path.isfile(server_key):
                    module.fail_json(msg=f"no server key {server_key} to make the client key in {directory} from")
                make_openvpn_key(module, directory, kind, server_key)
        for path in other_kinds_files(directory, kind):
            removed.append(path)
            if not module.check_mode:
                os.remove(path)
        if kind == "certificate":
            cert_path = os.path.join(directory, CERTIFICATE)
            fingerprints[directory] = certificate_fingerprint(cert_path)
            certificates[directory] = certificate_pem(cert_path)
            not_after = certificate_not_after(cert_path)
            expires[directory] = not_after.isoformat()
            warn_expiry(module, directory, not_after, module.params["warn_days"])
    module.exit_json(
        changed=bool(created or removed),
        created=created,
        removed=removed,
        fingerprints=fingerprints,
        certificates=certificates,
        expires=expires,
    )


if __name__ == "__main__":
    main()
