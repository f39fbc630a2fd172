# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sixtunnel.openvpn.tunnel_files: render every file, then one call of the module tunnel_files_write writes them all.

The module tunnel_files holds only the documentation, as ansible.builtin.template's does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.sixtunnel.openvpn.plugins.module_utils._tunnel_files import TASK_FORMS, task_argument_spec

# The options a task may set; the module tunnel_files' DOCUMENTATION lists the same ones.
ARGUMENT_SPEC = task_argument_spec()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, **TASK_FORMS)

        # The template lookup renders as the template action does (search path, ansible_managed, newlines).
        lookup = self._shared_loader_obj.lookup_loader.get(
            "ansible.builtin.template", loader=self._loader, templar=self._templar
        )
        if args["files"] is not None:
            files, item_of_path = self._render_files(args["files"], lookup, task_vars)
        else:
            files, item_of_path = self._render_items(args, lookup, task_vars)

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

    def _find_template(self, template: str) -> None:
        """Fail the task, in the template action's words, if the template is not on the search path."""
        try:
            self._find_needle("templates", template)
        except AnsibleError as exc:
            raise AnsibleActionFail(to_text(exc)) from exc

    def _render_items(self, args: dict, lookup, task_vars: dict) -> tuple[list[dict], dict]:
        """The form template, items, dest: one file per item. Returns the module's files and the item of each path;
        fails the task on an item that is not a mapping, a dest it cannot fill, or two items writing one path."""
        self._find_template(args["template"])
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
        return files, item_of_path

    def _render_files(self, entries: list[dict], lookup, task_vars: dict) -> tuple[list[dict], dict]:
        """The form files: each entry its own template or content, mode, validate and directory_mode. Returns the
        module's files and, for each path, its entry without content (the changed_items); fails the task on an
        entry with both or neither of template and content, or two entries writing one path."""
        files = []
        entry_of_path = {}
        for index, entry in enumerate(entries):
            path = entry["dest"]
            if (entry["template"] is None) == (entry["content"] is None):
                raise AnsibleActionFail(f"tunnel_files: files[{index}] ({path}) needs either template or content")
            if path in entry_of_path:
                raise AnsibleActionFail(f"tunnel_files: two files write {path}")
            if entry["template"] is not None:
                self._find_template(entry["template"])
                content = to_text(lookup.run([entry["template"]], variables=task_vars)[0])
            else:
                content = entry["content"]
            entry_of_path[path] = {key: value for key, value in entry.items() if key != "content" and value is not None}
            module_entry = {key: entry[key] for key in ("mode", "validate", "directory_mode") if entry[key] is not None}
            files.append({"dest": path, "content": content, **module_entry})
        return files, entry_of_path
