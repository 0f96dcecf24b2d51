"""OperationOutcome JSON: read the server's error text, build our own for HTTP answers."""

from __future__ import annotations

from typing import Any

import orjson


def outcome_text(body: bytes) -> str:
    """The diagnostics/details of an OperationOutcome body, or '' if it is not one."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(data, dict) or data.get("resourceType") != "OperationOutcome":
        return ""
    texts: list[str] = []
    for issue in data.get("issue") or ():
        if not isinstance(issue, dict):
            continue
        details: dict[str, Any] = issue.get("details") or {}
        if not isinstance(details, dict):
            details = {}
        text = issue.get("diagnostics") or details.get("text") or issue.get("code") or ""
        texts.append(f"{issue.get('severity', 'error')}: {text}")
    return "; ".join(texts)


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """A one-issue OperationOutcome (``code`` from the FHIR issue-type value set)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }
