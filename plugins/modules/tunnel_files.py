#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_files
short_description: Render one template per tunnel and write all the files in one call, reporting which tunnels changed
version_added: 1.0.0
description:
  - Renders O(template) once for each entry of O(items) on the controller, with the entry as the variable named
    O(loop_var), exactly as M(ansible.builtin.template) and C(loop) would, and writes every result to its O(dest)
    on the managed host in a single module call. A gateway with 100 tunnels pays one round trip, not one or more per file.
  - Writes only the files whose content, owner, group or mode differ. New content goes to a temporary file in the
    destination directory, created mode 0600, which is renamed over the old file, so no reader sees a partial file.
  - Returns the entries whose file changed in RV(changed_items), so a handler restarts only those tunnels.
  - The rendered content is passed to the host as a no_log option, so it is neither echoed nor written to the
    host's journal; with C(--diff) the task shows each changed file's diff, which C(no_log) on the task hides.
options:
  template:
    description: Template file, found like the C(src) of M(ansible.builtin.template) (the role's C(templates/) first).
    type: str
    required: true
  items:
    description: One entry per file to write; each entry must be a mapping.
    type: list
    elements: dict
    required: true
  loop_var:
    description: Name of the variable that holds the current entry while O(template) is rendered.
    type: str
    default: item
  dest:
    description:
      - Where each entry's file goes. C({key}) fields are filled from the entry (Python C(str.format_map)), so
        C({dir}/up.sh) writes C(up.sh) into each entry's C(dir). Each entry must give a different path.
      - The directory must exist.
    type: str
    required: true
  owner:
    description: Owner of the files.
    type: str
  group:
    description: Group of the files.
    type: str
  mode:
    description: Mode of the files, as for M(ansible.builtin.file); quote it (C("0640")).
    type: raw
  files:
    description: Internal, set by the action plugin from the options above; a task cannot set it.
    type: list
    elements: dict
    suboptions:
      dest:
        description: Path of the file.
        type: path
        required: true
      content:
        description: What the file should hold.
        type: str
        required: true
author:
  - sixtunnel.openvpn contributors
notes:
  - Runs through an action plugin of the same name, which renders on the controller; the module only writes.
  - Supports check mode and diff mode.
seealso:
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Write each tunnel's up-script
  sixtunnel.openvpn.tunnel_files:
    template: up.sh.j2
    items: "{{ tunnels }}"
    loop_var: tunnel
    dest: "{dir}/up.sh"
    owner: root
    group: root
    mode: "0750"
  register: scripts

- name: Show the tunnels whose up-script changed
  ansible.builtin.debug:
    msg: "{{ scripts.changed_items | map(attribute='name') }}"
"""

RETURN = r"""
changed_items:
  description: The entries of O(items) whose file was written or had its owner, group or mode fixed (or would be, in check mode).
  returned: always
  type: list
  elements: dict
changed_files:
  description: Paths of the files that changed (or would change).
  returned: always
  type: list
  elements: str
"""

import base64
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_files import module_argument_spec

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
    module = AnsibleModule(argument_spec=module_argument_spec(), supports_check_mode=True)
    files = module.params["files"]
    if files is None:
        module.fail_json(msg="tunnel_files renders on the controller: run it as a task, not as a bare module")

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
