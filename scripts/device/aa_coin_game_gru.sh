#!/usr/bin/env bash
# GPU check on the Advantage Alignment reproduction's always-defect target (docs/training.md):
# history-dependent (GRU) PAA on the 3x3 Coin Game at GPU scale, with and without a pool of
# always-defect co-players, each then evaluated against the scripted bots and in cross-play
# (marl-eval); then the env-step benchmark on the GPU.
#   bash scripts/device/aa_coin_game_gru.sh OUT [TRAIN_S]
# OUT gets, per run, NAME.metrics.jsonl and NAME.eval.json, and bench.json. TRAIN_S: the
# wall-clock seconds each training run may take; the runs go side by side on the one GPU,
# and a run stopped there is evaluated from its last checkpoint. ENVS (per seed), UPDATES
# and BENCH=0 (skip the benchmark) shrink it for a smoke test on a CPU; SET=next runs the
# variants that docs/training.md leaves to try instead of the ones that ran (SET=pool).
set -u
OUT=${1:?output folder}
TRAIN_S=${2:-300}
ENVS=${ENVS:-512}               # per seed, a multiple of 4 (minibatches); 50-step rollouts
UPDATES=${UPDATES:-2000}        # an upper bound: TRAIN_S usually stops the run first
RUNS_DIR=$(mktemp -d)
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi -L 2>/dev/null
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"

COMMON=(+experiment=aa_coin_game algo.network.gru=64 algo.num_envs="$ENVS" num_seeds=2
        total_steps=$((ENVS * 50 * UPDATES)) num_chunks=$((UPDATES / 20))
        wandb.mode=disabled progress=false)
declare -A RUNS
if [ "${SET:-pool}" = pool ]; then  # what ran on 2026-11-27 (docs/results/aa_coin_game_gru_h200)
  RUNS=(
    [gru_selfplay]=""
    [gru_pool10]="algo.coplayers.pool=[always_defect] algo.coplayers.prob=0.1"
    [gru_pool30]="algo.coplayers.pool=[always_defect] algo.coplayers.prob=0.3"
  )
else  # SET=next: what docs/training.md leaves to try (not run yet)
  RUNS=(
    [gru_ent05]="algo.ent_coef=0.05"
    [gru_past20]="algo.coplayers.past=8 algo.coplayers.past_every=20 algo.coplayers.prob=0.2"
    [gru_past20_ent05]="algo.ent_coef=0.05 algo.coplayers.past=8 algo.coplayers.past_every=20 algo.coplayers.prob=0.2"
  )
fi
for name in "${!RUNS[@]}"; do
  # shellcheck disable=SC2086
  timeout "$TRAIN_S" marl-train "${COMMON[@]}" ${RUNS[$name]} run_dir="$RUNS_DIR/$name" \
    > "$RUNS_DIR/$name.log" 2>&1 &
done
wait
for name in "${!RUNS[@]}"; do
  run="$RUNS_DIR/$name"
  if [ ! -s "$run/metrics.jsonl" ]; then echo "== $name: no chunk finished"; tail -n 20 "$run.log"; continue; fi
  cp "$run/metrics.jsonl" "$OUT/$name.metrics.jsonl"
  tail -n 1 "$run/metrics.jsonl" | python3 -c "
import json, sys
r = json.loads(sys.stdin.read())
keys = ['step', 'reward_mean', 'own_coin_proportion', 'steps_per_s', 'coplayers/reward_vs_pool',
        'coplayers/reward_without']
print('== $name', {k: r.get(k) for k in keys})"
  marl-eval "$run" --against always_defect,always_cooperate --steps 500 --num-envs 32 2>&1 | tail -n 8
  cp "$run/eval/eval.json" "$OUT/$name.eval.json"
done
if [ "${BENCH:-1}" = 1 ]; then
  timeout 100 marl-bench --envs coin_game,harvest,cleanup \
    --num-envs 4096,65536 --json "$OUT/bench.json" 2>&1 | tail -n 30
fi
