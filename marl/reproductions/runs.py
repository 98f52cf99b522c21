"""Training runs for the reproduction scripts: the shipped Hydra config plus overrides."""

from __future__ import annotations

import json
from pathlib import Path

from marl.train import compose, train


def train_experiment(out: Path, name: str, *overrides: str) -> tuple[list[dict], Path]:
    """Train into `out/name` with the composed config plus overrides (quiet, no wandb);
    returns (metrics rows, run dir)."""
    raw = compose([*overrides, f"run_dir={out / name}", "wandb.mode=disabled", "progress=false"])
    run_dir = train(raw)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rows, run_dir
