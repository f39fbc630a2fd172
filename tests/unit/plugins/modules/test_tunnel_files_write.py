# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_files_write, the writing half of tunnel_files, on real files in a temporary directory; both modules' docs."""

from __future__ import annotations

import base64
import json
import stat

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sixtunnel.openvpn.plugins.doc_fragments import tunnel_files as tunnel_files_fragment
from ansible_collections.sixtunnel.openvpn.plugins.module_utils import _tunnel_files
from ansible_collections.sixtunnel.openvpn.plugins.modules import tunnel_files, tunnel_files_write

# The argument spec keys that DOCUMENTATION states too; no_log is the only other one the spec may use.
DOCUMENTED_KEYS = ("type", "required", "default", "choices", "elements")


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        tunnel_files_write.main()
    return json.loads(capsys.readouterr().out)


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_new_and_changed_files_only(tmp_path, capsys):
    (tmp_path / "same.conf").write_text("same\n")
    (tmp_path / "same.conf").chmod(0o640)
    (tmp_path / "old.conf").write_text("old\n")
    (tmp_path / "old.conf").chmod(0o640)
    files = [
        {"dest": str(tmp_path / "same.conf"), "content": "same\n"},
        {"dest": str(tmp_path / "old.conf"), "content": "new\n"},
        {"dest": str(tmp_path / "fresh.conf"), "content": "fresh\n"},
    ]
    result = run_module(capsys, files=files, mode="0640")
    assert result["changed"] is True
    assert result["changed_files"] == [str(tmp_path / "old.conf"), str(tmp_path / "fresh.conf")]
    assert (tmp_path / "old.conf").read_text() == "new\n"
    assert (tmp_path / "fresh.conf").read_text() == "fresh\n"
    assert mode_of(tmp_path / "fresh.conf") == 0o640
    # No temporary file is left behind.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fresh.conf", "old.conf", "same.conf"]

    again = run_module(capsys, files=files, mode="0640")
    assert again["changed"] is False and again["changed_files"] == []


def test_fixes_a_wrong_mode_without_rewriting(tmp_path, capsys):
    script = tmp_path / "up.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    result = run_module(capsys, files=[{"dest": str(script), "content": "#!/bin/sh\n"}], mode="0750")
    assert result["changed_files"] == [str(script)]
    assert mode_of(script) == 0o750


def test_check_mode_reports_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "old.conf").write_text("old\n")
    files = [
        {"dest": str(tmp_path / "old.conf"), "content": "new\n"},
        {"dest": str(tmp_path / "fresh.conf"), "content": "x\n"},
    ]
    result = run_module(capsys, files=files, _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed_files"] == [str(tmp_path / "old.conf"), str(tmp_path / "fresh.conf")]
    assert (tmp_path / "old.conf").read_text() == "old\n"
    assert not (tmp_path / "fresh.conf").exists()
    # The action plugin turns these into the task's diff.
    before = {path: base64.b64decode(content).decode() for path, content in result["before"].items()}
    assert before == {str(tmp_path / "old.conf"): "old\n", str(tmp_path / "fresh.conf"): ""}


def test_diff_shows_an_old_version_that_contains_the_new_one(tmp_path, capsys):
    # Ansible masks a no_log value wherever it appears; the old content must survive that.
    (tmp_path / "up.sh").write_text("#!/bin/sh\n# drift\n")
    result = run_module(capsys, files=[{"dest": str(tmp_path / "up.sh"), "content": "#!/bin/sh\n"}], _ansible_diff=True)
    assert base64.b64decode(result["before"][str(tmp_path / "up.sh")]).decode() == "#!/bin/sh\n# drift\n"


def test_content_is_not_echoed(tmp_path, capsys):
    result = run_module(capsys, files=[{"dest": str(tmp_path / "a.conf"), "content": "not for the log\n"}])
    assert "not for the log" not in json.dumps(result)


def test_missing_directory_fails_naming_the_file(tmp_path, capsys):
    path = tmp_path / "missing" / "a.conf"
    result = run_module(capsys, files=[{"dest": str(path), "content": "x\n"}])
    assert result["failed"] is True
    assert result["msg"] == f"{path}: directory {path.parent} does not exist"


def test_missing_directory_is_a_change_in_check_mode(tmp_path, capsys):
    path = tmp_path / "missing" / "a.conf"
    result = run_module(capsys, files=[{"dest": str(path), "content": "x\n"}], _ansible_check_mode=True)
    assert result["changed_files"] == [str(path)]


def test_a_file_own_mode_comes_before_the_task_mode(tmp_path, capsys):
    files = [
        {"dest": str(tmp_path / "rules.nft"), "content": "x\n", "mode": "0640"},
        {"dest": str(tmp_path / "unit.service"), "content": "y\n"},
    ]
    run_module(capsys, files=files, mode="0644")
    assert mode_of(tmp_path / "rules.nft") == 0o640
    assert mode_of(tmp_path / "unit.service") == 0o644


def test_directory_mode_makes_missing_directories_and_fixes_an_existing_one(tmp_path, capsys):
    deep = tmp_path / "a" / "b" / "c.conf"
    files = [{"dest": str(deep), "content": "x\n", "directory_mode": "0750"}]
    result = run_module(capsys, files=files, mode="0640")
    assert result["changed_files"] == [str(deep)]
    assert deep.read_text() == "x\n"
    # Every directory it made gets the mode, as ansible.builtin.file's state=directory gives it.
    assert (mode_of(tmp_path / "a"), mode_of(tmp_path / "a" / "b")) == (0o750, 0o750)
    assert run_module(capsys, files=files, mode="0640")["changed"] is False

    # A directory whose mode drifted is fixed, and its file reported, though the file itself is unchanged.
    (tmp_path / "a" / "b").chmod(0o777)
    result = run_module(capsys, files=files, mode="0640", _ansible_diff=True)
    assert result["changed_files"] == [str(deep)]
    assert result["before"] == {}
    assert mode_of(tmp_path / "a" / "b") == 0o750


def test_directory_mode_in_check_mode_makes_nothing(tmp_path, capsys):
    path = tmp_path / "missing" / "a.conf"
    files = [{"dest": str(path), "content": "x\n", "directory_mode": "0750"}]
    result = run_module(capsys, files=files, _ansible_check_mode=True)
    assert result["changed_files"] == [str(path)]
    assert not path.parent.exists()


def test_validate_checks_the_new_file_before_it_replaces_the_old(tmp_path, capsys):
    rules = tmp_path / "rules.nft"
    rules.write_text("old\n")
    seen = tmp_path / "seen"
    # The command sees the new content, in a temporary file beside the old one.
    validate = f'sh -c \'cp "$1" {seen} && dirname "$1" >> {seen}\' _ %s'
    result = run_module(capsys, files=[{"dest": str(rules), "content": "new\n", "validate": validate}])
    assert result["changed_files"] == [str(rules)]
    assert rules.read_text() == "new\n"
    assert seen.read_text() == f"new\n{tmp_path}\n"


def test_refused_content_keeps_the_old_file(tmp_path, capsys):
    rules = tmp_path / "rules.nft"
    rules.write_text("old\n")
    validate = "sh -c 'echo bad rule >&2; exit 3' _ %s"
    result = run_module(capsys, files=[{"dest": str(rules), "content": "new\n", "validate": validate}])
    assert result["failed"] is True
    assert result["msg"] == f"{rules}: {validate!r} refused the new content (exit 3), the old file is kept: bad rule"
    assert rules.read_text() == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rules.nft"]


def test_validate_runs_only_on_new_content_and_never_in_check_mode(tmp_path, capsys):
    rules = tmp_path / "rules.nft"
    rules.write_text("same\n")
    refuse = "false %s"
    assert run_module(capsys, files=[{"dest": str(rules), "content": "same\n", "validate": refuse}])["changed"] is False
    result = run_module(
        capsys, files=[{"dest": str(rules), "content": "new\n", "validate": refuse}], _ansible_check_mode=True
    )
    assert result["changed_files"] == [str(rules)]
    assert rules.read_text() == "same\n"


def test_validate_needs_the_file_placeholder(tmp_path, capsys):
    rules = tmp_path / "rules.nft"
    result = run_module(capsys, files=[{"dest": str(rules), "content": "x\n", "validate": "nft -c -f"}])
    assert result["failed"] is True
    assert result["msg"] == f"{rules}: validate must contain %s (the new file): 'nft -c -f'"
    assert not rules.exists()


def test_needs_the_rendered_files(capsys):
    result = run_module(capsys, mode="0640")
    assert result["failed"] is True
    assert result["msg"] == "missing required arguments: files"


def test_tunnel_files_module_is_documentation_only():
    # As ansible.builtin.template's: its action plugin does the work, calling tunnel_files_write.
    assert not hasattr(tunnel_files, "main")


def documented(options):
    """DOCUMENTATION's options in argument spec terms, with Ansible's defaults filled in."""
    return {
        name: {
            "type": option.get("type", "str"),
            "required": option.get("required", False),
            "default": option.get("default"),
            "choices": option.get("choices"),
            "elements": option.get("elements"),
            "options": documented(option["suboptions"]) if "suboptions" in option else None,
        }
        for name, option in options.items()
    }


def specified(spec):
    """An argument spec in the same terms; a key DOCUMENTATION cannot show fails the test."""
    result = {}
    for name, option in spec.items():
        assert set(option) <= {*DOCUMENTED_KEYS, "options", "no_log"}, f"{name}: compare {sorted(option)} too"
        result[name] = {key: option.get(key) for key in DOCUMENTED_KEYS}
        result[name]["type"] = option.get("type", "str")
        result[name]["required"] = option.get("required", False)
        result[name]["options"] = specified(option["options"]) if "options" in option else None
    return result


@pytest.mark.parametrize(
    ("module", "spec"),
    [(tunnel_files, _tunnel_files.task_argument_spec), (tunnel_files_write, _tunnel_files.write_argument_spec)],
    ids=["tunnel_files", "tunnel_files_write"],
)
def test_documentation_lists_exactly_the_shared_spec(module, spec):
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["extends_documentation_fragment"] == ["sixtunnel.openvpn.tunnel_files"]
    options = {
        **yaml.safe_load(tunnel_files_fragment.ModuleDocFragment.DOCUMENTATION)["options"],
        **documentation["options"],
    }
    assert documented(options) == specified(spec())


def test_task_and_write_specs_share_the_file_attributes():
    task, write = _tunnel_files.task_argument_spec(), _tunnel_files.write_argument_spec()
    # The action plugin passes owner, group and mode on as they are.
    assert {name: task[name] for name in ("owner", "group", "mode")} == {
        name: write[name] for name in ("owner", "group", "mode")
    }
    # And each file's own attributes, check and directory.
    per_file = ("mode", "validate", "directory_mode")
    assert {name: task["files"]["options"][name] for name in per_file} == {
        name: write["files"]["options"][name] for name in per_file
    }
    assert write["files"]["options"]["content"]["no_log"] is True


def test_specs_are_fresh_copies():
    _tunnel_files.write_argument_spec()["files"]["options"]["content"]["no_log"] = False
    _tunnel_files.write_argument_spec()["mode"]["type"] = "str"
    _tunnel_files.task_argument_spec()["dest"]["type"] = "int"
    _tunnel_files.task_argument_spec()["mode"]["type"] = "int"
    assert _tunnel_files.write_argument_spec()["files"]["options"]["content"]["no_log"] is True
    assert _tunnel_files.write_argument_spec()["mode"]["type"] == "raw"
    assert _tunnel_files.task_argument_spec()["dest"]["type"] == "str"
    assert _tunnel_files.task_argument_spec()["mode"]["type"] == "raw"
