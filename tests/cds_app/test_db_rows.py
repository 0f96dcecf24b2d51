"""Rows inserted as plain column values (``new_row``) write what the ORM rows would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cds_app.db.session import insert_rows, make_engine, migrate, new_row, row_values, table_of
from cds_app.db.tables import AuditRow, IssuedCardRow, OutboxRow

STAMP = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (AuditRow, {"actor": "a", "action": "card-viewed", "patient_key": "k", "detail": "d"}),
        (OutboxRow, {"kind": "risk", "dedup_key": "dk", "payload": {"p": 1}}),
        (IssuedCardRow, {"uuid": "u1", "service_id": "s", "hook_instance": "h",
                         "patient_key": "k", "prediction_id": 3, "issuer": "i"}),
    ],
)  # fmt: skip
def test_new_row_has_the_orm_rows_columns_and_defaults(
    model: type[AuditRow | OutboxRow | IssuedCardRow], values: dict[str, object]
) -> None:
    fresh = new_row(model, **values).values
    orm = row_values(model(**values))
    assert fresh.keys() == orm.keys()
    for key, value in orm.items():
        if isinstance(value, datetime):  # default_factory=utcnow: called for each row
            assert isinstance(fresh[key], datetime)
        else:
            assert fresh[key] == value
    assert "id" not in fresh  # the database numbers the row


def test_new_row_keeps_given_values_and_calls_factories_per_row() -> None:
    first = new_row(IssuedCardRow, uuid="a", service_id="s", hook_instance="h", patient_key="k",
                    prediction_id=1, issuer="i", issued_at=STAMP)  # fmt: skip
    second = new_row(IssuedCardRow, uuid="b", service_id="s", hook_instance="h",
                     patient_key="k", prediction_id=1, issuer="i")  # fmt: skip
    assert first.values["issued_at"] == STAMP
    first.values["suggestion_uuids"].append("x")
    assert second.values["suggestion_uuids"] == []  # a new list, not a shared default


def test_insert_rows_mixes_plain_and_orm_rows_in_one_transaction(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as connection:
        insert_rows(connection, [
            new_row(AuditRow, actor="a", action="x", patient_key="k", detail="plain"),
            AuditRow(actor="a", action="x", patient_key="k", detail="orm"),
        ])  # fmt: skip
    with engine.connect() as connection:
        details = connection.execute(select(table_of(AuditRow).c.detail)).scalars().all()
    assert sorted(details) == ["orm", "plain"]
    row = new_row(OutboxRow, kind="risk", dedup_key="same", payload={})
    with engine.begin() as connection:
        insert_rows(connection, [row])
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_rows(connection, [new_row(OutboxRow, kind="risk", dedup_key="same", payload={})])
    engine.dispose()
