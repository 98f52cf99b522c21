"""One policy interface for every algorithm, and loading trained policies from a run folder.

Every trainer's `policy(state)` returns a `Policy` that acts for all agents of ONE
environment; vmap it over environments. A recurrent policy (PPO with a GRU) threads its
hidden state through `carry`; the others carry `None`. Evaluation (`marl-eval`), rendering
(`marl-render --checkpoint ...`) and tests use only this interface, so they work the same for
PPO, DQN, LOLA and what comes next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import yaml

import marl
from marl.config import ConfigError
from marl.training.checkpoint import Checkpointer, CheckpointMismatch


@dataclass(frozen=True)
class Policy:
    """`init()` -> carry for one env; `act(key, obs [A, ...], carry, done)` -> (actions
    int32 [A], carry). `done` is True on the first step of an episode (after a reset), so
    a recurrent policy starts from a fresh hidden state."""

    init: Callable[[], Any]
    act: Callable[[jax.Array, jax.Array, Any, jax.Array], tuple[jax.Array, Any]]


def stateless(act: Callable[[jax.Array, jax.Array], jax.Array]) -> Policy:
    """A Policy from `act(key, obs [A, ...]) -> actions [A]` that keeps no memory."""
    return Policy(init=lambda: None, act=lambda key, obs, carry, done: (act(key, obs), carry))


def from_agent_rule(rule: Callable[[jax.Array, jax.Array], jax.Array], num_agents: int) -> Policy:
    """Every agent plays `rule(key, one agent's obs) -> action` (a scripted policy)."""

    def act(key, obs):
        keys = jax.random.split(key, num_agents)
        return jax.vmap(rule)(keys, obs).astype(jnp.int32)

    return stateless(act)


def mix(policies: list[Policy], slot_owner: list[int]) -> Policy:
    """Agent slot i is played by `policies[slot_owner[i]]` (each policy acts for every slot
    and the unused actions are dropped; that keeps recurrent carries well-formed)."""
    owner = jnp.asarray(slot_owner, jnp.int32)

    def init():
        return tuple(p.init() for p in policies)

    def act(key, obs, carry, done):
        keys = jax.random.split(key, len(policies))
        outs = [p.act(k, obs, c, done) for p, k, c in zip(policies, keys, carry, strict=True)]
        actions = jnp.stack([a for a, _ in outs])  # [P, A]
        chosen = jnp.take_along_axis(actions, owner[None], axis=0)[0]
        return chosen, tuple(c for _, c in outs)

    return Policy(init=init, act=act)


@dataclass
class TrainedRun:
    """A finished (or checkpointed) `marl-train` run: its config, the environment it was
    trained on WITHOUT reward transforms or statistics wrappers (evaluation and rendering
    look at the game's own rewards), the trainer, and its state for all seeds."""

    run_dir: Path
    config: dict
    env: Any
    env_params: Any
    trainer: Any
    state: Any  # leaves have a leading seed axis
    chunk: int

    @property
    def num_seeds(self) -> int:
        return int(self.config["num_seeds"])

    def policy_of(self, seed: int = 0) -> Policy:
        if not 0 <= seed < self.num_seeds:
            raise ValueError(f"{self.run_dir} has seeds 0..{self.num_seeds - 1}; got {seed}")
        return self.trainer.policy(jax.tree.map(lambda x: x[seed], self.state))


@dataclass
class Loaded:
    """`load()`'s answer: one seed's policy with the game it plays."""

    run: TrainedRun
    env: Any
    env_params: Any
    policy: Policy


def raw_env(config: dict):
    """The game of a stored config, made with its preset and args but no wrappers."""
    env_cfg = config["env"]
    args = dict(env_cfg.get("args") or {})
    if env_cfg.get("preset") is not None:
        args["preset"] = env_cfg["preset"]
    return marl.make(env_cfg["name"], **args)


def load_run(run_dir: str | Path, chunk: int | None = None) -> TrainedRun:
    """Rebuild the trainer of `run_dir` from its config.yaml and restore its newest (or
    `chunk`) checkpoint. Errors name what is missing or does not match."""
    from marl.train import setup  # the driver imports algorithms; keep this module light

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.exists():
        raise ConfigError(f"{run_dir} has no config.yaml; is it a marl-train run folder?")
    config = yaml.safe_load(config_path.read_text())
    config["resume"] = None
    cfg, _, trainer, _ = setup(config)
    checkpoints = Checkpointer(run_dir / "checkpoints")
    try:
        if checkpoints.latest() is None:
            raise CheckpointMismatch(f"{run_dir / 'checkpoints'} holds no checkpoint")
        keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.num_seeds)
        template = jax.eval_shape(jax.vmap(trainer.init), keys)  # shapes only: no compile
        state, meta = checkpoints.restore(template, chunk)
    finally:
        checkpoints.close()
    env, env_params = raw_env(config)
    return TrainedRun(run_dir, config, env, env_params, trainer, state, int(meta["chunk"]))


def load(run_dir: str | Path, seed: int = 0, chunk: int | None = None) -> Loaded:
    """The trained policy of seed `seed` in `run_dir`, with its (unwrapped) game."""
    run = load_run(run_dir, chunk)
    return Loaded(run, run.env, run.env_params, run.policy_of(seed))
