# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The file attributes tunnel_files and tunnel_files_write document alike (one spec: module_utils/_tunnel_files)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  owner:
    description: Owner of the files.
    type: str
  group:
    description: Group of the files.
    type: str
  mode:
    description: Mode of the files, as for M(ansible.builtin.file); quote it (C("0640")). A file's own C(mode) comes first.
    type: raw
"""
