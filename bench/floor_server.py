"""The compute floor of a patient-view call: a minimal server doing only the work itself.

FastAPI + orjson + the prefetch mapped to a 48-hour array + a 2-layer GRU forward + a constant
card: no JWT, no database, no drivers, no validation beyond what the mapping needs. The body is
parsed with ``orjson.loads``, each Observation's first LOINC coding picks its variable, its
``effectiveDateTime`` its hour, and the values fill a ``(48, V)`` array (plus its observed mask)
that a GRU (2 layers, hidden 64, one thread: what ``ventfusion serve`` uses) reads. The work runs
in the thread pool, as VentFusion's route does. ``gc.freeze()`` after start-up, as the app does.

    .venv/bin/python bench/floor_server.py --port 18401

``bench/bench_hooks.py --floor`` starts it beside ``ventfusion serve`` and drives both.
"""

from __future__ import annotations

import argparse
import gc
from datetime import datetime, timedelta

import numpy as np
import orjson
import torch
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from model.variables import BY_NAME

HOURS = 48
VARIABLES = list(BY_NAME)
INDEX = {code: i for i, spec in enumerate(BY_NAME.values()) for code in spec.loinc}
CARD = orjson.dumps(
    {
        "cards": [
            {
                "summary": "Risk of invasive ventilation within 24 h: floor",
                "indicator": "info",
                "source": {"label": "floor"},
            }
        ]
    }
)


class Floor(torch.nn.Module):
    def __init__(self, n_vars: int) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(2 * n_vars, 64, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return torch.sigmoid(self.head(out[:, -1]))


NET = Floor(len(VARIABLES)).eval()


def grid(body: bytes, now: datetime) -> np.ndarray:
    """The prefetch's Observations as ``(48, 2V)``: hourly values (last wins) and the mask."""
    values = np.zeros((HOURS, len(VARIABLES)), np.float32)
    seen = np.zeros((HOURS, len(VARIABLES)), np.float32)
    start = now - timedelta(hours=HOURS)
    for name, value in orjson.loads(body)["prefetch"].items():
        if name == "patient" or not value:
            continue
        for entry in value.get("entry", ()):
            obs = entry["resource"]
            index = INDEX.get(obs["code"]["coding"][0]["code"])
            if index is None or "valueQuantity" not in obs:
                continue
            hour = int((datetime.fromisoformat(obs["effectiveDateTime"]) - start).total_seconds()
                       // 3600)  # fmt: skip
            if 0 <= hour < HOURS:
                values[hour, index] = obs["valueQuantity"]["value"]
                seen[hour, index] = 1.0
    return np.concatenate([values, seen], axis=1)


@torch.no_grad()
def score(body: bytes) -> bytes:
    x = torch.from_numpy(grid(body, datetime.now().astimezone()))[None]
    float(NET(x)[0, 0])
    return CARD


app = FastAPI()


@app.get("/readyz")
def ready() -> dict[str, bool]:
    return {"ready": True}


@app.post("/cds-services/{service_id}")
async def patient_view(service_id: str, request: Request) -> Response:
    body = await request.body()
    return Response(await run_in_threadpool(score, body), media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
