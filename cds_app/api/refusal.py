"""Refusals raised by route dependencies (authentication, authorisation) before the body is read.

A dependency that refuses a request raises ``RefusedError`` with the exact response the caller
gets (401 with ``WWW-Authenticate``, 403, …, in the body format of its API); the app answers it
as is (``install``), so the endpoint never runs and never reads the request body.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response


class RefusedError(Exception):
    """Carries the response that refuses the request."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _answer(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RefusedError):  # registered for RefusedError only
        raise exc
    return exc.response


def install(app: FastAPI) -> None:
    """Answer ``RefusedError`` with its response."""
    app.add_exception_handler(RefusedError, _answer)
