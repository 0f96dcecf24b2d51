#!/usr/bin/env bash
# The documented evaluation run (docs/model.md, docs/evaluation/): the bundled gated model and
# the three baselines trained the same way on the same training cohort (seed 0), evaluated on a
# held-out synthetic test cohort simulated with another seed (seed 1). Writes docs/evaluation/.
#
#   bash bench/evaluate_default_model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${VF_WORK:-/tmp/ventfusion-model}
PATIENTS=${VF_PATIENTS:-2000}
TEST_PATIENTS=${VF_TEST_PATIENTS:-1000}
TRAIN_COHORT="$WORK/train-seed0"
TEST_COHORT="$WORK/test-seed1"
OUT=${VF_REPORT:-docs/evaluation}
mkdir -p "$WORK"

simulate() {  # $1 patients, $2 seed, $3 out
  if [ ! -f "$3/cohort.json" ]; then
    "$PY" -c "from pathlib import Path; from model.synth import SynthConfig, simulate; \
print(simulate(SynthConfig(patients=$1, seed=$2, film_size=128, workers=2), Path('$3')))"
  fi
}
simulate "$PATIENTS" 0 "$TRAIN_COHORT"
simulate "$TEST_PATIENTS" 1 "$TEST_COHORT"

test -f model/bundled/default.pt || bash bench/rebuild_default_model.sh
for arch in ehr_only concat image_only; do
  if [ ! -f "$WORK/$arch.pt" ]; then
    "$PY" -m cds_app.cli.main train --cohort "$TRAIN_COHORT" --out "$WORK/$arch.pt" \
      --arch "$arch" --seed 0 --threads 1
  fi
done
"$PY" -m cds_app.cli.main evaluate --cohort "$TEST_COHORT" --out "$OUT" --n-boot 500 --seed 0 \
  --checkpoint model/bundled/default.pt --checkpoint "$WORK/ehr_only.pt" \
  --checkpoint "$WORK/concat.pt" --checkpoint "$WORK/image_only.pt" --ceiling-train "$TRAIN_COHORT"
# Put the held-out metrics and the bedside-rule comparison into the bundled model card.
"$PY" -c "import json; from pathlib import Path; \
from model.evaluation.card_update import attach_evaluation; \
text = attach_evaluation(Path('model/bundled/default.pt'), json.loads(Path('$OUT/report.json').read_text())); \
Path('model/bundled/MODEL_CARD.md').write_text(text)"
