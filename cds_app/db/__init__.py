"""Storage: SQLModel tables, engine/session helpers, Alembic migrations and repositories."""
