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
    A file with a validate command is renamed only once the command accepted the temporary file.
  - The contents are a no_log option, so they are neither echoed nor written to the host's journal.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Path of the file; its directory must exist, unless O(files[].directory_mode) is set.
        type: path
        required: true
      content:
        description: What the file should hold.
        type: str
        required: true
      mode:
        description: Mode of this file, instead of O(mode).
        type: raw
      validate:
        description:
          - Command that checks new content before it replaces the file; C(%s) is the temporary file. A non-zero
            exit fails the module and keeps the old file. Not run in check mode, nor when the content is unchanged.
        type: str
      directory_mode:
        description:
          - Mode of the file's directory, made (with any missing parent) if it does not exist; an existing one is
            given this mode too. The directories get O(owner) and O(group), as the files do.
        type: raw
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
  description: Paths of the files that changed (or would change), or whose directory did.
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


def write_replacing(module: AnsibleModule, path: str, content: bytes, validate: str | None) -> None:
    """Write to a 0600 temporary file beside path, check it with validate (its %s is the temporary file), then rename
    it over path. Fails the module, leaving the old file, if validate exits non-zero; raises OSError if it cannot
    write."""
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        if validate:
            rc, out, err = module.run_command(validate % temporary)
            if rc != 0:
                os.unlink(temporary)
                said = (err or out).strip()
                module.fail_json(
                    msg=f"{path}: {validate!r} refused the new content (exit {rc}), the old file is kept"
                    + (f": {said}" if said else "")
                )
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def make_directory(module: AnsibleModule, directory: str, mode: object) -> bool:
    """Make directory and any missing parent, each with mode and the files' owner and group, as
    ansible.builtin.file's state=directory does; give an existing one that mode, owner and group too. Returns
    whether anything changed (or would, in check mode); raises OSError if a directory cannot be made."""
    missing = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        current = os.path.dirname(current)
    if missing and module.check_mode:
        return True
    for path in reversed(missing):
        # 0700 until its own mode and owner are set.
        os.mkdir(path, 0o700)
        set_attributes(module, path, mode, True)
    return set_attributes(module, directory, mode, bool(missing))


def set_attributes(module: AnsibleModule, path: str, mode: object, changed: bool) -> bool:
    """Give path the task's owner and group and mode; returns changed, or True if anything was (would be) fixed."""
    file_args = module.load_file_common_arguments(
        {"path": path, "owner": module.params["owner"], "group": module.params["group"], "mode": mode}
    )
    return module.set_fs_attributes_if_different(file_args, changed)


def main() -> None:
    module = AnsibleModule(argument_spec=write_argument_spec(), supports_check_mode=True)
    files = module.params["files"]
    for entry in files:
        if entry["validate"] and "%s" not in entry["validate"]:
            module.fail_json(msg=f"{entry['dest']}: validate must contain %s (the new file): {entry['validate']!r}")

    changed_files = []
    before = {}
    for entry in files:
        path = entry["dest"]
        directory = os.path.dirname(path)
        directory_changed = False
        if entry["directory_mode"] is not None:
            try:
                directory_changed = make_directory(module, directory, entry["directory_mode"])
            except OSError as exc:
                module.fail_json(msg=f"{path}: cannot make directory {directory}: {exc}")
        if not os.path.isdir(directory):
            # In check mode an earlier task (or directory_mode) would have made it.
            if module.check_mode:
                changed_files.append(path)
                continue
            module.fail_json(msg=f"{path}: directory {directory} does not exist")
        content = entry["content"].encode("utf-8")
        current = read_current(path)
        changed = current != content
        if changed and not module.check_mode:
            try:
                write_replacing(module, path, content, entry["validate"])
            except OSError as exc:
                module.fail_json(msg=f"{path}: cannot write: {exc}")
        if os.path.exists(path):
            mode = entry["mode"] if entry["mode"] is not None else module.params["mode"]
            changed = set_attributes(module, path, mode, changed)
        if changed or directory_changed:
            changed_files.append(path)
        if changed and module._diff and (current is None or len(current) <= DIFF_MAX_BYTES):
            # base64: Ansible masks the no_log content wherever it appears in the result, even inside
            # an old version that merely contains it.
            before[path] = base64.b64encode(current or b"").decode("ascii")
    module.exit_json(changed=bool(changed_files), changed_files=changed_files, before=before)


if __name__ == "__main__":
    main()
