#!/usr/bin/python
# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_units
short_description: Start, restart or stop many systemd units, and enable or disable them, one systemctl call per step
version_added: 1.0.0
description:
  - Reads the state of every unit in O(units) with one C(systemctl show), then enables those not enabled and starts
    those not running (O(state=started)) or restarts all of them (O(state=restarted)), each step one C(systemctl)
    call for all the units. A gateway with 100 tunnels pays one round trip, not 100.
  - O(state=stopped) stops the running units and, with O(enabled=false), disables the enabled ones (offboarding).
  - systemd runs the start jobs of one call in parallel and C(systemctl) waits for all of them, so a unit that fails
    to start fails the task, naming it.
options:
  units:
    description: Unit names, e.g. C(openvpn-server@sixtunnel-laptop1.service). An empty list does nothing.
    type: list
    elements: str
    required: true
  state:
    description:
      - C(started) starts the units that are not running; C(restarted) restarts every unit listed; C(stopped) stops
        the running ones (a unit that does not exist counts as stopped).
    type: str
    choices: [started, restarted, stopped]
    default: started
  enabled:
    description:
      - V(true) enables the units (start at boot) that are not enabled yet. V(false) with O(state=stopped) disables
        those that are enabled; with the other states it leaves enablement alone.
    type: bool
    default: true
author:
  - sixtunnel.openvpn contributors (@sixtunnel)
notes:
  - Supports check mode; it then reports what it would do.
requirements:
  - systemd on the managed host.
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Start each tunnel now and at boot
  sixtunnel.openvpn.tunnel_units:
    units:
      - openvpn-server@sixtunnel-laptop1.service
      - openvpn-server@sixtunnel-laptop2.service
    state: started
"""

RETURN = r"""
enabled_units:
  description: Units that were enabled (or would be, in check mode).
  returned: unless O(state=stopped)
  type: list
  elements: str
started_units:
  description: Units that were started or restarted (or would be, in check mode).
  returned: unless O(state=stopped)
  type: list
  elements: str
stopped_units:
  description: Units that were stopped (or would be, in check mode).
  returned: when O(state=stopped)
  type: list
  elements: str
disabled_units:
  description: Units that were disabled (or would be, in check mode).
  returned: when O(state=stopped)
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

# UnitFileState values for which `systemctl is-enabled` succeeds: nothing to enable.
ENABLED_STATES = {"enabled", "enabled-runtime", "static", "indirect", "generated", "transient", "alias"}
RUNNING_STATES = {"active", "activating", "reloading"}
# "activating (auto-restart)": the process died and systemd waits to start it again; not running.
DEAD_SUBSTATES = {"auto-restart"}


def parse_show(output: str) -> list[dict[str, str]]:
    """Split `systemctl show` output for several units: one block of KEY=VALUE lines each, in order."""
    blocks = []
    for block in output.strip("\n").split("\n\n"):
        properties = {}
        for line in block.splitlines():
            key, _sep, value = line.partition("=")
            properties[key] = value
        blocks.append(properties)
    return blocks


def stop(module: AnsibleModule, systemctl: str, units: list[str], states: list[dict[str, str]]) -> None:
    """Stop the running units and, unless O(enabled), disable the enabled ones; exits the module."""
    to_disable = []
    if not module.params["enabled"]:
        to_disable = [unit for unit, state in zip(units, states) if state.get("UnitFileState") == "enabled"]
    # A unit that is not loaded (no such unit) runs nothing: nothing to stop.
    to_stop = [unit for unit, state in zip(units, states) if state.get("ActiveState") in RUNNING_STATES]
    to_stop += [unit for unit, state in zip(units, states) if state.get("SubState") in DEAD_SUBSTATES]
    to_stop = list(dict.fromkeys(to_stop))
    if not module.check_mode:
        if to_disable:
            module.run_command([systemctl, "disable", "--", *to_disable], check_rc=True)
        if to_stop:
            module.run_command([systemctl, "stop", "--", *to_stop], check_rc=True)
    module.exit_json(changed=bool(to_disable or to_stop), disabled_units=to_disable, stopped_units=to_stop)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "restarted", "stopped"], "default": "started"},
            "enabled": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    units = list(dict.fromkeys(module.params["units"]))
    if not units:
        module.exit_json(changed=False, enabled_units=[], started_units=[])
    systemctl = module.get_bin_path("systemctl", required=True)

    _rc, out, err = module.run_command(
        [systemctl, "show", "--property=LoadState,ActiveState,SubState,UnitFileState", "--", *units], check_rc=True
    )
    states = parse_show(out)
    if len(states) != len(units):
        module.fail_json(msg=f"systemctl show gave {len(states)} answers for {len(units)} units: {err.strip()}")
    if module.params["state"] == "stopped":
        stop(module, systemctl, units, states)
    for unit, state in zip(units, states):
        if state.get("LoadState") != "loaded":
            module.fail_json(msg=f"unit {unit} cannot be loaded (LoadState={state.get('LoadState')})")

    to_enable = []
    if module.params["enabled"]:
        to_enable = [unit for unit, state in zip(units, states) if state.get("UnitFileState") not in ENABLED_STATES]
    if module.params["state"] == "restarted":
        to_start = units
    else:
        to_start = [
            unit
            for unit, state in zip(units, states)
            if state.get("ActiveState") not in RUNNING_STATES or state.get("SubState") in DEAD_SUBSTATES
        ]

    if not module.check_mode:
        if to_enable:
            module.run_command([systemctl, "enable", "--", *to_enable], check_rc=True)
        verb = "restart" if module.params["state"] == "restarted" else "start"
        if to_start:
            rc, out, err = module.run_command([systemctl, verb, "--", *to_start])
            if rc != 0:
                module.fail_json(msg=f"systemctl {verb} failed: {err.strip() or out.strip()}", units=to_start)
    module.exit_json(changed=bool(to_enable or to_start), enabled_units=to_enable, started_units=to_start)


if __name__ == "__main__":
    main()
