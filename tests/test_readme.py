"""The README's workflow diagram is generated from the transitions; a stale copy fails here."""

from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from contracts.management.commands.workflow_diagram import END_MARKER, START_MARKER, readme_block
from contracts.models import Contract
from procurement.models import PurchaseCase

README = Path(settings.BASE_DIR) / "README.md"


def _diagram() -> str:
    out = StringIO()
    call_command("workflow_diagram", stdout=out)
    return out.getvalue().strip("\n")


def test_readme_workflow_diagram_is_up_to_date():
    assert readme_block(README.read_text(encoding="utf-8")) == _diagram(), (
        "README.md is stale: run `python manage.py workflow_diagram --write README.md`"
    )


@pytest.mark.parametrize("model", [PurchaseCase, Contract])
def test_diagram_shows_every_transition(model):
    diagram = _diagram()
    assert diagram.count("stateDiagram-v2") == 2
    for transition in model._meta.get_field("status").get_all_transitions(model):
        assert f"--> {transition.target}: {transition.name}" in diagram


def test_check_fails_on_a_stale_copy_and_write_repairs_it(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START_MARKER}\nold diagram\n{END_MARKER}\n\nAfter.\n", encoding="utf-8")
    with pytest.raises(CommandError, match="stale"):
        call_command("workflow_diagram", check=str(readme), stdout=StringIO())
    call_command("workflow_diagram", write=str(readme), stdout=StringIO())
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n")
    assert text.endswith("\n\nAfter.\n")
    call_command("workflow_diagram", check=str(readme), stdout=StringIO())


def test_readme_shows_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
