"""A sweep's cells, from the `sweep:` node of a run config, checked before anything compiles.

`sweep:` maps dotted config keys to lists of values, e.g.
`{"env.args.dilemma": [0.1, 0.25, 0.4], "algo.explore_start": [0.127, 0.727]}` (or the
same nested, as the command line `sweep.env.args.dilemma=[...]` writes it), plus an
optional `mode`: `grid` (every combination, the default) or `zip` (the i-th values of
every list together). Cells are numbered in that order: in a grid the last key varies
fastest.

Only keys that neither shape an array nor choose a code path can be swept inside one
program: env params (`env.args.<param>`), reward-transform weights
(`env.transform_args.<weight>`) and the numeric settings each algorithm lists as
`SWEEPABLE`. Everything else (sizes, networks, sharing, the algorithm, the env) belongs
to Hydra's `--multirun`, and the error says so.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from marl.config import ConfigError

MODES = ("grid", "zip")


@dataclass(frozen=True)
class Sweep:
    """The checked sweep: its axes in config order and every cell's values."""

    mode: str
    axes: dict  # dotted key -> tuple of values
    cells: tuple  # per cell: {dotted key: value}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.axes)

    def describe(self, cell: int) -> str:
        """`cell 3 (algo.lr=0.001, env.args.dilemma=0.25)`."""
        values = ", ".join(f"{k}={v!r}" for k, v in self.cells[cell].items())
        return f"cell {cell} ({values})"


def flatten(node: Mapping, prefix: str = "") -> dict:
    """Nested mappings down to their lists: {"env": {"args": {"d": [..]}}} -> {"env.args.d": ..}."""
    out = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def parse(spec: Mapping | None) -> Sweep | None:
    """The Sweep of a `sweep:` node, or None when it is empty. Checks its shape only: a
    list per key, no empty list, zip lists of one length, a known mode."""
    if not spec:
        return None
    axes = flatten(spec)
    mode = axes.pop("mode", "grid")
    if mode not in MODES:
        raise ConfigError(f"config: sweep.mode={mode!r} is not allowed; expected grid or zip")
    if not axes:
        raise ConfigError("config: sweep has a mode but no keys to sweep")
    for key, values in axes.items():
        if isinstance(values, str) or not isinstance(values, list | tuple):
            raise ConfigError(
                f"config: sweep.{key}={values!r} is not allowed; expected a list of values, "
                f"e.g. sweep.{key}=[0.1,0.2]"
            )
        if not values:
            raise ConfigError(f"config: sweep.{key} is an empty list; give at least one value")
    axes = {k: tuple(v) for k, v in axes.items()}
    if mode == "zip":
        lengths = {k: len(v) for k, v in axes.items()}
        if len(set(lengths.values())) > 1:
            raise ConfigError(
                f"config: sweep.mode=zip needs lists of one length; got "
                f"{', '.join(f'{k}: {n}' for k, n in lengths.items())}"
            )
        rows = zip(*axes.values(), strict=True)
    else:
        rows = itertools.product(*axes.values())
    cells = tuple(dict(zip(axes, row, strict=True)) for row in rows)
    return Sweep(mode=mode, axes=axes, cells=cells)


def set_key(raw: dict, dotted: str, value) -> dict:
    """A copy of the nested config `raw` with `dotted` set to `value`."""
    head, _, rest = dotted.partition(".")
    out = dict(raw)
    if rest:
        inner = raw.get(head)
        out[head] = set_key(inner if isinstance(inner, Mapping) else {}, rest, value)
    else:
        out[head] = value
    return out


def cell_config(raw: dict, values: Mapping) -> dict:
    """The plain run config of one cell: `raw` without its sweep, the cell's values set."""
    out = {k: v for k, v in raw.items() if k != "sweep"}
    for key, value in values.items():
        out = set_key(out, key, value)
    return out


@dataclass(frozen=True)
class Target:
    """Where a swept key's values go: "env" (an env param), "weight" (a reward-transform
    weight) or "algo" (a trainer setting), and the name there."""

    kind: str
    name: str


def target(key: str, cfg, env_params, algo_module) -> Target:
    """Where `key` goes, or a ConfigError saying why it cannot be swept in one program."""
    multirun = (
        f"it fixes array shapes or code paths, so it cannot vary inside one compiled "
        f"program; sweep it with --multirun (e.g. marl-train --multirun {key}=A,B)"
    )
    parts = key.split(".")
    if parts[0] == "env" and len(parts) == 3 and parts[1] == "args":
        params = getattr(env_params, "env", env_params)  # inside a reward transform's params
        names = {f.name for f in dataclasses.fields(params)}
        if parts[2] in names:
            return Target("env", parts[2])
        raise ConfigError(
            f"config: sweep.{key}: {parts[2]!r} is not a param of {cfg.env.name} (params: "
            f"{', '.join(sorted(names))}); if it is a constructor argument, {multirun}"
        )
    if parts[0] == "env" and len(parts) == 3 and parts[1] == "transform_args":
        weights = getattr(env_params, "weights", None)
        if weights is not None and parts[2] in weights:
            return Target("weight", parts[2])
        have = ", ".join(sorted(weights)) if weights is not None else "none"
        raise ConfigError(
            f"config: sweep.{key}: not a weight of env.reward_transform="
            f"{cfg.env.reward_transform!r} (weights: {have})"
        )
    if parts[0] == "algo" and len(parts) == 2 and parts[1] in algo_module.SWEEPABLE:
        return Target("algo", parts[1])
    allowed = (
        f"env.args.<param>, env.transform_args.<weight>, or algo.<key> for "
        f"{', '.join(algo_module.SWEEPABLE)}"
    )
    raise ConfigError(f"config: sweep.{key} cannot be swept in one program ({allowed}): {multirun}")
