"""Real uvicorn servers for tests (the same helper the demo uses)."""

from __future__ import annotations

from cds_app.demo.servers import free_port, running_server

__all__ = ["free_port", "running_server"]
