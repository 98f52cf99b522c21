"""Typed, frozen run configuration, built from Hydra's config and checked before compile.

`build(cls, data, path)` turns a mapping into the dataclass `cls`, refusing unknown keys
and values of the wrong type with a message that names the key, the value and what is
allowed. Each dataclass may define `check(self)` for value rules that involve several keys.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from marl.networks import NetworkConfig


class ConfigError(ValueError):
    """A config key or value that cannot run."""


def fail(path: str, value, allowed: str) -> typing.NoReturn:
    raise ConfigError(f"config: {path}={value!r} is not allowed; expected {allowed}")


def _convert(path: str, value, hint):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(path, value, inner[0])
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            fail(path, value, f"a mapping of {hint.__name__} keys")
        return build(hint, value, path)
    if hint is bool:
        if not isinstance(value, bool):
            fail(path, value, "true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, value, "an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(path, value, "a number")
        if not math.isfinite(value):  # `nan <= 0` is False: range checks would pass it
            fail(path, value, "a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail(path, value, "a string")
        return value
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, typing.Sequence):
            fail(path, value, "a list")
        return tuple(_convert(f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            fail(path, value, "a mapping")
        return dict(value)
    return value


def build(cls, data: Mapping, path: str = ""):
    """Instantiate dataclass `cls` from `data`, checking keys, types and `check()` rules."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = path or "config"
        raise ConfigError(
            f"config: unknown key {', '.join(f'{path}.{k}' if path else k for k in unknown)} "
            f"in {where}; allowed keys: {', '.join(names)}"
        )
    values = {}
    for name in names:
        if name in data:
            key_path = f"{path}.{name}" if path else name
            values[name] = _convert(key_path, data[name], hints[name])
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check(path)
    return obj


def to_dict(obj) -> dict:
    """The plain-data form of a config dataclass (for config.yaml, checkpoints, wandb)."""
    return dataclasses.asdict(obj)


@dataclass(frozen=True)
class EnvConfig:
    name: str = "ipd"
    preset: str | None = None
    args: dict = field(default_factory=dict)  # overrides for marl.make: params or shapes
    reward_transform: str | None = None  # collective | inequity_aversion | svo
    transform_args: dict = field(default_factory=dict)


WANDB_MODES = ("offline", "online", "disabled")


@dataclass(frozen=True)
class WandbConfig:
    """wandb settings. A key left null takes wandb's own environment variable, then the
    project default: mode $WANDB_MODE or offline (never needs the network), project
    $WANDB_PROJECT or marl, entity $WANDB_ENTITY, group $WANDB_RUN_GROUP (a multirun job:
    its sweep folder's name), files under $WANDB_DIR or the run folder."""

    mode: str | None = None  # offline | online | disabled
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()
    name: str | None = None  # null: the run folder's name

    def check(self, path):
        mode = self.resolved_mode()
        if mode not in WANDB_MODES:
            where = f"{path}.mode" if self.mode is not None else "$WANDB_MODE"
            fail(where, mode, "one of " + ", ".join(WANDB_MODES))

    def resolved_mode(self, environ=None) -> str:
        environ = os.environ if environ is None else environ
        return self.mode if self.mode is not None else environ.get("WANDB_MODE", "offline")

    def init_kwargs(self, run_dir, environ=None) -> dict:
        """The keyword arguments of `wandb.init` for a run in `run_dir`: this config's
        values where set, else the environment's, else the defaults (class doc)."""
        environ = os.environ if environ is None else environ
        return {
            "mode": self.resolved_mode(environ),
            "project": self.project or environ.get("WANDB_PROJECT", "marl"),
            "entity": self.entity or environ.get("WANDB_ENTITY"),
            "group": self.group or environ.get("WANDB_RUN_GROUP"),
            "tags": list(self.tags) or None,
            "name": self.name or Path(run_dir).name,
            "dir": environ.get("WANDB_DIR", str(run_dir)),
        }


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs; `algo` is checked by the algorithm itself."""

    env: EnvConfig = field(default_factory=EnvConfig)
    algo: dict = field(default_factory=dict)
    seed: int = 0
    num_seeds: int = 2
    total_steps: int = 100_000  # env steps per seed
    num_chunks: int = 20  # logging/checkpoint points; updates run in between in one jit
    scripted: dict = field(default_factory=dict)  # agent slot -> scripted policy name
    run_dir: str | None = None
    resume: str | None = None
    break_lock: bool = False  # take over a run folder whose lock a killed run left behind
    progress: bool = True
    checkpoint_keep: int = 2
    wandb: WandbConfig = field(default_factory=WandbConfig)
    sweep: dict = field(default_factory=dict)  # dotted key -> values (marl.sweeps.spec)
    distributed: typing.Any = None  # null | auto | {coordinator_address, ...} (several hosts)
    compiler_options: dict = field(default_factory=dict)  # XLA options of the chunk program

    def check(self, path):
        for key in ("num_seeds", "total_steps", "num_chunks", "checkpoint_keep"):
            if getattr(self, key) < 1:
                fail(key, getattr(self, key), "an integer >= 1")
        if not 0 <= self.seed < 2**32:  # jax.random.key takes it modulo 2**32
            fail("seed", self.seed, "an integer in [0, 2**32)")
        for key in ("run_dir", "resume"):
            if getattr(self, key) is not None and not getattr(self, key).strip():
                fail(key, getattr(self, key), "a folder path, or null")
        for slot, policy in self.scripted.items():
            # YAML gives int keys, the command line (+scripted.1=...) string digits.
            if isinstance(slot, bool) or not (
                isinstance(slot, int) or (isinstance(slot, str) and slot.isdigit())
            ):
                fail(f"scripted.{slot}", policy, "integer agent slots as keys")
        self.wandb.check("wandb")  # also when the key is absent: $WANDB_MODE may be bad
        from marl.sweeps.devices import check_distributed  # marl.sweeps imports this module

        check_distributed(self.distributed)


__all__ = ["ConfigError", "EnvConfig", "NetworkConfig", "RunConfig", "WandbConfig", "build"]
