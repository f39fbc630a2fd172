# Copyright (c) 2026, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for OpenVPN's management interface on a Unix socket, for the modules that talk to it."""

from __future__ import annotations

import socket
import threading

import pytest

GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info"


class FakeManagement:
    """A Unix socket that greets as OpenVPN does, answers each command with ``answer(command)`` (a list of lines;
    None: OpenVPN's ERROR line for an unknown command), and records the commands. One client, as OpenVPN serves."""

    def __init__(self, path, answer):
        self.commands = []
        self._answer = answer
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        connection, _address = self._server.accept()
        with connection, connection.makefile("rwb") as stream:
            stream.write(GREETING.encode() + b"\r\n")
            stream.flush()
            for raw in stream:
                command = raw.decode().strip()
                self.commands.append(command)
                lines = self._answer(command)
                if lines is None:
                    lines = [f"ERROR: unknown command [{command}]"]
                stream.write("".join(line + "\r\n" for line in lines).encode())
                stream.flush()

    def close(self):
        self._server.close()


@pytest.fixture
def fake_management():
    """fake_management(path, answer) starts a FakeManagement; each is closed after the test."""
    started = []

    def start(path, answer):
        fake = FakeManagement(path, answer)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.close()
