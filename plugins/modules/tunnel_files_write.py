#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_files_write
short_description: Write files with the given contents in one call (the writing half of tunnel_files)
version_added: 1.0.0
description:
  - The module that the action plugin M(sixtunnel.openvpn.tunnel_files) calls once with every file it rendered on the
    controller; a task uses M(sixtunnel.openvpn.tunnel_files), not this module.
  - Writes only the files whose content, owner, group or mode differ. New content goes to a temporary file in the
    destination directory, created mode 0600, which is renamed over the old file, so no reader sees a partial file.
  - The contents are a no_log option, so they are neither echoed nor written to the host's journal.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Path of the file; its directory must exist.
        type: path
        required: true
      content:
        description: What the file should hold.
        type: str
        required: true
notes:
  - Supports check mode and diff mode; in check mode a file whose directory does not exist yet counts as changed.
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
extends_documentation_fragment:
  - sixtunnel.openvpn.tunnel_files
seealso:
  - module: sixtunnel.openvpn.tunnel_files
"""

EXAMPLES = r"""
# Tasks use sixtunnel.openvpn.tunnel_files, whose action plugin renders the files and calls this module.
- name: Write one file
  sixtunnel.openvpn.tunnel_files_write:
    files:
      - dest: /etc/openvpn/server/example.conf
        content: "port 1194\n"
    mode: "0640"
"""

RETURN = r"""
changed_files:
  description: Paths of the files that changed (or would change).
  returned: always
  type: list
  elements: str
before:
  description:
    - The old content of each changed file, base64-encoded, keyed by path; in diff mode only, and only for files up
      to 64 KiB. The action plugin turns it into the task's diff.
    - Base64, as Ansible masks the no_log contents wherever they appear in the result, even inside an old version
      that merely contains them.
  returned: always
  type: dict
"""

import base64
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_files import write_argument_spec

# Larger files are not put in a diff.
DIFF_MAX_BYTES = 64 * 1024


def read_current(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_replacing(path: str, content: bytes) -> None:
    """Write to a 0600 temporary file beside path, then rename it over path."""
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main() -> None:
    module = AnsibleModule(argument_spec=write_argument_spec(), supports_check_mode=True)
    files = module.params["files"]

    changed_files = []
    before = {}
    for entry in files:
        path = entry["dest"]
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            # In check mode an earlier task would have made it (the tunnel's key directory).
            if module.check_mode:
                changed_files.append(path)
                continue
            module.fail_json(msg=f"{path}: directory {directory} does not exist")
        content = entry["content"].encode("utf-8")
        current = read_current(path)
        changed = current != content
        if changed and not module.check_mode:
            try:
                write_replacing(path, content)
            except OSError as exc:
                module.fail_json(msg=f"{path}: cannot write: {exc}")
        if os.path.exists(path):
            file_args = module.load_file_common_arguments(
                {
                    "path": path,
                    "owner": module.params["owner"],
                    "group": module.params["group"],
                    "mode": module.params["mode"],
                }
            )
            changed = module.set_fs_attributes_if_different(file_args, changed)
        if changed:
            changed_files.append(path)
            if module._diff and (current is None or len(current) <= DIFF_MAX_BYTES):
                # base64: Ansible masks the no_log content wherever it appears in the result, even inside
                # an old version that merely contains it.
                before[path] = base64.b64encode(current or b"").decode("ascii")
    module.exit_json(changed=bool(changed_files), changed_files=changed_files, before=before)


if __name__ == "__main__":
    main()
