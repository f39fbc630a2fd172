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
  - The other form, O(files), writes a few files that each have their own template or content, mode, directory and
    check command (C(validate)), also in one call.
  - The rendered content is passed to the host as a no_log option, so it is neither echoed nor written to the
    host's journal; with C(--diff) the task shows each changed file's diff, which C(no_log) on the task hides.
options:
  template:
    description:
      - Template file, found like the C(src) of M(ansible.builtin.template) (the role's C(templates/) first).
      - With O(items) and O(dest); or use O(files) instead of all three.
    type: str
  items:
    description: One entry per file to write; each entry must be a mapping.
    type: list
    elements: dict
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
  files:
    description:
      - A few files of different templates or contents, written in the same single call; instead of O(template),
        O(items) and O(dest). A role's firewall file, its unit and a drop-in cost one round trip, not one or two each.
      - RV(changed_items) holds the entries of the files that changed, without their content.
    type: list
    elements: dict
    suboptions:
      dest:
        description: Path of the file. Each entry must give a different path.
        type: str
        required: true
      template:
        description: Template of the file, found as O(template) is; give this or O(files[].content).
        type: str
      content:
        description: What the file should hold, as it is; give this or O(files[].template).
        type: str
      mode:
        description: This file's mode; O(mode) where it is not set.
        type: raw
      validate:
        description:
          - Command that checks new content before it replaces the file, as the C(validate) of
            M(ansible.builtin.copy); C(%s) is the new file (a temporary file in the destination directory). A
            non-zero exit fails the task and keeps the old file. Not run in check mode, nor when the content is
            unchanged.
        type: str
      directory_mode:
        description:
          - Make the file's directory (and any missing parent) with this mode if it does not exist, and give an
            existing one this mode, as M(ansible.builtin.file) with C(state=directory) would. Directories get
            O(owner) and O(group), as the files do. Without it the directory must exist.
        type: raw
extends_documentation_fragment:
  - sixtunnel.openvpn.tunnel_files
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Like M(ansible.builtin.template), an action plugin does the work. It renders on the controller, then calls the
    module M(sixtunnel.openvpn.tunnel_files_write) once to write the files.
  - Supports check mode and diff mode.
seealso:
  - module: ansible.builtin.template
  - module: sixtunnel.openvpn.tunnel_files_write
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

- name: Write a firewall file, checked by nft first, and the unit that loads it
  sixtunnel.openvpn.tunnel_files:
    files:
      - dest: /etc/example/rules.nft
        content: "{{ rules }}"
        mode: "0640"
        validate: /usr/sbin/nft -c -f %s
        directory_mode: "0750"
      - dest: /etc/systemd/system/example-nftables.service
        template: example-nftables.service.j2
    owner: root
    group: root
    mode: "0644"
  notify: Load the rules
"""

RETURN = r"""
changed_items:
  description:
    - The entries of O(items) whose file was written or had its owner, group or mode fixed (or would be, in check mode).
    - With O(files), the entries of O(files) whose file or directory changed, without their content.
  returned: always
  type: list
  elements: dict
changed_files:
  description: Paths of the files that changed (or would change), or whose directory did.
  returned: always
  type: list
  elements: str
"""
