"""CaseEvent is append-only: the model refuses update and delete, and on PostgreSQL so does a trigger."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from procurement.models import CaseEvent
from tests.factories import make_case


@pytest.fixture
def event(buyer):
    case = make_case(buyer, "need")
    return case.events.get(verb="create")


@pytest.mark.django_db
def test_saving_an_existing_event_is_refused(event):
    event.comment = "rewritten history"
    with pytest.raises(PermissionError):
        event.save()
    event.refresh_from_db()
    assert event.comment == ""


@pytest.mark.django_db
def test_deleting_an_event_is_refused(event):
    with pytest.raises(PermissionError):
        event.delete()
    assert CaseEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_queryset_update_and_delete_are_refused(event):
    with pytest.raises(PermissionError):
        CaseEvent.objects.filter(pk=event.pk).update(comment="x")
    with pytest.raises(PermissionError):
        CaseEvent.objects.all().delete()
    assert CaseEvent.objects.get(pk=event.pk).comment == ""


@pytest.mark.django_db
def test_record_appends(event, buyer):
    new = CaseEvent.record(case=event.case, verb="export", actor=buyer, comment="XLSX", ip="192.0.2.1")
    assert list(event.case.events.values_list("verb", flat=True)) == ["create", "export"]
    assert (new.ip, new.created_at is not None) == ("192.0.2.1", True)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE procurement_caseevent SET comment = 'rewritten' WHERE id = %s",
        "DELETE FROM procurement_caseevent WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_postgres_trigger_rejects_raw_update_and_delete(event, sql):
    assert connection.vendor == "postgresql"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    row = CaseEvent.objects.filter(pk=event.pk).values_list("comment", flat=True).get()
    assert row == ""
