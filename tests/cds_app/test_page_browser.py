"""The risk page rendered by headless Chromium: chart and film present, screenshot checked."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cds_app.app import create_app
from cds_app.settings import Settings
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.page_data import KEY, seed_patient
from tests.support.server import free_port, running_server

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs /usr/bin/chromium"),
]


def test_risk_page_in_headless_chromium(
    sqlite_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    base_settings = make_settings(sqlite_url, demo=True)
    # The seeded film schedules a debounced rescore; on a loaded machine it could fire after the
    # seeded vital signs are stored and add a 14th point. Keep it from firing mid-test.
    settings = base_settings.model_copy(
        update={
            "public_base_url": f"http://127.0.0.1:{port}",
            "model": base_settings.model.model_copy(update={"debounce_s": 3600.0}),
        }
    )
    app = create_app(settings, model=FakeRiskModel())
    shot = tmp_path / "risk-page.png"
    with running_server(app, port) as base, sync_playwright() as p:
        seed_patient(app.state.ctx)
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{base}/risk?key={KEY}", wait_until="load")
        chart = page.locator("svg#risk-chart")
        assert chart.count() == 1
        assert page.locator("svg#risk-chart polyline#risk-line").count() == 1
        assert page.locator("svg#risk-chart circle.risk-line-point").count() == 13
        natural_width = page.eval_on_selector("#film-thumb", "img => img.naturalWidth")
        complete = page.eval_on_selector("#film-thumb", "img => img.complete")
        assert complete
        assert natural_width > 0
        assert "adds" in page.inner_text("#film-weight")
        chart_box = chart.bounding_box()
        film_box = page.locator("#film-thumb").bounding_box()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert chart_box is not None
    assert film_box is not None
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the risk line (#1f4e9e) is drawn inside the chart
    x0, y0 = int(chart_box["x"]), int(chart_box["y"])
    chart_px = pixels[y0 : y0 + int(chart_box["height"]), x0 : x0 + int(chart_box["width"])]
    line = (
        (abs(chart_px[..., 0] - 0x1F) < 30)
        & (abs(chart_px[..., 1] - 0x4E) < 30)
        & (abs(chart_px[..., 2] - 0x9E) < 30)
    )
    assert line.sum() > 500
    # the film shows a radiograph: many grey levels, neither blank nor uniform
    fx, fy = int(film_box["x"]), int(film_box["y"])
    film_px = pixels[fy : fy + int(film_box["height"]), fx : fx + int(film_box["width"])]
    grey = film_px.mean(axis=2)
    assert grey.std() > 20
    assert len(np.unique(grey.astype(int))) > 64
