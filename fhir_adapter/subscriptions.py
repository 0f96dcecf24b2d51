"""Create or ensure our Subscription on the EHR (idempotent: reuse a matching active one)."""

from __future__ import annotations

import logging
from typing import Any

from fhir_adapter.client import FhirClient
from fhir_adapter.subscription_building import subscription_matches

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
LIVE_STATUSES = frozenset({"requested", "active"})


async def ensure_subscription(client: FhirClient, wanted: JsonDict) -> tuple[str, bool]:
    """Return ``(Subscription/<id>, created)``; an existing live match is reused.

    Searches ``Subscription?url=<endpoint>`` (R4 search parameter on ``channel.endpoint``).
    A matching subscription in ``off``/``error`` state is re-activated by an update.
    """
    endpoint = str(wanted["channel"]["endpoint"])
    async for existing in client.search_objects("Subscription", {"url": endpoint}):
        if not subscription_matches(existing, wanted):
            continue
        ref = f"Subscription/{existing['id']}"
        if existing.get("status") in LIVE_STATUSES:
            return ref, False
        logger.info("%s is %s; requesting it again", ref, existing.get("status"))
        revived = dict(wanted, id=existing["id"], status="requested")
        return await client.update(revived), False
    return await client.create(wanted), True
