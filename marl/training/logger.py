"""metrics.jsonl, wandb and the progress bar of a run."""

from __future__ import annotations

import json
import secrets
import string
from pathlib import Path

import numpy as np

from marl.config import ConfigError, RunConfig, to_dict

WANDB_ID = "wandb_id"  # in the run folder: a resumed run continues the same wandb run


def _new_run_id() -> str:
    """A wandb run id: 8 characters of [a-z0-9], as wandb makes them."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def start_wandb(cfg: RunConfig, run_dir: Path, writer: bool = True):
    """`wandb.init` for this run, resuming the run folder's wandb run if it has one; None
    where wandb is disabled or this process does not write the run folder."""
    if not writer or cfg.wandb.resolved_mode() == "disabled":
        return None
    import wandb  # imported only when used: it is slow to import

    id_file = run_dir / WANDB_ID
    run_id = id_file.read_text().strip() if id_file.exists() else _new_run_id()
    id_file.write_text(run_id + "\n")
    kwargs = cfg.wandb.init_kwargs(run_dir)
    Path(kwargs["dir"]).mkdir(parents=True, exist_ok=True)
    try:
        return wandb.init(id=run_id, resume="allow", config=to_dict(cfg), **kwargs)
    except Exception as err:  # a login or network failure: say so before any compile
        raise ConfigError(
            f"wandb: could not start a {kwargs['mode']} run ({type(err).__name__}: {err}); "
            "log in (wandb login), or set wandb.mode=offline or disabled"
        ) from err


class Logger:
    """metrics.jsonl, wandb and the progress bar."""

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        total_steps: int,
        start_step: int,
        writer: bool,
        wandb_run=None,
    ):
        """`total_steps`, `start_step`: env steps over every member (seeds x cells);
        `wandb_run`: the run of `start_wandb`, started before the compile (or None)."""
        self.path = run_dir / "metrics.jsonl" if writer else None
        self.wandb = wandb_run
        self.bar = None
        if writer and cfg.progress:
            from tqdm import tqdm

            # One rate and one ETA: env steps summed over every seed (and cell).
            self.bar = tqdm(
                total=total_steps, initial=start_step, unit="env-step", unit_scale=True, leave=True
            )

    def log(self, rows: list[dict], steps_done: int) -> None:
        """A chunk's rows: one for a run, one per cell of a sweep (wandb: `cell<i>/` keys);
        `steps_done`: the chunk's env steps over every member."""
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
            if returns:  # the mean over the cells of a sweep
                self.bar.set_postfix({"return": f"{np.mean(returns):.3g}"})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.wandb is not None:
            self.wandb.finish()
