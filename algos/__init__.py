"""Learning algorithms. `make(algo_config, env, env_params, ...)` builds a trainer.

A trainer has pure functions `init(key) -> state`, `update(state) -> state, metrics` and
`policy(state)`, and `steps_per_update` (env steps per seed per update), so the one
driver in `marl.train` runs every algorithm the same way.
"""

from __future__ import annotations

import importlib

# algorithm name -> module with make(config, env, env_params, scripted, total_steps)
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


def make(config: dict, env, env_params, scripted=None, total_steps: int = 0):
    name = config.get("name")
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(list_algos())}")
    module = importlib.import_module(ALGORITHMS[name])
    return module.make(dict(config), env, env_params, scripted, total_steps)
