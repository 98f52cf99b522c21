"""`marl-eval`: trained policies against scripted policies and against each other.

    marl-eval RUN_DIR [--against always_defect,always_cooperate,tit_for_tat,random]
                      [--crossplay RUN_DIR2] [--steps 500] [--num-envs 32] [--out DIR]

Rows are the trained policies (one per seed of each run); columns are the scripted
policies, then the trained policies again (the diagonal is self-play, the rest cross-play).
A cell puts the row policy in one agent slot (the focal slot) and the column policy in all
the others, plays `num_envs` auto-resetting games for `steps` steps with the game's own
rewards (no reward transform), and reports the focal slot's mean reward per step. Every
learning slot takes its turn as the focal slot and the cell averages over them, so the
asymmetries of a game (Coin Game's red and blue) do not favour a row. The opponent's
reward per step is reported too. Writes `eval.json` and `eval.png` (a heat map) into
`--out` (default RUN_DIR/eval), which is checked to be writable before anything runs.

Each (row population, column population) pair is one compiled program: the seeds of a run
share the trainer's code and differ only in parameters, so they are vmapped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from marl.config import ConfigError
from marl.evaluation.populations import (
    Population,
    check_same_game,
    env_signature,
    scripted,
    trained,
)
from marl.paths import check_writable
from marl.policy import load_run, mix
from marl.rollout import policy_rollout
from marl.scripted import names_for


def play_off(env, params, rows: Population, cols: Population, key, num_envs: int, steps: int):
    """Focal and opponent reward per step, arrays [rows, cols], averaged over focal slots."""
    focal_slots = np.flatnonzero(rows.learner_slots)
    owners = np.stack([(np.arange(env.num_agents) != s).astype(np.int32) for s in focal_slots])
    focal_masks = jnp.asarray(owners == 0, jnp.float32)  # [roles, A]

    def cell(row_state, col_state):
        def role(owner, focal):
            policy = mix([rows.make(row_state), cols.make(col_state)], owner)
            keys = jax.random.split(key, num_envs)
            rewards, _ = jax.vmap(lambda k: policy_rollout(env, params, policy, k, steps))(keys)
            per_agent = rewards.mean((0, 1))  # [A]
            focal_reward = (per_agent * focal).sum()
            others = (per_agent * (1 - focal)).sum() / jnp.maximum((1 - focal).sum(), 1)
            return focal_reward, others

        focal, others = jax.vmap(role)(jnp.asarray(owners), focal_masks)
        return focal.mean(), others.mean()

    grid = jax.vmap(jax.vmap(cell, (None, 0)), (0, None))
    focal, others = jax.jit(grid)(rows.states, cols.states)
    return np.asarray(focal), np.asarray(others)


def parse_against(text: str | None, env) -> list[str]:
    allowed = names_for(env)
    if text is None:
        return allowed
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    for name in chosen:
        if name not in allowed:
            raise ConfigError(
                f"--against: {name!r} is not a scripted policy for {env.name}; "
                f"choose from {', '.join(allowed)}"
            )
    return chosen


def evaluate(
    run_dir: str | Path,
    against: str | None = None,
    crossplay: str | Path | None = None,
    steps: int = 500,
    num_envs: int = 32,
    seed: int = 0,
    out: str | Path | None = None,
) -> dict:
    """Build, play and write the evaluation matrix; returns what eval.json holds."""
    if steps < 1 or num_envs < 1:
        raise ConfigError(f"--steps and --num-envs must be >= 1; got {steps}, {num_envs}")
    out = check_writable(out if out is not None else Path(run_dir) / "eval", folder=True)
    runs = [load_run(run_dir)]
    if crossplay is not None:
        runs.append(load_run(crossplay))
        check_same_game(runs[1], env_signature(runs[0].config["env"]), "--crossplay")
    env, params = runs[0].env, runs[0].env_params
    names = parse_against(against, env)
    labels = ["run"] if len(runs) == 1 else ["run", "crossplay"]
    populations = [trained(r, label) for r, label in zip(runs, labels, strict=True)]
    columns = [scripted(n, env) for n in names] + populations

    key = jax.random.PRNGKey(seed)
    tick = time.perf_counter()
    focal_rows, other_rows = [], []
    for rows in populations:
        cells = [play_off(env, params, rows, cols, key, num_envs, steps) for cols in columns]
        focal_rows.append(np.concatenate([f for f, _ in cells], axis=1))
        other_rows.append(np.concatenate([o for _, o in cells], axis=1))
    result = {
        "env": runs[0].config["env"],
        "runs": [str(r.run_dir) for r in runs],
        "rows": [n for p in populations for n in p.names],
        "columns": [n for p in columns for n in p.names],
        "focal_reward_per_step": np.concatenate(focal_rows).round(6).tolist(),
        "opponent_reward_per_step": np.concatenate(other_rows).round(6).tolist(),
        "steps": steps,
        "num_envs": num_envs,
        "seed": seed,
        "wall_s": round(time.perf_counter() - tick, 2),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(result, indent=2))
    heatmap(result, out / "eval.png")
    return result


def heatmap(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.asarray(result["focal_reward_per_step"])
    rows, cols = result["rows"], result["columns"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(cols), 1.0 + 0.5 * len(rows)))
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white", fontsize=8)
    ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("co-player (all other slots)")
    ax.set_ylabel("focal policy")
    ax.set_title(f"{result['env']['name']}: focal reward per step", fontsize=10)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marl-eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  marl-eval runs/mine\n"
        "  marl-eval runs/mine --against always_defect,tit_for_tat --steps 1000\n"
        "  marl-eval runs/mine --crossplay runs/other --out reports/mine_vs_other\n",
    )
    parser.add_argument("run_dir", type=Path, help="a marl-train run folder")
    parser.add_argument("--against", default=None, help="comma-separated scripted policies")
    parser.add_argument("--crossplay", type=Path, default=None, help="a second run folder")
    parser.add_argument("--steps", type=int, default=500, help="steps per game")
    parser.add_argument("--num-envs", type=int, default=32, help="games per cell and slot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/eval")
    args = parser.parse_args(argv)
    try:
        result = evaluate(
            args.run_dir,
            args.against,
            args.crossplay,
            args.steps,
            args.num_envs,
            args.seed,
            args.out,
        )
    except (FileNotFoundError, ValueError) as err:  # ConfigError, CheckpointMismatch too
        print(f"marl-eval: {err}", file=sys.stderr)
        return 2
    width = max(len(c) for c in result["columns"])
    print(f"focal reward per step ({result['wall_s']} s)")
    print(" " * 16 + "".join(f"{c[:width]:>{width + 2}}" for c in result["columns"]))
    for name, values in zip(result["rows"], result["focal_reward_per_step"], strict=True):
        print(f"{name:<16}" + "".join(f"{v:>{width + 2}.3f}" for v in values))
    return 0
