"""UTC columns: a time with no UTC equivalent is a clear ValueError, not an OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from cds_app.db.types import UtcDateTime


def test_times_outside_utc_are_refused_clearly() -> None:
    column = UtcDateTime()
    dialect = sqlite.dialect()
    year_one = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    with pytest.raises(ValueError, match="cannot be expressed in UTC"):
        column.process_bind_param(year_one, dialect)
    fine = datetime(2026, 3, 1, 23, 0, tzinfo=timezone(timedelta(hours=14)))
    assert column.process_bind_param(fine, dialect) == datetime(2026, 3, 1, 9, 0)
    assert column.process_result_value(datetime(2026, 3, 1, 9, 0), dialect) == datetime(
        2026, 3, 1, 9, 0, tzinfo=UTC
    )
