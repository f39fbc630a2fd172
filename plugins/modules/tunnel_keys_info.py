#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_keys_info
short_description: Read the certificate fingerprints of OpenVPN tunnel ends, changing nothing
version_added: 1.0.0
description:
  - For each directory, returns the SHA-256 fingerprint of its C(cert.pem), the value OpenVPN's
    C(peer-fingerprint) pins, in the format M(sixtunnel.openvpn.tunnel_keys) returns.
  - Directories without C(cert.pem), or that do not exist, are listed in RV(missing); nothing is made.
  - A C(cert.pem) that cannot be read (the directories M(sixtunnel.openvpn.tunnel_keys) makes are mode 0700 root)
    or holds no certificate fails the task, naming the file, rather than counting as missing.
  - One call handles every directory, so reading many tunnel ends pays one round trip.
options:
  directories:
    description: Directories, one per tunnel end, as given to M(sixtunnel.openvpn.tunnel_keys).
    type: list
    elements: path
    required: true
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode; it only reads, so check mode gives the same result.
  - Key files are never opened and key contents are never returned.
seealso:
  - module: sixtunnel.openvpn.tunnel_keys
    description: Makes the key material whose fingerprints this module reads.
"""

EXAMPLES = r"""
- name: Read the fingerprint of the gateway end of laptop1's tunnel
  sixtunnel.openvpn.tunnel_keys_info:
    directories:
      - /etc/openvpn/server/sixtunnel-laptop1
  become: true
  register: gateway_keys

- name: Fail if that end has no certificate yet
  ansible.builtin.assert:
    that: gateway_keys.missing | length == 0
    fail_msg: "No cert.pem yet in {{ gateway_keys.missing | join(', ') }}"
"""

RETURN = r"""
fingerprints:
  description:
    - SHA-256 fingerprint of C(cert.pem) per directory that has one, upper-case hex with colons (32 bytes, 95
      characters), as C(openssl x509 -noout -fingerprint -sha256) prints it.
  returned: always
  type: dict
  sample: {"/etc/openvpn/server/sixtunnel-laptop1": "3A:9F:...:C2"}
missing:
  description: Directories without C(cert.pem), in the order of O(directories).
  returned: always
  type: list
  elements: str
  sample: ["/etc/openvpn/server/sixtunnel-laptop2"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_keys import CERTIFICATE, directory_fingerprint


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "path", "required": True},
        },
        supports_check_mode=True,
    )
    fingerprints = {}
    missing = []
    for directory in module.params["directories"]:
        try:
            fingerprint = directory_fingerprint(directory)
        except PermissionError:
            # Not "missing": the playbook would then pin nothing, or make keys that exist.
            path = os.path.join(directory, CERTIFICATE)
            module.fail_json(msg=f"cannot read {path}: permission denied; reading it needs root (become: true)")
        except (OSError, ValueError) as error:
            module.fail_json(msg=f"no fingerprint for {directory}: {error}")
        if fingerprint is None:
            missing.append(directory)
        else:
            fingerprints[directory] = fingerprint
    module.exit_json(changed=False, fingerprints=fingerprints, missing=missing)


if __name__ == "__main__":
    main()
