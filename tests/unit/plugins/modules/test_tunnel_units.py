# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_units against a stand-in systemctl that answers from a state file and logs every call."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_units

FAKE_SYSTEMCTL = """#!/usr/bin/env python3
import json, os, sys
state_path = os.environ["FAKE_SYSTEMCTL_STATE"]
with open(state_path) as handle:
    units = json.load(handle)
with open(state_path + ".log", "a") as handle:
    handle.write(" ".join(sys.argv[1:]) + "\\n")
verb, names = sys.argv[1], [name for name in sys.argv[2:] if not name.startswith("-")]
if verb == "show":
    print("\\n\\n".join(
        f"LoadState={'loaded' if name in units else 'not-found'}\\n"
        f"ActiveState={units.get(name, {}).get('active', 'inactive')}\\n"
        f"SubState={units.get(name, {}).get('sub', 'running')}\\n"
        f"UnitFileState={units.get(name, {}).get('file', '')}" for name in names))
    sys.exit(0)
for name in names:
    if verb == "enable":
        units[name]["file"] = "enabled"
    elif verb == "disable":
        units[name]["file"] = "disabled"
    elif verb == "stop":
        units[name]["active"] = "inactive"
        units[name]["sub"] = "dead"
    elif units[name].get("broken"):
        print(f"Job for {name} failed.", file=sys.stderr)
        sys.exit(1)
    else:
        units[name]["active"] = "active"
        units[name]["sub"] = "running"
with open(state_path, "w") as handle:
    json.dump(units, handle)
"""


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    """Put a stand-in systemctl first on PATH; return (write its units, read its call log)."""
    binary = tmp_path / "bin" / "systemctl"
    binary.parent.mkdir()
    binary.write_text(FAKE_SYSTEMCTL)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "units.json"
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_STATE", str(state))

    def set_units(units):
        state.write_text(json.dumps(units))

    def calls():
        log = tmp_path / "units.json.log"
        return log.read_text().splitlines() if log.exists() else []

    return set_units, calls


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        tunnel_units.main()
    return json.loads(capsys.readouterr().out)


def test_parse_show_keeps_unit_order():
    output = "LoadState=loaded\nActiveState=active\n\nLoadState=loaded\nActiveState=inactive\n"
    assert tunnel_units.parse_show(output) == [
        {"LoadState": "loaded", "ActiveState": "active"},
        {"LoadState": "loaded", "ActiveState": "inactive"},
    ]


def test_started_enables_and_starts_only_what_is_missing_in_one_call_each(systemctl, capsys):
    set_units, calls = systemctl
    set_units(
        {
            "a.service": {"active": "active", "file": "enabled"},
            "b.service": {"active": "inactive", "file": "disabled"},
            "c.service": {"active": "inactive", "file": "enabled"},
        }
    )
    result = run_module(capsys, units=["a.service", "b.service", "c.service"])
    assert result["changed"] is True
    assert result["enabled_units"] == ["b.service"]
    assert result["started_units"] == ["b.service", "c.service"]
    assert calls()[1:] == ["enable -- b.service", "start -- b.service c.service"]

    again = run_module(capsys, units=["a.service", "b.service", "c.service"])
    assert again["changed"] is False
    assert [call.split()[0] for call in calls()[3:]] == ["show"]  # the second run only asked


def test_restarted_restarts_every_unit_listed(systemctl, capsys):
    set_units, calls = systemctl
    set_units(
        {"a.service": {"active": "active", "file": "enabled"}, "b.service": {"active": "active", "file": "enabled"}}
    )
    result = run_module(capsys, units=["a.service", "b.service", "a.service"], state="restarted")
    assert result["started_units"] == ["a.service", "b.service"]
    assert calls()[-1] == "restart -- a.service b.service"


def test_check_mode_only_reports(systemctl, capsys):
    set_units, calls = systemctl
    set_units({"b.service": {"active": "inactive", "file": "disabled"}})
    result = run_module(capsys, units=["b.service"], _ansible_check_mode=True)
    assert result["changed"] is True and result["started_units"] == ["b.service"]
    assert [call.split()[0] for call in calls()] == ["show"]


def test_no_units_does_nothing(systemctl, capsys):
    _set_units, calls = systemctl
    assert run_module(capsys, units=[])["changed"] is False
    assert calls() == []


def test_unknown_unit_fails_naming_it(systemctl, capsys):
    set_units, _calls = systemctl
    set_units({})
    result = run_module(capsys, units=["nope.service"])
    assert result["failed"] is True
    assert result["msg"] == "unit nope.service cannot be loaded (LoadState=not-found)"


def test_failed_start_fails_the_task(systemctl, capsys):
    set_units, _calls = systemctl
    set_units({"b.service": {"active": "inactive", "file": "enabled", "broken": True}})
    result = run_module(capsys, units=["b.service"])
    assert result["failed"] is True
    assert result["msg"] == "systemctl start failed: Job for b.service failed."


def test_a_unit_waiting_to_restart_is_started_not_counted_as_running(systemctl, capsys):
    """A crash-looping OpenVPN shows `activating (auto-restart)`; it is not running."""
    set_units, calls = systemctl
    set_units({"a.service": {"active": "activating", "sub": "auto-restart", "file": "enabled"}})
    result = run_module(capsys, units=["a.service"])
    assert result["started_units"] == ["a.service"]
    assert calls()[-1] == "start -- a.service"


def test_stopped_disables_and_stops_only_what_runs_or_is_enabled(systemctl, capsys):
    set_units, calls = systemctl
    set_units(
        {
            "a.service": {"active": "active", "file": "enabled"},
            "b.service": {"active": "inactive", "sub": "dead", "file": "disabled"},
        }
    )
    units = ["a.service", "b.service", "gone.service"]
    result = run_module(capsys, units=units, state="stopped", enabled=False)
    assert (result["changed"], result["disabled_units"], result["stopped_units"]) == (
        True,
        ["a.service"],
        ["a.service"],
    )
    assert calls()[1:] == ["disable -- a.service", "stop -- a.service"]

    again = run_module(capsys, units=units, state="stopped", enabled=False)
    assert again["changed"] is False
    assert [call.split()[0] for call in calls()[3:]] == ["show"]
