#!/usr/bin/env bash
# How the oracle gap depends on the simulator's information structure (synthetic data only):
# for each film lead (hours the EHR trails the film) and film cadence, simulate a training
# (seed 0, 2,000 patients) and a test cohort (seed 1, 1,000 patients) and print the
# observable-ceiling table of bench/observable_ceiling.py (oracle, perfect film reader + EHR,
# EHR only). Films are rendered at 32 px: the table uses the true findings, not the pixels.
#
#   bash bench/ceiling_sweep.sh            # ~5 min on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${VF_WORK:-/tmp/ventfusion-model}/ceiling-sweep
mkdir -p "$WORK"
# "LAG_LOW LAG_HIGH FILM_INTERVAL": the default simulator first.
for setting in "22 26 24" "22 26 12" "12 16 24" "12 16 12" "6 10 24"; do
  read -r low high every <<<"$setting"
  dir="$WORK/lag$low-${high}_every${every}h"
  for part in "train 2000 0" "test 1000 1"; do
    read -r name patients seed <<<"$part"
    if [ ! -f "$dir/$name/cohort.json" ]; then
      "$PY" -m cds_app.cli.main synth --out "$dir/$name" --patients "$patients" --seed "$seed" \
        --film-size 32 --workers 2 --ehr-lag-h "$low" "$high" --film-interval-h "$every" \
        >/dev/null 2>&1
    fi
  done
  echo "### EHR lag $low-$high h, films every $every h"
  "$PY" bench/observable_ceiling.py --train "$dir/train" --test "$dir/test"
done
