"""Composition root: settings, storage, engine, CDS Hooks service, pages and the CLI."""


class CdsAppError(Exception):
    """Root exception of the CDS application."""
