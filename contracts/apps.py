from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("Contracts")

    def ready(self) -> None:
        from contracts import checks, workflow  # noqa: F401  (registers the system checks)
        from procurement import workflow as case_workflow

        case_workflow.GUARDS.update(workflow.CASE_GUARDS)
