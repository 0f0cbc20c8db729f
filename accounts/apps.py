from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.middleware import IdleSessionMiddleware

        user_logged_in.connect(IdleSessionMiddleware.mark_login, dispatch_uid="accounts.idle_session_login")
