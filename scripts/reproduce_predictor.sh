#!/usr/bin/env bash
# Reproduce the shipped predictor weights (assets/predictor.safetensors) from
# scratch: the six training stages they came from, each starting from the
# previous one's weights, with the exact arguments (see assets/MODEL_CARD.md),
# and the average of stage 5's snapshots.
# About 6 h on a 2-core CPU with one torch thread (`make predictor` runs this).
# Stages 0-3 ran before the scale convention existed: they turn it off
# (--scene-depth 0 --coverage-weight 0); stage 4 trains with it.
#
#   scripts/reproduce_predictor.sh [OUT] [WORKDIR]
#
# OUT defaults to assets/predictor.safetensors, WORKDIR (stage weights and
# checkpoints) to build/predictor-stages. Runs unchanged under torchrun if
# PYTHON is set to "torchrun --nproc_per_node N" (then the numbers differ).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-assets/predictor.safetensors}
WORK=${2:-build/predictor-stages}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$WORK"
train() { $PYTHON scripts/train_predictor.py --size 64 --batch 4 --threads 1 "$@"; }
early() { train --scene-depth 0 --coverage-weight 0 "$@"; }

# Stage 0: colour, shape and a first depth (log-L1 depth loss, weight 1 -> 0.1 over 3,000 steps).
early --out "$WORK/stage0.safetensors" --steps 1600 --stop-at-step 1567
# Stage 1: depth weight held at 0.7; each generated scene used about twice (--reuse 2).
early --out "$WORK/stage1.safetensors" --init "$WORK/stage0.safetensors" --steps 7000 --stop-at-step 1028 \
    --reuse 2 --depth-weight-final 0.7 --depth-steps 1 --lr 5e-4
# Stage 2: scale-invariant depth loss (the per-scene scale weighted 0.3).
early --out "$WORK/stage2.safetensors" --init "$WORK/stage1.safetensors" --steps 5000 \
    --reuse 2 --depth-loss scale_invariant --depth-weight-final 1.0 --depth-steps 1 --lr 5e-4
# Stage 3: the scale weighted 0.5 (removes a 9 % depth bias), new scenes (seed 1).
early --out "$WORK/stage3.safetensors" --init "$WORK/stage2.safetensors" --steps 3500 --stop-at-step 3318 \
    --reuse 2 --depth-loss scale_invariant --scale-weight 0.5 --depth-weight-final 1.0 --depth-steps 1 --lr 3e-4 \
    --seed 1
# Stage 4: the scale convention (median depth of what the photo shows = 3 units) and the
# opacity-vs-coverage loss, log-L1 depth loss on the normalised depth, new scenes (seed 2).
train --out "$WORK/stage4.safetensors" --init "$WORK/stage3.safetensors" --steps 6000 \
    --reuse 2 --depth-weight-final 1.0 --depth-steps 1 --lr 3e-4 --seed 2 --scene-depth 3 --coverage-weight 0.1
# Stage 5: + 2 x multi-scale gradient matching of log depth (sharp occlusion edges, flat planes),
# lr 2e-4, new scenes (seed 4). The original run saved its weights every 5 minutes, at the steps below;
# the shipped weights are their mean (stochastic weight averaging).
S5_SNAPSHOTS=386,711,996,1383,1665,1954,2346,2671,2996,3387,3661,4028,4385,4751,5142,5464,5876,6299,6721,7000
train --out "$WORK/stage5.safetensors" --init "$WORK/stage4.safetensors" --steps 7000 \
    --reuse 2 --depth-weight-final 1.0 --depth-steps 1 --lr 2e-4 --seed 4 --gradient-weight 2 \
    --snapshot-at "$S5_SNAPSHOTS"
snaps=()
for k in ${S5_SNAPSHOTS//,/ }; do snaps+=("$WORK/stage5.step$k.safetensors"); done
single=$PYTHON
[[ $PYTHON == torchrun* ]] && single=.venv/bin/python  # one process averages
$single scripts/average_weights.py "$OUT" "${snaps[@]}"
echo "wrote $OUT; evaluate with: $PYTHON main.py evaluate --weights $OUT --out docs"
