"""metrics.jsonl, wandb and the progress bar of a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from marl.config import RunConfig, to_dict


class Logger:
    """metrics.jsonl, wandb and the progress bar."""

    def __init__(
        self, cfg: RunConfig, run_dir: Path, total_steps: int, start_step: int, writer: bool
    ):
        self.path = run_dir / "metrics.jsonl" if writer else None
        self.wandb = None
        if writer and cfg.wandb.mode != "disabled":
            import wandb  # imported only when used: it is slow to import

            self.wandb = wandb.init(
                project=cfg.wandb.project,
                entity=cfg.wandb.entity,
                mode=cfg.wandb.mode,
                dir=str(run_dir),
                config=to_dict(cfg),
                name=run_dir.name,
            )
        self.bar = None
        if writer and cfg.progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_steps, initial=start_step, unit="step", unit_scale=True, leave=True
            )

    def log(self, rows: list[dict], steps_done: int, rate: float) -> None:
        """A chunk's rows: one for a run, one per cell of a sweep (wandb: `cell<i>/` keys)."""
        if self.path is None:
            return
        with self.path.open("a") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        if self.wandb is not None:
            for row in rows:
                prefix = f"cell{row['cell']}/" if "cell" in row else ""
                numbers = {
                    f"{prefix}{k}": v
                    for k, v in row.items()
                    if v is not None and k not in ("cell", "values")
                }
                self.wandb.log(numbers, step=rows[0]["step"])
        if self.bar is not None:
            self.bar.update(steps_done)
            returns = [r.get("episode_return_mean") for r in rows]
            returns = [r for r in returns if r is not None]
            post = {"steps/s": f"{rate:,.0f}"}
            if returns:
                post["return"] = f"{np.mean(returns):.3g}"  # over the cells of a sweep
            self.bar.set_postfix(post)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.wandb is not None:
            self.wandb.finish()
