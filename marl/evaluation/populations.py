"""Populations: the policies an evaluation draws from, grouped by the code they run.

A `Population` is a set of policies that share code and differ only in parameters: the
seeds of a `marl-train` run, or one scripted policy. Evaluation programs vmap over its
members, so a league of three runs with four seeds each compiles the policies of three
populations, not twelve. Members are named `label:seedK` (trained) or by the scripted
policy's name; `parse_member` turns the command-line forms (`runs/mine`, `runs/mine:2`,
`scripted:greedy_eater`) into populations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from marl.config import ConfigError
from marl.policy import Policy, TrainedRun, from_agent_rule, load_run, raw_env
from marl.scripted import names_for, scripted_policy

SCRIPTED_PREFIX = "scripted:"
# Trained at another episode length is still the same game (scenarios, leagues, ...).
LENGTH_ARGS = ("episode_length", "horizon")


@dataclass
class Population:
    """Policies that share code and differ in parameters: `make(states[i])` is member i."""

    names: list[str]
    make: Callable[[Any], Policy]
    states: Any  # pytree with a leading member axis (len(names))
    learner_slots: np.ndarray  # bool [A]: slots this policy was trained to play

    @property
    def size(self) -> int:
        return len(self.names)

    def only(self, index: int) -> Population:
        """The one-member population of member `index` (a run's seed)."""
        if not 0 <= index < self.size:
            raise ConfigError(f"{self.names[0]}: members 0..{self.size - 1}; got {index}")
        states = jax.tree.map(lambda x: x[index : index + 1], self.states)
        return Population([self.names[index]], self.make, states, self.learner_slots)


def trained(run: TrainedRun, label: str) -> Population:
    """Every seed of a trained run, one member each."""
    learner = np.asarray(getattr(run.trainer, "learner", np.ones(run.env.num_agents, bool)))
    return Population(
        [f"{label}:seed{s}" for s in range(run.num_seeds)],
        run.trainer.policy,
        run.state,
        learner,
    )


def scripted(name: str, env) -> Population:
    """The scripted policy `name` playing every slot (one member); ValueError if unknown."""
    policy = from_agent_rule(scripted_policy(name, env), env.num_agents)
    return Population([name], lambda _: policy, jnp.zeros(1), np.ones(env.num_agents, bool))


def fixed(name: str, policy: Policy, num_agents: int) -> Population:
    """A one-member population from any `Policy` (hand-written programs, tests)."""
    return Population([name], lambda _: policy, jnp.zeros(1), np.ones(num_agents, bool))


def env_signature(env_config: dict, ignore: tuple[str, ...] = ()) -> tuple:
    """What makes two stored env configs the same game: name, preset and constructor args
    (less the args in `ignore`)."""
    args = {k: v for k, v in (env_config.get("args") or {}).items() if k not in ignore}
    return env_config["name"], env_config.get("preset"), args


def describe(signature: tuple) -> str:
    name, preset, args = signature
    return f"{name} (preset {preset}, args {args})"


def check_same_game(run: TrainedRun, expected: tuple, what: str, ignore=()) -> None:
    """ConfigError unless `run` was trained on the game `expected` (an `env_signature`)."""
    got = env_signature(run.config["env"], ignore)
    if got != expected:
        raise ConfigError(
            f"{what}: {run.run_dir} was trained on {describe(got)}, but this evaluation "
            f"plays {describe(expected)}; evaluate it in its own game"
        )


def split_chunk(spec: str) -> tuple[str, int | None]:
    """`RUN_DIR:CHUNK` -> (RUN_DIR, CHUNK); a plain run folder -> (it, None)."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit() and not Path(spec).exists():
        return head, int(tail)
    return spec, None


def parse_member(spec: str, env, signature: tuple, what: str, ignore=()) -> Population:
    """`scripted:NAME`, a run folder, or `RUN_DIR:CHUNK` (an older checkpoint), checked
    against the game (`signature`, an `env_signature` without the args in `ignore`)
    before anything compiles."""
    if spec.startswith(SCRIPTED_PREFIX):
        name = spec[len(SCRIPTED_PREFIX) :]
        if name not in names_for(env):
            raise ConfigError(
                f"{what}: {name!r} is not a scripted policy for {env.name}; "
                f"choose from {', '.join(names_for(env))}"
            )
        return scripted(name, env)
    path, chunk = split_chunk(spec)
    run = load_run(path, chunk)
    check_same_game(run, signature, what, ignore)
    label = Path(path).name if chunk is None else f"{Path(path).name}@{chunk}"
    return trained(run, label)


def env_config(spec) -> dict:
    """A configs/env file by name (or a dict with `name`), with `preset`/`args` overrides."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {})
    if "name" not in spec:
        raise ConfigError("env: give the env's name (a configs/env file)")
    base_file = resources.files("marl.configs").joinpath("env", f"{spec['name']}.yaml")
    base = yaml.safe_load(base_file.read_text()) if base_file.is_file() else {}
    unknown = set(spec) - {"name", "preset", "args"}
    if unknown:
        raise ConfigError(f"env: unknown keys {sorted(unknown)}; use name, preset, args")
    args = {**(base.get("args") or {}), **(spec.get("args") or {})}
    return {"name": spec["name"], "preset": spec.get("preset", base.get("preset")), "args": args}


@dataclass
class Game:
    """The game an evaluation plays (a stored `env` config, made without wrappers), and
    its members, each checked to be a run of this game up to the episode length."""

    config: dict
    env: Any
    params: Any

    @classmethod
    def of(cls, config: dict) -> Game:
        env, params = raw_env({"env": config})
        return cls(config, env, params)

    @property
    def signature(self) -> tuple:
        return env_signature(self.config, LENGTH_ARGS)

    def member(self, spec: str, what: str) -> Population:
        """`parse_member` against this game."""
        return parse_member(spec, self.env, self.signature, what, LENGTH_ARGS)
