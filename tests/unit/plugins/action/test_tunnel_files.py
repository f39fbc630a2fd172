# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tunnel_files through ansible-playbook on localhost: rendering, changed items, check/diff mode and no_log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.sixtunnel.openvpn.plugins.action import tunnel_files
from ansible_collections.sixtunnel.openvpn.plugins.module_utils import _tunnel_files

# Where the plugins under test come from: the directory that holds ansible_collections (tests/unit/conftest.py).
COLLECTIONS_ROOT = Path(tunnel_files.__file__).parents[5]

TEMPLATE = """{{ ansible_managed | comment }}
# {{ tunnel.name }}
port {{ tunnel.port }}
{% for network in tunnel.networks %}
route {{ network }}
{% endfor %}
"""

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    tunnels:
      - {name: a, port: 1194, networks: ["2001:db8::/64", "2001:db8:1::/64"]}
      - {name: b, port: 1195, networks: []}
      - {name: c, port: 1196, networks: []}
    changed_b: "{{ tunnels[:1] + [tunnels[1] | combine({'port': 2000})] + tunnels[2:] }}"
    changed_c: "{{ changed_b[:2] + [changed_b[2] | combine({'port': 3000})] }}"
  tasks:
    - name: First run writes every file
      sixtunnel.openvpn.tunnel_files: &write
        template: tunnel.conf.j2
        items: "{{ tunnels }}"
        loop_var: tunnel
        dest: "{{ out }}/{name}.conf"
        mode: "0640"
      register: first

    - name: Second run changes nothing
      sixtunnel.openvpn.tunnel_files: *write
      register: second

    - name: The builtin template module renders the same bytes
      ansible.builtin.template:
        src: tunnel.conf.j2
        dest: "{{ out }}/reference-{{ tunnel.name }}.conf"
        mode: "0640"
      loop: "{{ tunnels }}"
      loop_control:
        loop_var: tunnel

    - name: Only the changed tunnel is reported
      sixtunnel.openvpn.tunnel_files:
        template: tunnel.conf.j2
        items: "{{ changed_b }}"
        loop_var: tunnel
        dest: "{{ out }}/{name}.conf"
        mode: "0640"
      register: third

    - name: Check mode reports a change and writes nothing
      sixtunnel.openvpn.tunnel_files:
        template: tunnel.conf.j2
        items: "{{ changed_c }}"
        loop_var: tunnel
        dest: "{{ out }}/{name}.conf"
        mode: "0640"
      check_mode: true
      diff: true
      register: checked

    - name: Two items may not write one file
      sixtunnel.openvpn.tunnel_files:
        template: tunnel.conf.j2
        items: "{{ tunnels }}"
        loop_var: tunnel
        dest: "{{ out }}/same.conf"
      register: clash
      ignore_errors: true

    - name: Check the results
      ansible.builtin.assert:
        that:
          - first.changed and first.changed_items | map(attribute='name') | list == ['a', 'b', 'c']
          - not second.changed and second.changed_items == []
          - lookup('file', out ~ '/a.conf') == lookup('file', out ~ '/reference-a.conf')
          - lookup('file', out ~ '/c.conf') == lookup('file', out ~ '/reference-c.conf')
          - third.changed_items | map(attribute='name') | list == ['b']
          - lookup('file', out ~ '/b.conf') is search('port 2000')
          - checked.changed and checked.changed_items | map(attribute='name') | list == ['c']
          - checked.diff | length == 1 and checked.diff[0].after is search('port 3000')
          - lookup('file', out ~ '/c.conf') is search('port 1196')
          - clash.failed and clash.msg is search('two items write .*/same.conf')
"""

SECRET_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: A hidden file
      sixtunnel.openvpn.tunnel_files:
        template: secret.j2
        items: [{name: hidden}]
        dest: "{{ out }}/{name}.conf"
      no_log: true
"""

FILES_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    rules: "table inet example {}\\n"
    firewall: &firewall
      - dest: "{{ out }}/etc/example/rules.nft"
        content: "{{ rules }}"
        mode: "0640"
        validate: "grep -q ^table %s"
        directory_mode: "0750"
      - dest: "{{ out }}/unit.service"
        template: unit.j2
  tasks:
    - name: First run makes the directory and writes every file
      sixtunnel.openvpn.tunnel_files:
        files: *firewall
        mode: "0644"
      register: first

    - name: Second run changes nothing
      sixtunnel.openvpn.tunnel_files:
        files: *firewall
        mode: "0644"
      register: second

    - name: The builtin template module renders the same bytes
      ansible.builtin.template:
        src: unit.j2
        dest: "{{ out }}/reference.service"
        mode: "0644"

    - name: Content the check refuses is not written
      sixtunnel.openvpn.tunnel_files:
        files:
          - dest: "{{ out }}/etc/example/rules.nft"
            content: "flush ruleset\\n"
            validate: "grep -q ^table %s"
      register: refused
      ignore_errors: true

    - name: Check mode reports a change with its diff and writes nothing
      sixtunnel.openvpn.tunnel_files:
        files:
          - dest: "{{ out }}/etc/example/rules.nft"
            content: "table inet other {}\\n"
            mode: "0640"
            validate: "grep -q ^table %s"
      check_mode: true
      diff: true
      register: checked

    - name: A file needs a template or a content, not both
      sixtunnel.openvpn.tunnel_files:
        files:
          - {dest: "{{ out }}/both", template: unit.j2, content: x}
      register: both
      ignore_errors: true

    - name: Two files may not write one path
      sixtunnel.openvpn.tunnel_files:
        files:
          - {dest: "{{ out }}/same", content: x}
          - {dest: "{{ out }}/same", content: y}
      register: clash
      ignore_errors: true

    - name: Check the results
      ansible.builtin.assert:
        that:
          - first.changed and first.changed_files | length == 2
          - >-
            first.changed_items[0] == {'dest': out ~ '/etc/example/rules.nft', 'mode': '0640',
                                       'validate': 'grep -q ^table %s', 'directory_mode': '0750'}
          - "first.changed_items[1] == {'dest': out ~ '/unit.service', 'template': 'unit.j2'}"
          - not second.changed and second.changed_items == []
          - lookup('file', out ~ '/unit.service', rstrip=false) == lookup('file', out ~ '/reference.service', rstrip=false)
          - lookup('file', out ~ '/etc/example/rules.nft', rstrip=false) == rules
          - refused.failed and refused.msg is search('refused the new content .exit 1., the old file is kept')
          - lookup('file', out ~ '/etc/example/rules.nft', rstrip=false) == rules
          - checked.changed and checked.diff | length == 1
          - checked.diff[0].before == rules and checked.diff[0].after == 'table inet other {}\\n'
          - both.failed and both.msg is search('files.0. .*both. needs either template or content')
          - clash.failed and clash.msg is search('two files write .*/same')
"""

BAD_TASKS_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The two forms do not mix
      sixtunnel.openvpn.tunnel_files:
        template: secret.j2
        items: [{name: a}]
        dest: "{{ out }}/{name}.conf"
        files: [{dest: "{{ out }}/a.conf", content: x}]
      register: mixed
      ignore_errors: true

    - name: A required option is missing
      sixtunnel.openvpn.tunnel_files:
        template: secret.j2
        items: [{name: a}]
      register: missing
      ignore_errors: true

    - name: No form at all
      sixtunnel.openvpn.tunnel_files:
        mode: "0640"
      register: neither
      ignore_errors: true

    - name: An option the task does not know
      sixtunnel.openvpn.tunnel_files:
        files: [{dest: "{{ out }}/a.conf", content: x}]
        before: {}
      register: unknown
      ignore_errors: true

    - name: Check the results
      ansible.builtin.assert:
        that:
          - "mixed.failed and mixed.msg is search('mutually exclusive: files.template')"
          - "missing.failed and missing.msg is search('parameters are required together: template, items, dest')"
          - "neither.failed and neither.msg is search('one of the following is required: files, template')"
          - "unknown.failed and unknown.msg == 'Invalid options for sixtunnel.openvpn.tunnel_files: before'"
"""


def ansible_playbook(directory: Path, playbook: str, *extra: str) -> subprocess.CompletedProcess:
    (directory / "play.yml").write_text(playbook)
    env = dict(
        os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT), ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="1"
    )
    # The one beside this Python (its virtualenv, on PATH or not), else the one on PATH: `ansible-test units --venv`
    # installs no Ansible in its virtualenv but puts Ansible's command-line tools in a directory of their own.
    beside = Path(sys.executable).parent / "ansible-playbook"
    command = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    argv = [command, "-i", "localhost,", "-c", "local", "-e", f"out={directory}/out"]
    argv += ["-e", f"ansible_python_interpreter={sys.executable}", *extra, str(directory / "play.yml")]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=directory, check=False)


@pytest.fixture
def playdir(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "tunnel.conf.j2").write_text(TEMPLATE)
    (tmp_path / "templates" / "secret.j2").write_text("the-content-{{ item.name }}\n")
    (tmp_path / "templates" / "unit.j2").write_text("{{ ansible_managed | comment }}\n[Service]\nExecStart=/bin/true\n")
    (tmp_path / "out").mkdir()
    return tmp_path


def test_renders_writes_and_reports_changed_items(playdir):
    result = ansible_playbook(playdir, PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (playdir / "out" / "a.conf").read_text().endswith("port 1194\nroute 2001:db8::/64\nroute 2001:db8:1::/64\n")


def test_files_form_makes_directories_validates_and_reports_changed_entries(playdir):
    result = ansible_playbook(playdir, FILES_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert oct((playdir / "out" / "etc" / "example").stat().st_mode & 0o777) == "0o750"
    assert oct((playdir / "out" / "etc" / "example" / "rules.nft").stat().st_mode & 0o777) == "0o640"
    assert oct((playdir / "out" / "unit.service").stat().st_mode & 0o777) == "0o644"


def test_no_log_hides_content_even_with_diff_and_verbosity(playdir):
    result = ansible_playbook(playdir, SECRET_PLAYBOOK, "--diff", "-vvv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (playdir / "out" / "hidden.conf").read_text() == "the-content-hidden\n"
    assert "the-content" not in result.stdout + result.stderr


def test_validates_the_shared_task_spec():
    assert tunnel_files.ARGUMENT_SPEC == _tunnel_files.task_argument_spec()
    assert tunnel_files.ActionModule._VALID_ARGS == frozenset(_tunnel_files.task_argument_spec())


def test_refuses_internal_and_missing_options(playdir):
    result = ansible_playbook(playdir, BAD_TASKS_PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (playdir / "out" / "a.conf").exists()
