"""Print the case and contract workflows as Mermaid state diagrams, generated from the FSM transitions.

`--check README.md` fails when the README's copy (between the workflow markers) is stale;
`--write README.md` refreshes it.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from contracts.models import Contract
from procurement.models import PurchaseCase

START_MARKER = "<!-- workflow:start -->"
END_MARKER = "<!-- workflow:end -->"


def _value(state) -> str:
    return str(getattr(state, "value", state))


def state_diagram(model) -> str:
    """Mermaid `stateDiagram-v2` text for the `status` field of `model`, in a stable order."""
    field = model._meta.get_field("status")
    states = [value for value, _label in field.choices]
    labels = {value: str(label) for value, label in field.choices}
    order = {value: index for index, value in enumerate(states)}
    edges = set()
    for transition in field.get_all_transitions(model):
        sources = transition.source
        if sources == "*" or sources == "+":
            sources = states
        elif isinstance(sources, str) or not hasattr(sources, "__iter__"):
            sources = [sources]
        for source in sources:
            source = _value(source)
            target = _value(transition.target) if transition.target is not None else source
            edges.add((source, target, transition.name))
    ordered = sorted(edges, key=lambda e: (order.get(e[0], len(states)), order.get(e[1], len(states)), e[2]))
    with_outgoing = {source for source, _target, _name in edges}
    lines = ["stateDiagram-v2", f"    [*] --> {_value(field.default)}"]
    lines += [f"    {state}: {labels[state]}" for state in states]
    lines += [f"    {source} --> {target}: {name}" for source, target, name in ordered]
    lines += [f"    {state} --> [*]" for state in states if state not in with_outgoing]
    return "\n".join(lines)


def workflow_markdown() -> str:
    """The README block: both diagrams, each in a fenced Mermaid code block."""
    with translation.override("en"):
        parts = []
        for title, model in (("Purchase case", PurchaseCase), ("Contract", Contract)):
            parts.append(f"#### {title}\n\n```mermaid\n{state_diagram(model)}\n```")
        return "\n\n".join(parts)


def readme_block(text: str) -> str:
    start = text.find(START_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < start:
        raise CommandError(f"Markers {START_MARKER} … {END_MARKER} not found.")
    return text[start + len(START_MARKER) : end].strip("\n")


def replace_block(text: str, block: str) -> str:
    start = text.find(START_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < start:
        raise CommandError(f"Markers {START_MARKER} … {END_MARKER} not found.")
    return f"{text[: start + len(START_MARKER)]}\n{block}\n{text[end:]}"


class Command(BaseCommand):
    help = "Print the workflows as Mermaid diagrams; --check or --write the README copy."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--check", metavar="FILE", help="Exit non-zero if FILE's workflow block is stale.")
        group.add_argument("--write", metavar="FILE", help="Rewrite FILE's workflow block.")

    def handle(self, *args, **options):
        block = workflow_markdown()
        if options["check"]:
            path = Path(options["check"])
            if readme_block(path.read_text(encoding="utf-8")) != block:
                raise CommandError(
                    f"The workflow diagram in {path} is stale: run `manage.py workflow_diagram --write {path}`."
                )
            self.stdout.write(f"{path}: workflow diagram up to date.")
        elif options["write"]:
            path = Path(options["write"])
            text = path.read_text(encoding="utf-8")
            updated = replace_block(text, block)
            if updated != text:
                path.write_text(updated, encoding="utf-8")
                self.stdout.write(f"{path}: workflow diagram rewritten.")
            else:
                self.stdout.write(f"{path}: workflow diagram already up to date.")
        else:
            self.stdout.write(block)
