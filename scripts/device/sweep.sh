#!/usr/bin/env bash
# GPU check of in-program sweeps: the sweep benchmark (marl-bench --sweep: 1..1024 cells x
# 2 seeds of PPO on coin_game, one compile each), then a 4,096-cell spatial-PD sweep (64
# dilemma strengths x 64 exploration starts of shared-network Boltzmann DQN on the 30 x 30
# lattice, one seed each: 4,096 x 900 agents in one program), then marl-report on it.
#   bash scripts/device/sweep.sh OUT [SWEEP_S]
# OUT gets bench_sweep.json, the sweep's summary.json, sweep.json and report/. SWEEP_S:
# the seconds the sweep may run (a run stopped there keeps its finished chunks).
# SIDE=64 is the grid's side (SIDE^2 cells); STEPS the env steps per cell; SIZE the
# lattice side. Small values give a smoke test on a CPU (SIDE=2 STEPS=400 SIZE=6).
# EXPLORE=1 adds +experiment=exploration_sweep (the paper's 30 x 30 grid, 240 members per
# sharing mode, shared and groups:10) and its report, within EXPLORE_S seconds.
set -u
OUT=${1:?output folder}
SWEEP_S=${2:-300}
SIDE=${SIDE:-64}
STEPS=${STEPS:-4000}
SIZE=${SIZE:-30}
CELLS=${CELLS:-1,4,16,64,256,1024}
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
mkdir -p "$OUT"
nvidia-smi -L 2>/dev/null
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"

timeout 240 marl-bench --sweep --cells "$CELLS" --json "$OUT/bench_sweep.json" 2>&1 | tail -n 12

values() {  # N evenly spaced values from A to B, as a Hydra list
  python3 -c "import numpy as np; print('[' + ','.join(f'{v:.4f}' for v in np.linspace($2, $3, $1)) + ']')"
}
RUN=$(mktemp -d)/spd
timeout "$SWEEP_S" marl-train +experiment=exploration_spd env.args.size="$SIZE" num_seeds=1 \
  total_steps="$STEPS" num_chunks=4 algo.learning_stops=$((STEPS * 3 / 4)) \
  algo.explore_steps=$((STEPS * 3 / 4)) algo.buffer_size=$((SIZE * SIZE * 10)) \
  sweep.env.args.dilemma="$(values "$SIDE" 0.05 0.5)" \
  sweep.algo.explore_start="$(values "$SIDE" 0.127 0.727)" \
  wandb.mode=disabled progress=false run_dir="$RUN" 2>&1 | tail -n 5
cp "$RUN/summary.json" "$RUN/sweep.json" "$OUT/" 2>/dev/null
python3 -c "
import json
s = json.load(open('$RUN/summary.json'))
print('cells', s.get('cells'), 'devices', s.get('devices'), 'chunks', s['chunks_done'], '/', s['num_chunks'])
print('compile_s %.1f' % s['compile_s'], 'env-steps/s %.0f' % s['steps_per_s'],
      'agent-steps/s %.0f' % (s['steps_per_s'] * $SIZE * $SIZE))"
marl-report "$RUN" --metric step/cooperation_rate --out "$OUT/report" --reps 200 2>&1 | tail -n 3

if [ "${EXPLORE:-0}" = 1 ]; then  # the paper-scale exploration grid, both sharing modes
  timeout "${EXPLORE_S:-400}" marl-train --multirun +experiment=exploration_sweep \
    algo.sharing=shared,groups:10 wandb.mode=disabled progress=false \
    hydra.sweep.dir="$OUT/exploration" 2>&1 | tail -n 5
  marl-report "$OUT/exploration" --metric step/cooperation_rate --reps 1000 \
    --out "$OUT/exploration/report" 2>&1 | tail -n 40
fi
