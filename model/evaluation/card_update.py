"""Write held-out evaluation results into a checkpoint's model card (weights untouched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.checkpoint import load_checkpoint, save_checkpoint


def attach_evaluation(checkpoint: Path, report: dict[str, Any], model_name: str = "gated") -> str:
    """Add the test metrics and the bedside-rule comparison of ``model_name`` to the card of
    ``checkpoint``, re-save it, and return the card as Markdown."""
    ckpt = load_checkpoint(checkpoint)
    sections = report["sections"]
    disc = sections["discrimination"]["models"].get(model_name)
    if disc is not None:
        ckpt.card.metrics["test_auroc"] = float(disc["auroc"]["estimate"])
        ckpt.card.metrics["test_auprc"] = float(disc["auprc"]["estimate"])
    cal = sections.get("calibration", {}).get(model_name)
    if cal is not None and cal.get("ece") is not None:
        ckpt.card.metrics["test_ece"] = float(cal["ece"])
    summary = sections.get("clinical_comparators", {}).get("model_card_summary")
    if summary:
        ckpt.card.comparison = str(summary)
    ckpt.card.limitations = [
        *[x for x in ckpt.card.limitations if not x.startswith("Test metrics")],
        f"Test metrics are from the synthetic held-out cohort {report['data']['cohort']!r} "
        f"({report['data']['windows']} windows, {report['data']['patients']} patients).",
    ]
    save_checkpoint(ckpt, checkpoint)
    return ckpt.card.to_markdown()
