"""Prometheus metrics of one app instance (own registry: no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    """The counters and histograms the app updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.hook_calls = Counter(
            "ventfusion_hook_calls",
            "CDS Hooks calls by endpoint and HTTP status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.hook_latency = Histogram(
            "ventfusion_hook_latency_seconds",
            "patient-view handling time",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "ventfusion_auth_failures", "Rejected JWTs", registry=self.registry
        )
        self.cards = Counter(
            "ventfusion_cards", "Cards returned by indicator", ["indicator"], registry=self.registry
        )
        self.feedback = Counter(
            "ventfusion_feedback", "Card feedback by outcome", ["outcome"], registry=self.registry
        )

        self.body_bytes = Counter(
            "ventfusion_request_body_bytes",
            "Request body bytes read from clients, by endpoint",
            ["endpoint"],
            registry=self.registry,
        )
        self.body_refused = Counter(
            "ventfusion_request_body_refused",
            "Requests refused with 413 (body over the endpoint's limit), by endpoint",
            ["endpoint"],
            registry=self.registry,
        )
        self.read_api_refusals = Counter(
            "ventfusion_read_api_refusals",
            "Read-only FHIR API requests refused, by HTTP status",
            ["status"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
