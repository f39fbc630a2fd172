# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A tunnel end's certificate and its fingerprint: shared by the modules tunnel_keys and tunnel_keys_info
(private, may change)."""

from __future__ import annotations

import base64
import datetime
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


def _certificate_der(cert_path: str) -> bytes:
    with open(cert_path, encoding="ascii") as handle:
        match = PEM_CERTIFICATE.search(handle.read())
    if not match:
        raise ValueError(f"{cert_path} holds no PEM certificate")
    return base64.b64decode("".join(match.group(1).split()))


def _der_element(der: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at offset."""
    tag, length, offset = der[offset], der[offset + 1], offset + 2
    if length & 0x80:
        size = length & 0x7F
        length, offset = int.from_bytes(der[offset : offset + size], "big"), offset + size
    return tag, offset, offset + length


def certificate_not_after(cert_path: str) -> datetime.datetime:
    """The end of validity (notAfter, RFC 5280 4.1.2.5) of the first certificate in a PEM file, timezone-aware UTC.

    Read from the DER in Python, not with `openssl x509 -enddate`: one process less per certificate on every run
    (a gateway of 100 p2p laptops has 100), and no need for Python's cryptography on the managed host. Raises
    ValueError where the file holds no certificate or its validity cannot be read.
    """
    der = _certificate_der(cert_path)
    try:
        _tag, certificate, _end = _der_element(der, 0)
        _tag, position, _end = _der_element(der, certificate)  # tbsCertificate
        tag, _start, end = _der_element(der, position)
        position = end if tag == 0xA0 else position  # [0] version, absent in v1 certificates
        for _field in ("serialNumber", "signature", "issuer"):
            position = _der_element(der, position)[2]
        _tag, validity, _end = _der_element(der, position)
        not_before_end = _der_element(der, validity)[2]
        tag, start, end = _der_element(der, not_before_end)
        text = der[start:end].decode("ascii")
        # UTCTime YYMMDDHHMMSSZ for years 1950-2049, GeneralizedTime YYYYMMDDHHMMSSZ after (RFC 5280 4.1.2.5).
        pattern = {0x17: "%y%m%d%H%M%SZ", 0x18: "%Y%m%d%H%M%SZ"}[tag]
        return datetime.datetime.strptime(text, pattern).replace(tzinfo=datetime.timezone.utc)
    except (IndexError, KeyError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{cert_path}: cannot read the certificate's validity ({exc})") from exc


def certificate_fingerprint(cert_path: str) -> str:
    """SHA-256 of the first certificate in a PEM file, upper-case hex with colons: what OpenVPN's peer-fingerprint
    pins, and what `openssl x509 -noout -fingerprint -sha256` prints."""
    digest = hashlib.sha256(_certificate_der(cert_path)).hexdigest().upper()
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
