from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("Incorrect username or password. Both fields are case-sensitive."),
        "inactive": _("This account is inactive."),
    }
