#!/usr/bin/env bash
# Rebuild the bundled default model (model/bundled/default.pt) from the synthetic simulator.
# `make model` runs this. Deterministic: fixed simulator seed, fixed training seed, 1 torch thread
# (one thread is as fast as two here and does not collapse when other jobs share the cores).
#
#   bash bench/rebuild_default_model.sh            # cohort in $VF_WORK (default /tmp/ventfusion-model)
#
# Environment: VF_WORK (scratch dir), VF_PATIENTS (training cohort size, default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${VF_WORK:-/tmp/ventfusion-model}
PATIENTS=${VF_PATIENTS:-2000}
TRAIN_COHORT="$WORK/train-seed0"
mkdir -p "$WORK"

if [ ! -f "$TRAIN_COHORT/cohort.json" ]; then
  echo "simulating $PATIENTS training patients (seed 0) into $TRAIN_COHORT"
  "$PY" -c "from pathlib import Path; from model.synth import SynthConfig, simulate; \
print(simulate(SynthConfig(patients=$PATIENTS, seed=0, film_size=128, workers=2), Path('$TRAIN_COHORT')))"
fi

# The recipe (model/training/recipes.py, the one place it is defined): an EHR-only model, then
# residual gated fusion whose EHR path (encoder + head) is the EHR-only model's, copied and frozen;
# only the film side (projection, gate, residual head) is trained, so a window without a film
# scores exactly as the EHR-only model; gate L1 0.005 (chosen on validation). The EHR-only stage
# is written to $WORK/ehr_only.pt, the baseline bench/evaluate_default_model.sh uses.
"$PY" -m cds_app.cli.main train --cohort "$TRAIN_COHORT" --out model/bundled/default.pt \
  --recipe default --stage-dir "$WORK" --seed 0 --threads 1
"$PY" -c "from model.predictor import Predictor; p = Predictor.load(); \
open('model/bundled/MODEL_CARD.md', 'w').write(p.card.to_markdown()); print(p.model_id, p.model_version)"
