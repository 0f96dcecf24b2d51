"""Spool claims in the database, so several listener processes can share one DICOM spool.

Implements ``dicom_listener.claims.ClaimStore``. A claim is a row of ``spool_claims``; taking it
locks the row with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two processes never both
see it free: the loser skips the locked row and reports the instance as taken. A finished
instance stays ``done`` (never processed again); a claim whose holder died expires after its lease.
SQLite runs the same statements without row locks (one process per database there).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cds_app.db.types import utcnow
from cds_app.scaleout.tables import spool_claims

DEFAULT_LEASE_S = 600.0


def default_holder() -> str:
    """``host:pid`` of this process (names the claim holder in the table)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class PgSpoolClaims:
    """``ClaimStore`` on the ``spool_claims`` table (shared by every listener replica)."""

    def __init__(
        self, engine: Engine, *, holder: str | None = None, lease_s: float = DEFAULT_LEASE_S
    ) -> None:
        self._engine = engine
        self._holder = holder or default_holder()
        self._lease = timedelta(seconds=lease_s)

    @property
    def holder(self) -> str:
        """The name this process claims under."""
        return self._holder

    def try_claim(self, uid: str) -> bool:
        """Take the instance; False if it is done, or claimed (and leased) by another process."""
        now = utcnow()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(spool_claims.c.status, spool_claims.c.holder, spool_claims.c.lease_until)
                .where(spool_claims.c.uid == uid)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return self._insert_claim(conn, uid, now)
            status, holder, lease_until = row
            if status == "done":
                return False
            if status == "claimed" and holder != self._holder and lease_until > now:
                return False
            conn.execute(
                update(spool_claims)
                .where(spool_claims.c.uid == uid)
                .values(
                    status="claimed",
                    holder=self._holder,
                    lease_until=now + self._lease,
                    attempts=spool_claims.c.attempts + 1,
                    updated_at=now,
                )
            )
            return True

    def _insert_claim(self, conn: Connection, uid: str, now: datetime) -> bool:
        """No visible row: absent (insert it) or locked by a sibling (the insert then fails)."""
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(spool_claims).values(
                        uid=uid,
                        status="claimed",
                        holder=self._holder,
                        lease_until=now + self._lease,
                        attempts=1,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _settle(self, uid: str, status: str) -> None:
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(
                update(spool_claims)
                .where(spool_claims.c.uid == uid)
                .where(spool_claims.c.holder == self._holder)
                .values(status=status, lease_until=now, updated_at=now)
            )

    def complete(self, uid: str) -> None:
        """The instance is finished: nobody processes it again."""
        self._settle(uid, "done")

    def release(self, uid: str) -> None:
        """Processing failed transiently: any replica may claim it again."""
        self._settle(uid, "released")

    def status(self, uid: str) -> str | None:
        """``claimed`` / ``released`` / ``done``, or None when never claimed."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(spool_claims.c.status).where(spool_claims.c.uid == uid)
            ).scalar()
        return None if value is None else str(value)

    def purge_done(self, older_than: timedelta) -> int:
        """Forget finished instances settled more than ``older_than`` ago; return how many."""
        cutoff = utcnow() - older_than
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(spool_claims)
                .where(spool_claims.c.status == "done")
                .where(spool_claims.c.updated_at < cutoff)
            )
        return int(result.rowcount)
