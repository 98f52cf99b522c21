"""Training runs for the reproduction scripts: the shipped Hydra config plus overrides."""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from marl.train import train


def train_experiment(out: Path, name: str, *overrides: str) -> tuple[list[dict], Path]:
    """Train into `out/name` with the composed config plus overrides (quiet, no wandb);
    returns (metrics rows, run dir)."""
    with initialize_config_module("marl.configs", version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                *overrides,
                f"run_dir={out / name}",
                "wandb.mode=disabled",
                "progress=false",
            ],
        )
    run_dir = train(OmegaConf.to_container(cfg, resolve=True))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rows, run_dir
