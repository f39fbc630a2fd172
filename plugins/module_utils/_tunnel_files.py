# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options of tunnel_files, shared by its action plugin and its module (private, may change).

It lives in module_utils because that is the one place both halves can import it from: Ansible ships
module_utils with the module to the managed host, while plugin_utils stays on the controller. The module's
DOCUMENTATION lists exactly argument_spec(); a unit test compares the two.
"""

from __future__ import annotations

# Set by the action plugin, never by a task.
INTERNAL_OPTIONS = frozenset({"files"})


def argument_spec() -> dict[str, dict]:
    """Every option, as the module's DOCUMENTATION lists it; a new copy on each call, so callers may change it."""
    return {
        "template": {"type": "str", "required": True},
        "items": {"type": "list", "elements": "dict", "required": True},
        "loop_var": {"type": "str", "default": "item"},
        "dest": {"type": "str", "required": True},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "mode": {"type": "raw"},
        "files": {
            "type": "list",
            "elements": "dict",
            "options": {
                "dest": {"type": "path", "required": True},
                "content": {"type": "str", "required": True, "no_log": True},
            },
        },
    }


def task_argument_spec() -> dict[str, dict]:
    """What a task may set, checked by the action plugin on the controller: every option but the internal ones."""
    spec = argument_spec()
    for name in INTERNAL_OPTIONS:
        del spec[name]
    return spec


def module_argument_spec() -> dict[str, dict]:
    """What the module accepts: every option, none of the top-level ones required.

    The action plugin has checked the task's options and passes the module only owner, group, mode and files.
    The module still knows the others, so a bare module call gets its own message rather than "unsupported".
    """
    spec = argument_spec()
    for option in spec.values():
        option.pop("required", None)
    return spec
