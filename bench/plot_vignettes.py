"""Risk against severity for several histories: the bundled model on the clinical vignettes.

Left: every value moves in a straight line from normal (``model.shapley.NORMAL_VALUES``) to the
extreme state of issue 21 (RR 42, SpO2 85% on FiO2 100% at 50 L/min, HR 130, SBP 95, GCS 12);
right: the SpO2 ladder at FiO2 60% / 40 L/min. One line per history (``model.vignettes``), the
card's warning and critical thresholds dashed. Prints the values as a Markdown table.

    .venv/bin/python bench/plot_vignettes.py [--checkpoint PT] [--out docs/vignettes.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from model.comparators.rules import rox_index
from model.predictor import Predictor
from model.shapley import NORMAL_VALUES
from model.vignettes import EXTREME, HISTORIES, LADDERS, Vignette

STEPS = np.linspace(0.0, 1.0, 11)


def _towards_extreme(s: float) -> dict[str, float]:
    return {k: NORMAL_VALUES[k] + s * (v - NORMAL_VALUES[k]) for k, v in EXTREME.items()}


def _rox(state: dict[str, float]) -> float:
    one = [np.asarray([state[k]]) for k in ("spo2", "fio2", "resp_rate")]
    return float(rox_index(*one)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: the bundled model")
    parser.add_argument("--out", type=Path, default=Path("docs/vignettes.png"))
    args = parser.parse_args()
    model = Predictor.load(args.checkpoint)

    def risk(state: dict[str, float], history: str) -> float:
        deranged_h, history_h = HISTORIES[history]
        window = Vignette("plot", state, deranged_h, history_h).window()
        return model.predict(window, explain=False).probability

    spo2 = next(lad for lad in LADDERS if lad.variable == "spo2")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    states = [_towards_extreme(float(s)) for s in STEPS]
    table = {h: [risk(s, h) for s in states] for h in HISTORIES}
    for history, risks in table.items():
        axes[0].plot(STEPS, risks, marker="o", label=history)
        axes[1].plot(spo2.steps, [risk(s, history) for s in spo2.states()], marker="o",
                     label=history)  # fmt: skip
    ticks = STEPS[::2]
    axes[0].set_xticks(
        ticks, [f"{t:.1f}\nROX {_rox(_towards_extreme(float(t))):.1f}" for t in ticks]
    )
    axes[0].set_xlabel("severity: normal (0) to the extreme state (1)")
    axes[1].set_xlabel("SpO2 (%) at FiO2 60%, 40 L/min, RR 28")
    axes[1].invert_xaxis()
    for ax in axes:
        for level, value in (("warning", model.thresholds.warning),
                             ("critical", model.thresholds.critical)):  # fmt: skip
            ax.axhline(value, linestyle="--", linewidth=0.8, color="grey")
            ax.text(ax.get_xlim()[0], value, f" {level}", va="bottom", fontsize=8, color="grey")
        ax.set_ylim(0.0, 1.0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("risk of invasive ventilation within 24 h")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{model.model_id} {model.model_version} (trained on synthetic patients)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"| severity (ROX) | {' | '.join(HISTORIES)} |")
    print("|---|" + "---|" * len(HISTORIES))
    for i, s in enumerate(STEPS):
        cells = " | ".join(f"{table[h][i]:.3f}" for h in HISTORIES)
        print(f"| {s:.1f} ({_rox(states[i]):.1f}) | {cells} |")
    print(f"\nthresholds: warning {model.thresholds.warning:.3f}, "
          f"critical {model.thresholds.critical:.3f}; plot: {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
