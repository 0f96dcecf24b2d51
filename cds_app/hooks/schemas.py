"""CDS Hooks 2.0 response models (requests: ``requests``; storage has its own tables).

Optional fields default to None and responses are serialised with ``exclude_none`` so that no
null or empty optional field ever reaches the CDS Client.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Coding(_Wire):
    code: str
    system: str | None = None
    display: str | None = None


class Source(_Wire):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None  # noqa: N815 (wire name)


class Suggestion(_Wire):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None  # noqa: N815
    actions: list[Action] | None = Field(default=None, min_length=1)


class Link(_Wire):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None  # noqa: N815
    autolaunchable: bool | None = None


class Card(_Wire):
    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = Field(default=None, min_length=1)
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815
    overrideReasons: list[Coding] | None = Field(default=None, min_length=1)  # noqa: N815
    links: list[Link] | None = Field(default=None, min_length=1)


class CdsResponse(_Wire):
    cards: list[Card]
    systemActions: list[Action] | None = Field(default=None, min_length=1)  # noqa: N815


class ServiceDefinition(_Wire):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815


class Discovery(_Wire):
    services: list[ServiceDefinition]


class ErrorBody(BaseModel):
    error: str
    error_description: str
