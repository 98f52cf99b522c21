"""Helpers for training tests: compose the real Hydra configs, run tiny trainings."""

import json
from pathlib import Path

from marl.train import compose, train

QUIET = ["wandb.mode=disabled", "progress=false"]


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
