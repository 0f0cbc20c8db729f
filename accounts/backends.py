"""Authentication backend: Django's, reading the user's roles with the user."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import Q


class RolesWithUserBackend(ModelBackend):
    """ModelBackend whose get_user, run on every request of a logged-in user, reads the user's roles (their
    groups' names) in the same query on PostgreSQL: one query fewer on every page. The roles are read on each
    request, as before: a role withdrawn applies at the next request."""

    def get_user(self, user_id):
        if connection.vendor != "postgresql":
            return super().get_user(user_id)
        users = get_user_model()._default_manager.annotate(
            group_names=ArrayAgg("groups__name", filter=Q(groups__isnull=False), default=[])
        )
        user = users.filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        user.__dict__["role_names"] = frozenset(user.group_names)  # User.role_names, already known
        return user
