"""The execution summary on the contract page: contracts' template loads this tag, contracts' code never
imports execution (imports flow contracts ← execution)."""

from django import template
from django.utils import timezone

from execution import selectors, services, workflow

register = template.Library()


@register.inclusion_tag("execution/includes/summary.html")
def execution_summary(contract):
    executable = contract.status in workflow.EXECUTABLE
    return {
        "contract": contract,
        "executable": executable,
        "figures": selectors.contract_figures(contract) if executable else None,
        "vigilance": services.vigilance_state(contract, timezone.localdate()) if executable else None,
    }
