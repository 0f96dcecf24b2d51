"""Alembic migrations of the VentFusion database (run at start-up by ``migrate``)."""
