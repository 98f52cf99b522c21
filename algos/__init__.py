"""Learning algorithms. `make(algo_config, env, env_params, ...)` builds a trainer.

A trainer has pure functions `init(key) -> state`, `update(state) -> state, metrics` and
`policy(state)`, and `steps_per_update` (env steps per seed per update), so the one
driver in `marl.train` runs every algorithm the same way.

Each algorithm module defines `CONFIG` (its typed config), `TRAINER` (the class, built as
`TRAINER(config, env, env_params, scripted, total_steps)`) and `SWEEPABLE`: the numeric
config keys that an in-program sweep may vary. `make(..., traced=...)` builds a trainer
whose sweepable settings are traced arrays (one cell of a sweep, inside jit and vmap).
"""

from __future__ import annotations

import dataclasses
import importlib

from marl.config import build

# algorithm name -> module with CONFIG, TRAINER, SWEEPABLE
ALGORITHMS = {
    "ppo": "marl.algos.ppo",
    "dqn": "marl.algos.dqn",
    "lola": "marl.algos.lola",
    "lola_dice": "marl.algos.lola_dice",
    "aa": "marl.algos.advantage_alignment",
    "paa": "marl.algos.advantage_alignment",
}


def list_algos() -> list[str]:
    return sorted(ALGORITHMS)


def module(name: str):
    """The module of algorithm `name` (an unknown name fails, listing the known ones)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(list_algos())}")
    return importlib.import_module(ALGORITHMS[name])


def make(
    config: dict, env, env_params, scripted=None, total_steps: int = 0, traced: dict | None = None
):
    """The trainer of `config["name"]`. `traced` maps SWEEPABLE keys to values that replace
    the config's after it is checked (arrays inside jit/vmap: a sweep's cell)."""
    algo = module(config.get("name"))
    checked = build(algo.CONFIG, dict(config), "algo")
    if traced:
        unknown = sorted(set(traced) - set(algo.SWEEPABLE))
        if unknown:
            raise ValueError(f"algo: {unknown} cannot be traced; sweepable: {algo.SWEEPABLE}")
        checked = dataclasses.replace(checked, **traced)
    return algo.TRAINER(checked, env, env_params, scripted, total_steps)
