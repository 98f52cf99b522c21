"""The runs one compiled program trains side by side: every cell of a sweep x every seed.

Members are cell-major: member m is cell m // num_seeds with seed m % num_seeds, and seed
s of every cell starts from the same key as seed s of a plain run, so a cell of a sweep
computes what a run with that cell's config computes. A member's swept values are array
leaves (`values`: key -> [members, ...]) passed into the program; inside `jax.vmap` each
member builds its trainer with its own values as traced arrays (`trainer_for`), so one
compile serves every cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from marl import algos
from marl.config import ConfigError
from marl.sweeps.spec import Sweep, Target, cell_config, parse, target


@dataclass(frozen=True)
class Members:
    sweep: Sweep | None
    num_seeds: int
    targets: dict  # swept key -> Target
    values: dict  # swept key -> np.ndarray [members, ...] (the dtype the run would use)
    trainer: object  # the trainer of cell 0 (or of the plain run), with concrete values
    algo_config: dict
    env: object
    env_params: object
    scripted: dict
    total_steps: int

    @property
    def num_cells(self) -> int:
        return len(self.sweep.cells) if self.sweep else 1

    @property
    def size(self) -> int:
        return self.num_cells * self.num_seeds

    def keys(self, seed: int) -> jax.Array:
        """Member keys [members]: seed s of every cell gets the plain run's seed-s key."""
        seed_keys = jax.random.split(jax.random.PRNGKey(seed), self.num_seeds)
        return seed_keys[np.arange(self.size) % self.num_seeds]

    def trainer_for(self, values: dict):
        """The trainer of one member: its swept values (traced under vmap) in place of the
        config's. Without a sweep, the plain run's trainer itself."""
        if not values:
            return self.trainer
        params = self.env_params
        algo_values = {}
        for key, value in values.items():
            where: Target = self.targets[key]
            if where.kind == "algo":
                algo_values[where.name] = value
            else:
                params = _with_env_value(params, where, value)
        return algos.make(
            self.algo_config, self.env, params, self.scripted, self.total_steps, algo_values
        )

    def init(self, key, values):
        return self.trainer_for(values).init(key)

    def update(self, state, values):
        return self.trainer_for(values).update(state)


def _with_env_value(params, where: Target, value):
    if where.kind == "weight":
        return params.replace(weights={**params.weights, where.name: value})
    if hasattr(params, "weights"):  # a reward transform's params wrap the env's
        return params.replace(env=params.env.replace(**{where.name: value}))
    return params.replace(**{where.name: value})


def _read_value(trainer, where: Target):
    """The value of a swept key as the trainer holds it (after the config's conversion)."""
    if where.kind == "algo":
        return getattr(trainer.config, where.name)
    params = trainer.env_params
    if where.kind == "weight":
        return params.weights[where.name]
    return getattr(getattr(params, "env", params), where.name)


def build_members(raw: dict, num_seeds: int, setup: Callable) -> tuple:
    """(cfg, env, trainer, plan, Members) of a run config with or without `sweep:`.

    Every value of every swept key is checked by building that key's run with it
    (`setup`, the driver's own checks), so a bad value fails here, naming the key, before
    anything compiles; the cells' values are then stacked into per-member arrays.
    """
    sweep = parse(raw.get("sweep"))
    cfg, env, trainer, plan = setup(cell_config(raw, {}))
    targets, converted = {}, {}
    if sweep is not None:
        module = algos.module(cfg.algo.get("name"))
        for key, values in sweep.axes.items():
            targets[key] = target(key, cfg, trainer.env_params, module)
            for value in values:
                try:
                    _, _, checked, checked_plan = setup(cell_config(raw, {key: value}))
                except (ConfigError, ValueError) as err:
                    raise ConfigError(f"sweep.{key}={value!r}: {err}") from None
                if checked_plan != plan:
                    raise ConfigError(
                        f"config: sweep.{key}={value!r} changes the run's sizes ({checked_plan} "
                        f"vs {plan}); sweep it with --multirun"
                    )
                converted[key, repr(value)] = np.asarray(_read_value(checked, targets[key]))
        # Cell 0's trainer stands for every cell wherever a concrete trainer is needed.
        cfg, env, trainer, plan = setup(cell_config(raw, sweep.cells[0]))
    values = {}
    if sweep is not None:
        for key in sweep.keys:
            per_cell = np.stack([converted[key, repr(cell[key])] for cell in sweep.cells])
            if per_cell.dtype == np.float64:
                per_cell = per_cell.astype(np.float32)  # what jnp makes of a Python float
            elif per_cell.dtype == np.int64:
                per_cell = per_cell.astype(np.int32)
            values[key] = np.repeat(per_cell, num_seeds, axis=0)
    members = Members(
        sweep=sweep,
        num_seeds=num_seeds,
        targets=targets,
        values=values,
        trainer=trainer,
        algo_config=dict(cfg.algo),
        env=env,
        env_params=trainer.env_params,
        scripted={int(k): v for k, v in cfg.scripted.items()},
        total_steps=cfg.total_steps,
    )
    return cfg, env, trainer, plan, members
