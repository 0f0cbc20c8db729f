"""The status of a case or a contract changes only through transitions, run by services."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["accounts", "notifications", "suppliers", "procurement", "contracts", "execution", "dashboard", "config"]


def _python_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def _status_writes(tree: ast.AST):
    """Yield line numbers where code assigns `.status = …`, or passes status= to update()/create()."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    yield node.lineno
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in {"update", "create", "bulk_create", "get_or_create", "update_or_create"}:
                if any(keyword.arg == "status" for keyword in node.keywords):
                    yield node.lineno


# Rows that are not state machines may set their own plain status (outbox rows, documents).
ALLOWED = {
    ("contracts", "documents.py"),  # ContractDocument.status: pending → rendered (outbox row, not an FSM)
    ("contracts", "signing.py"),  # SignedDocument.status: pending → signed/failed (outbox row, not an FSM)
}


def test_no_status_assignment_outside_transitions():
    offenders = []
    for path in _python_files():
        key = (path.relative_to(ROOT).parts[0], path.name)
        if key in ALLOWED:
            continue
        for line in _status_writes(ast.parse(path.read_text(), filename=str(path))):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == [], "status assigned outside a transition: " + ", ".join(offenders)


@pytest.mark.parametrize(
    "model_path", ["procurement.models.PurchaseCase", "contracts.models.Contract", "execution.models.Reception"]
)
def test_status_is_protected(model_path):
    module_name, _, class_name = model_path.rpartition(".")
    module = __import__(module_name, fromlist=[class_name])
    field = getattr(module, class_name)._meta.get_field("status")
    assert field.protected is True
