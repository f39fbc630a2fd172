# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A tunnel end's certificate and its fingerprint: shared by the modules tunnel_keys and tunnel_keys_info
(private, may change)."""

from __future__ import annotations

import base64
import hashlib
import os
import re

# The certificate in each tunnel end's directory, next to its key.pem.
CERTIFICATE = "cert.pem"

PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def certificate_pem(cert_path: str) -> str:
    """The first certificate in a PEM file, as PEM text ending in a newline (public: what a peer's trust store holds).

    Raises OSError where the file cannot be read and ValueError where it holds no PEM certificate.
    """
    with open(cert_path, encoding="ascii") as handle:
        match = PEM_CERTIFICATE.search(handle.read())
    if not match:
        raise ValueError(f"{cert_path} holds no PEM certificate")
    return match.group(0) + "\n"


def certificate_fingerprint(cert_path: str) -> str:
    """SHA-256 of the first certificate in a PEM file, upper-case hex with colons: what OpenVPN's peer-fingerprint
    pins, and what `openssl x509 -noout -fingerprint -sha256` prints."""
    with open(cert_path, encoding="ascii") as handle:
        match = PEM_CERTIFICATE.search(handle.read())
    if not match:
        raise ValueError(f"{cert_path} holds no PEM certificate")
    digest = hashlib.sha256(base64.b64decode("".join(match.group(1).split()))).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def directory_fingerprint(directory: str) -> str | None:
    """The fingerprint of a tunnel end's cert.pem, or None where it has none; reads only.

    Only a cert.pem that does not exist (or a directory that does not) counts as none. One that cannot be read
    (not root) or holds no certificate raises, so that a permission problem is never taken for a tunnel end
    without keys.
    """
    try:
        return certificate_fingerprint(os.path.join(directory, CERTIFICATE))
    except (FileNotFoundError, NotADirectoryError):
        return None
