# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A tunnel end's certificate, its fingerprint and its expiry: shared by the modules tunnel_keys, tunnel_keys_info
and tunnel_status (private, may change)."""

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
    """The DER bytes of the first certificate in a PEM file (OSError, or ValueError where it holds none)."""
    with open(cert_path, encoding="ascii") as handle:
        match = PEM_CERTIFICATE.search(handle.read())
    if not match:
        raise ValueError(f"{cert_path} holds no PEM certificate")
    return base64.b64decode("".join(match.group(1).split()))


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


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at offset (definite lengths only, as DER has)."""
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise IndexError("element longer than the certificate")
    return tag, start, start + length


def certificate_not_after(cert_path: str) -> datetime.datetime:
    """The end of validity (notAfter, UTC, timezone-aware) of the first certificate in a PEM file; reads only the
    public certificate, with no library beyond Python's own (the hosts may lack python3-cryptography).

    Raises OSError where the file cannot be read and ValueError where it holds no certificate or one that is not
    X.509 as RFC 5280 shapes it (Certificate, TBSCertificate, Validity, UTCTime or GeneralizedTime).
    """
    der = _certificate_der(cert_path)
    try:
        _tag, start, _end = _der_element(der, 0)  # Certificate
        _tag, offset, _end = _der_element(der, start)  # TBSCertificate
        tag, _start, end = _der_element(der, offset)
        if tag == 0xA0:  # [0] version (absent in v1 certificates)
            offset = end
        for _field in ("serialNumber", "signature", "issuer"):
            offset = _der_element(der, offset)[2]
        tag, start, _end = _der_element(der, offset)  # Validity
        if tag != 0x30:
            raise ValueError("no Validity")
        not_before_end = _der_element(der, start)[2]
        tag, start, end = _der_element(der, not_before_end)
        text = der[start:end].decode("ascii")
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"{cert_path}: not an X.509 certificate ({exc})") from exc
    # UTCTime YYMMDDHHMMSSZ (years 1950 to 2049), GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280, 4.1.2.5).
    if tag == 0x17 and len(text) == 13:
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18 or len(text) != 15:
        raise ValueError(f"{cert_path}: notAfter {text!r} is neither UTCTime nor GeneralizedTime")
    try:
        # timezone.utc, not UTC (3.11): hosts may run an older Python.
        return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise ValueError(f"{cert_path}: notAfter {text!r}: {exc}") from exc
