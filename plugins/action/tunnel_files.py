# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sixtunnel.openvpn.tunnel_files: render every entry, then one call of the module tunnel_files_write writes them all.

The module tunnel_files holds only the documentation, as ansible.builtin.template's does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_files import task_argument_spec

# The options a task may set; the module tunnel_files' DOCUMENTATION lists the same ones.
ARGUMENT_SPEC = task_argument_spec()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        try:
            self._find_needle("templates", args["template"])
        except AnsibleError as exc:
            raise AnsibleActionFail(to_text(exc)) from exc
        # The template lookup renders as the template action does (search path, ansible_managed, newlines).
        lookup = self._shared_loader_obj.lookup_loader.get(
            "ansible.builtin.template", loader=self._loader, templar=self._templar
        )

        files = []
        item_of_path = {}
        for index, item in enumerate(args["items"]):
            if not isinstance(item, Mapping):
                raise AnsibleActionFail(f"tunnel_files: items[{index}] is not a mapping: {item!r}")
            try:
                path = args["dest"].format_map(item)
            except (KeyError, IndexError, ValueError, AttributeError) as exc:
                raise AnsibleActionFail(
                    f"tunnel_files: dest {args['dest']!r} cannot be filled from items[{index}]: {exc!r}"
                ) from exc
            if path in item_of_path:
                raise AnsibleActionFail(f"tunnel_files: two items write {path}")
            content = lookup.run([args["template"]], variables=task_vars, template_vars={args["loop_var"]: item})[0]
            item_of_path[path] = item
            files.append({"dest": path, "content": to_text(content)})

        if not files:
            result.update(changed=False, changed_items=[], changed_files=[])
            return result

        module_args = {key: args[key] for key in ("owner", "group", "mode")}
        module_args["files"] = files
        result.update(
            self._execute_module(
                module_name="sixtunnel.openvpn.tunnel_files_write", module_args=module_args, task_vars=task_vars
            )
        )
        before = result.pop("before", {})
        if result.get("failed"):
            return result

        content_of_path = {entry["dest"]: entry["content"] for entry in files}
        result["changed_items"] = [item_of_path[path] for path in result["changed_files"]]
        if self._task.diff:
            result["diff"] = [
                {
                    "before_header": path,
                    "after_header": path,
                    "before": base64.b64decode(before[path]).decode("utf-8", errors="replace"),
                    "after": content_of_path[path],
                }
                for path in result["changed_files"]
                if path in before
            ]
        return result
