#!/usr/bin/env bash
# The distillation benchmark at full size, end to end, resumable (finished steps are kept):
# >= 50k jets per class generated with the defaults, an independent evaluation file, 32-candidate
# copies of both (fpgatag views), then bench/bench_distill_oof.py (teacher, K-fold teachers,
# scratch / in-sample distilled / out-of-fold distilled students over seeds, bits and N scans).
#
#   bench/distill_full.sh [WORK_DIR]        # default runs/distill-full
#
# Environment: JETS_PER_CLASS (50000), EVAL_JETS_PER_CLASS (5000), WORKERS (all cores),
# TEACHER_EPOCHS (20), N_PARTICLES (100), SEEDS ("1 2 3"), OUT (bench/results), FPGATAG / PYTHON (the venv's).
# Cost: generation is ~7 jets/s per core (100k jets: ~2 h on 8 cores, ~16 min on 64); the teacher
# wants a GPU at this size (TensorFlow uses one when it sees one).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-runs/distill-full}
N=${JETS_PER_CLASS:-50000}
NE=${EVAL_JETS_PER_CLASS:-5000}
J=${WORKERS:-$(nproc)}
FPGATAG=${FPGATAG:-.venv/bin/fpgatag}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$W"
[ -f "$W/jets.h5" ] || "$FPGATAG" generate -o "$W/jets.h5" --jets-per-class "$N" --seed 11 --workers "$J"
[ -f "$W/eval.h5" ] || "$FPGATAG" generate -o "$W/eval.h5" --jets-per-class "$NE" --seed 777 --workers "$J"
[ -f "$W/jets-n32.h5" ] || "$FPGATAG" views "$W/jets.h5" -o "$W/jets-n32.h5" --n-candidates 32
[ -f "$W/eval-n32.h5" ] || "$FPGATAG" views "$W/eval.h5" -o "$W/eval-n32.h5" --n-candidates 32
# shellcheck disable=SC2086
exec "$PYTHON" bench/bench_distill_oof.py --data "$W/jets.h5" --eval-data "$W/eval.h5" \
    --scan-data "$W/jets-n32.h5" --scan-eval-data "$W/eval-n32.h5" --work "$W/runs" --reuse --out "${OUT:-bench/results}" \
    --teacher-epochs "${TEACHER_EPOCHS:-20}" --n-particles "${N_PARTICLES:-100}" --seeds ${SEEDS:-1 2 3}
