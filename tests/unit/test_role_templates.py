"""Every file the roles template says it is Ansible-managed, so an admin knows not to edit it by hand."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(REPO.glob("roles/*/templates/**/*.j2"))
MANAGED_HEADER = "{{ ansible_managed | comment"


def test_roles_have_templates():
    assert TEMPLATES, "no role templates found"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(REPO)))
def test_template_starts_with_ansible_managed(template):
    lines = template.read_text().splitlines()
    # A script keeps its shebang first; the header is the next line.
    first = lines[1] if lines[0].startswith("#!") else lines[0]
    assert first.startswith(MANAGED_HEADER), f"{template.name} starts with {first!r}"
