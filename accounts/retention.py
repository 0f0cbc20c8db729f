"""Records kept for the audit: the documents of a procurement are kept (CCP R2184-12), so the rows that make up
a case file are never hard-deleted. A case is cancelled, a contract withdrawn, a document replaced by a newer
version: the earlier rows and their files stay, and the ORM refuses to delete them.

A model opts in with the `Retained` mixin and a `RetainedQuerySet` manager; `retention_hint` tells the
developer or administrator what to do instead. Cascades cannot reach these rows either: every foreign key to
them is `PROTECT`.
"""

from django.db import models


def _refusal(model) -> str:
    name = str(model._meta.verbose_name_plural)
    hint = getattr(model, "retention_hint", "")
    return f"{name[:1].upper()}{name[1:]} are kept for the audit (R2184-12) and never deleted" + (
        f": {hint}." if hint else "."
    )


class RetainedQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError(_refusal(self.model))

    delete.alters_data = True
    delete.queryset_only = True


class Retained:
    """Model mixin: `instance.delete()` raises PermissionError (QuerySet.delete goes through RetainedQuerySet)."""

    retention_hint = ""

    def delete(self, *args, **kwargs):
        raise PermissionError(_refusal(type(self)))

    delete.alters_data = True
