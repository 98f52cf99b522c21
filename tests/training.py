"""Helpers for training tests: compose the real Hydra configs, run tiny trainings."""

import json
from pathlib import Path

from marl.train import compose, train

QUIET = ["wandb.mode=disabled", "progress=false"]
# PPO on a 16-round IPD, 2 chunks of 4 updates of 8 envs x 32 steps: seconds to train.
TINY_IPD = (
    "env=ipd",
    "env.args.horizon=16",
    "total_steps=2048",
    "num_chunks=2",
    "algo.num_envs=8",
    "algo.num_steps=32",
)


def config(*overrides: str) -> dict:
    return compose([*QUIET, *overrides])


def rows(run_dir) -> list[dict]:
    lines = Path(run_dir, "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def numbers(row: dict) -> dict:
    """A metrics row without its wall-clock fields."""
    return {k: v for k, v in row.items() if k != "steps_per_s"}


def run(tmp_path, *overrides: str, name: str = "run", **kwargs) -> Path:
    raw = config(f"run_dir={tmp_path / name}", *overrides)
    return train(raw, **kwargs)
