#!/usr/bin/env bash
# The distillation benchmark at full size, end to end, resumable (finished steps are kept):
# >= 50k jets per class, an independent evaluation file (other seed), 32-candidate copies of both
# (fpgatag views), then bench/bench_distill_oof.py: the full-view and the trigger-view teacher,
# scratch and distilled students over seeds, the bits and N scan, every figure with its uncertainty.
#
#   bench/distill_full.sh [WORK_DIR]        # default runs/distill-full
#
# Environment (defaults: the committed bench/results/distill_large.md on a 2-core machine):
#   JETS_PER_CLASS (50000), EVAL_JETS_PER_CLASS (5000), PHYSICS (fast: no MPI, pTHat >= 0.7 pt_min;
#   its bias against the default physics: bench/results/generate_ks_fast.md), WORKERS (all cores),
#   TEACHER_EPOCHS (3), TEACHER_PATIENCE (0), N_PARTICLES (32), STUDENT (deepsets: 8 bits, 16 candidates),
#   STUDENT_EPOCHS (8), PATIENCE (3), SEEDS ("1 2 3 4 5"), KINDS ("scratch distilled_trigger"),
#   SCAN_SEEDS (1), NAME (distill_large), OUT (bench/results), FPGATAG / PYTHON (the venv's).
# Cost: generation with the fast physics ~50 min for 100k jets on 2 cores (the default physics: ~7 jets/s
# per core); training ~1 h on 2 cores at these epochs (a GPU trains the teachers much faster).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-runs/distill-full}
N=${JETS_PER_CLASS:-50000}
NE=${EVAL_JETS_PER_CLASS:-5000}
J=${WORKERS:-$(nproc)}
P=${PHYSICS:-fast}
FPGATAG=${FPGATAG:-.venv/bin/fpgatag}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$W"
[ -f "$W/jets.h5" ] || "$FPGATAG" generate -o "$W/jets.h5" --jets-per-class "$N" --seed 11 --workers "$J" --physics "$P"
[ -f "$W/eval.h5" ] || "$FPGATAG" generate -o "$W/eval.h5" --jets-per-class "$NE" --seed 777 --workers "$J" --physics "$P"
[ -f "$W/jets-n32.h5" ] || "$FPGATAG" views "$W/jets.h5" -o "$W/jets-n32.h5" --n-candidates 32
[ -f "$W/eval-n32.h5" ] || "$FPGATAG" views "$W/eval.h5" -o "$W/eval-n32.h5" --n-candidates 32
# shellcheck disable=SC2086
exec "$PYTHON" bench/bench_distill_oof.py --data "$W/jets.h5" --eval-data "$W/eval.h5" \
    --scan-data "$W/jets-n32.h5" --scan-eval-data "$W/eval-n32.h5" --work "$W/runs" --reuse --out "${OUT:-bench/results}" \
    --name "${NAME:-distill_large}" --kinds ${KINDS:-scratch distilled_trigger} --student "${STUDENT:-deepsets}" \
    --teacher-epochs "${TEACHER_EPOCHS:-3}" --teacher-patience "${TEACHER_PATIENCE:-0}" --n-particles "${N_PARTICLES:-32}" \
    --epochs "${STUDENT_EPOCHS:-8}" --patience "${PATIENCE:-3}" --seeds ${SEEDS:-1 2 3 4 5} --scan-seeds "${SCAN_SEEDS:-1}"
