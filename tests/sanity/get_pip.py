# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Stand-in for the pip bootstrap script (get-pip.py) that ansible-test downloads from ci-files.testing.ansible.com.

ansible-test makes each sanity test's virtual environment without pip, then runs this script in it to put pip
there; that host is not reachable from here, PyPI is. So: the interpreter's own bundled pip (ensurepip, no
network), which then installs the pip version ansible-test asked for. ``make sanity`` copies this file to
``~/.ansible/test/cache/get_pip_<version>.py``, where ansible-test looks before downloading.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that plain ``pip install`` does not know: ansible-test asks for neither package.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main() -> None:
    """Install pip from the interpreter, then the pip ansible-test asked for (for example ``pip==24.2``)."""
    # Each in a process of its own: ensurepip points PIP_CONFIG_FILE at /dev/null in its process's environment,
    # and the second pip needs this host's pip configuration (its certificate authority).
    subprocess.run([sys.executable, "-m", "ensurepip"], check=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)


if __name__ == "__main__":
    main()
