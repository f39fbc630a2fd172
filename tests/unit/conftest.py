# Copyright (c) 2024, sixtunnel.openvpn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make the checkout importable as ``ansible_collections.sixtunnel.openvpn`` without installing it.

Plugins import each other by their collection path, so the tests need a directory tree
``ansible_collections/sixtunnel/openvpn`` on sys.path. A symlink to the checkout under
``.cache/import-root`` gives that without copying, and keeps edits visible at once. A checkout that
already sits at such a path needs none: ``ansible-test units`` runs in one (make ansible-test-units)
and puts its collection loader in place itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPORT_ROOT = REPO_ROOT / ".cache" / "import-root"
COLLECTION_LINK = IMPORT_ROOT / "ansible_collections" / "sixtunnel" / "openvpn"


def _link_checkout() -> None:
    if COLLECTION_LINK.is_symlink() and COLLECTION_LINK.resolve() == REPO_ROOT:
        return
    if COLLECTION_LINK.is_symlink():
        COLLECTION_LINK.unlink()
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    # Relative, so the link survives the checkout being moved or copied.
    try:
        COLLECTION_LINK.symlink_to(os.path.relpath(REPO_ROOT, COLLECTION_LINK.parent), target_is_directory=True)
    except FileExistsError:
        # Another pytest process made it in the meantime.
        pass


if REPO_ROOT.parts[-3:] != ("ansible_collections", "sixtunnel", "openvpn"):
    _link_checkout()
    if str(IMPORT_ROOT) not in sys.path:
        sys.path.insert(0, str(IMPORT_ROOT))

# No example database in the checkout; no deadline, as the first call pays for imports.
# CI runs are derandomized so that they are reproducible.
settings.register_profile("sixtunnel", database=None, deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("sixtunnel")
