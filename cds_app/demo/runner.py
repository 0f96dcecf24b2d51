"""`ventfusion demo`: the app on loopback, a demo EHR, a simulated ward, cards on the console."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx

from cds_app.app import create_app
from cds_app.demo.ehr_server import DemoEhrKey, FhirStore, build_ehr_app
from cds_app.demo.servers import free_port, running_server
from cds_app.demo.transport import fire_patient_view, notification, send_films
from cds_app.demo.ward import Ward, prefetch_for
from cds_app.settings import Settings
from model.cohort import read_cohort
from model.synth import SynthConfig, simulate

log = logging.getLogger(__name__)
Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    patients: int = 6
    live_hours: int = 8
    step_s: float = 6.0
    duration_s: float | None = None  # stop after this long (None: after the live hours, serve on)
    once: bool = False  # stop right after the live hours
    seed: int = 7


@dataclass
class DemoReport:
    """What happened (for tests and the final console line)."""

    base_url: str = ""
    page_urls: dict[str, str] = field(default_factory=dict)
    observations: int = 0
    films_sent: int = 0
    hooks: int = 0
    cards: list[tuple[str, str, str]] = field(default_factory=list)  # (patient, indicator, summary)
    risk_assessments_written: int = 0


def demo_settings(base: Settings, work: Path, ehr_base: str, jwks: Path, iss: str) -> Settings:
    """The app settings of a demo run: loopback, SQLite in ``work``, the demo EHR trusted."""
    data = base.model_dump()
    data.update(
        host="127.0.0.1",
        public_base_url="",
        database_url=f"sqlite:///{work / 'demo.sqlite3'}",
        data_dir=str(work),
    )
    data["hooks"] = {**data["hooks"], "insecure": False, "demo": True, "low_risk_card": True,
                     "trusted_issuers": {iss: str(jwks)}}  # fmt: skip
    data["fhir"] = {**data["fhir"], "base_url": f"{ehr_base}/fhir", "auth": "none",
                    "write_back": True, "notification_secret": ""}  # fmt: skip
    data["dicom"] = {**data["dicom"], "enabled": True, "bind": "127.0.0.1",
                     "port": free_port(), "spool_dir": str(work / "spool")}  # fmt: skip
    data["model"] = {**data["model"], "debounce_s": 0.5}
    data["worker"] = {**data["worker"], "enabled": True, "poll_s": 1.0}
    return Settings.model_validate(data)


def run_demo(base: Settings, options: DemoOptions, say: Say) -> DemoReport:
    """Run the whole demo; returns when done (``once``/``duration_s``) or on Ctrl-C."""
    report = DemoReport()
    work = base.data_dir / "demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    say(f"simulating a ward of {options.patients} patients (synthetic data) ...")
    config = SynthConfig(patients=max(options.patients * 3, 12), seed=options.seed, film_size=256)
    simulate(config, work / "cohort")
    ward = Ward(read_cohort(work / "cohort"), size=options.patients,
                live_h=options.live_hours, step_s=options.step_s)  # fmt: skip
    store = FhirStore()
    for wp in ward.patients:
        store.put(wp.fhir)
    started = time.monotonic()
    with ExitStack() as stack:
        ehr_base = stack.enter_context(running_server(build_ehr_app(store)))
        key = DemoEhrKey(issuer=f"{ehr_base}/fhir")
        jwks = key.write_jwks(work / "demo-ehr-jwks.json")
        settings = demo_settings(base, work, ehr_base, jwks, key.issuer)
        app = create_app(settings)
        base_url = stack.enter_context(running_server(app, base.port or None))
        report.base_url = base_url
        settings = settings.model_copy(update={"port": int(base_url.rsplit(":", 1)[1])})
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=30))
        say(f"VentFusion is up at {base_url} (CDS Hooks discovery: {base_url}/cds-services)")
        for wp in ward.patients:
            url = f"{base_url}/risk?key={quote(wp.key)}"
            report.page_urls[wp.fhir_id] = url
            course = "ventilated later" if wp.ventilated else "stable"
            say(f"  risk page of {wp.fhir_id} ({course}): {url}")
        events = 0

        def publish(observations: list[dict[str, object]], datasets: list[object]) -> None:
            nonlocal events
            refs = [f"Observation/{store.put(o)['id']}" for o in observations]
            for i in range(0, len(refs), 200):
                chunk = refs[i : i + 200]
                body = notification(chunk, "Subscription/demo-ward", events + 1)
                events += len(chunk)
                response = client.post(
                    "/fhir/notifications",
                    json=body,
                    headers={"Content-Type": "application/fhir+json"},
                )
                if response.status_code >= 300:
                    say(f"  notification answered {response.status_code}: {response.text[:200]}")
            report.observations += len(refs)
            report.films_sent += send_films(datasets, settings.dicom.port, settings.dicom.ae_title)

        history = ward.history(datetime.now(UTC))
        say(f"backfilling 48 h: {len(history.observations)} Observations, "
            f"{len(history.films)} chest films ...")  # fmt: skip
        publish(history.observations, [ds for _, ds in history.films])
        for hour in range(1, options.live_hours + 1):
            if options.duration_s and time.monotonic() - started > options.duration_s:
                break
            step = ward.step(hour, datetime.now(UTC))
            publish(step.observations, [ds for _, ds in step.films])
            say(f"-- live hour {hour}/{options.live_hours}: {len(step.observations)} Observations, "
                f"{len(step.films)} films")  # fmt: skip
            _fire_hooks(client, base_url, key, store, ward, report, say)
            time.sleep(options.step_s)
        report.risk_assessments_written = sum(
            1 for ref in store.writes if ref.startswith("RiskAssessment/")
        )
        say(f"{report.risk_assessments_written} RiskAssessments written back to the demo EHR")
        if not options.once:
            remaining = (options.duration_s or float("inf")) - (time.monotonic() - started)
            say("serving; open the risk pages above (Ctrl-C to stop)")
            with suppress(KeyboardInterrupt):
                time.sleep(max(0.0, min(remaining, 10**9)))
    return report


def _fire_hooks(
    client: httpx.Client,
    base_url: str,
    key: DemoEhrKey,
    store: FhirStore,
    ward: Ward,
    report: DemoReport,
    say: Say,
) -> None:
    since = datetime.now(UTC) - timedelta(hours=48)
    observations = store.all("Observation")
    for wp in ward.patients:
        response = fire_patient_view(
            client, base_url, key, wp.fhir_id, prefetch_for(observations, wp.fhir, since)
        )
        report.hooks += 1
        if response.status_code != 200:
            say(f"  {wp.fhir_id}: hook answered {response.status_code} {response.text[:200]}")
            continue
        for card in response.json()["cards"]:
            report.cards.append((wp.fhir_id, card["indicator"], card["summary"]))
            say(f"  [{card['indicator']:>8}] {wp.fhir_id}: {card['summary']}")
