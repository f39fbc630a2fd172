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

BAD_TASKS_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The internal option is not for tasks
      sixtunnel.openvpn.tunnel_files:
        template: secret.j2
        items: [{name: a}]
        dest: "{{ out }}/{name}.conf"
        files: [{dest: "{{ out }}/a.conf", content: x}]
      register: internal
      ignore_errors: true

    - name: A required option is missing
      sixtunnel.openvpn.tunnel_files:
        template: secret.j2
        items: [{name: a}]
      register: missing
      ignore_errors: true

    - name: Check the results
      ansible.builtin.assert:
        that:
          - "internal.failed and internal.msg == 'Invalid options for sixtunnel.openvpn.tunnel_files: files'"
          - "missing.failed and missing.msg is search('missing required arguments: dest')"
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
    (tmp_path / "out").mkdir()
    return tmp_path


def test_renders_writes_and_reports_changed_items(playdir):
    result = ansible_playbook(playdir, PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (playdir / "out" / "a.conf").read_text().endswith("port 1194\nroute 2001:db8::/64\nroute 2001:db8:1::/64\n")


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
