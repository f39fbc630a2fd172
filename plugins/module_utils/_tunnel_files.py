# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options of tunnel_files and of tunnel_files_write, its writing half on the host (private, may change).

tunnel_files is an action plugin with a documentation-only module, as ansible.builtin.template is: the action
plugin renders on the controller and calls the module tunnel_files_write once to write every file. Each module's
DOCUMENTATION lists exactly its spec here; unit tests compare them. The specs live in module_utils because that is
the one place both halves can import them from: Ansible ships module_utils with the module to the managed host,
while plugin_utils stays on the controller.
"""

from __future__ import annotations


def _file_attributes() -> dict[str, dict]:
    """Owner, group and mode of the written files: set in the task, passed on to the writing module as they are."""
    return {
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "mode": {"type": "raw"},
    }


def _per_file_options() -> dict[str, dict]:
    """What one file of a task's files (and of the module's) may set beyond dest and content."""
    return {
        "mode": {"type": "raw"},
        "validate": {"type": "str"},
        "directory_mode": {"type": "raw"},
    }


def task_argument_spec() -> dict[str, dict]:
    """What a tunnel_files task may set, checked by the action plugin; a new copy each call (callers may change it).

    Two forms, checked by the action plugin with TASK_FORMS: template, items and dest (one file per item), or files
    (a few files of different templates or contents, modes and directories).
    """
    return {
        "template": {"type": "str"},
        "items": {"type": "list", "elements": "dict"},
        "loop_var": {"type": "str", "default": "item"},
        "dest": {"type": "str"},
        "files": {
            "type": "list",
            "elements": "dict",
            "options": {
                "dest": {"type": "str", "required": True},
                "template": {"type": "str"},
                "content": {"type": "str"},
                **_per_file_options(),
            },
        },
        **_file_attributes(),
    }


# The two forms of a task, as validate_argument_spec's keyword arguments.
TASK_FORMS = {
    "mutually_exclusive": [["files", "template"], ["files", "items"], ["files", "dest"]],
    "required_one_of": [["files", "template"]],
    "required_together": [["template", "items", "dest"]],
}


def write_argument_spec() -> dict[str, dict]:
    """What tunnel_files_write accepts: the rendered files (each with its own mode, validate command and directory
    mode, if given), the task's owner, group and mode; a new copy each call."""
    return {
        **_file_attributes(),
        "files": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "dest": {"type": "path", "required": True},
                "content": {"type": "str", "required": True, "no_log": True},
                **_per_file_options(),
            },
        },
    }
