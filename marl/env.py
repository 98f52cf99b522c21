"""The environment base class: agents on a leading axis, params passed into every call.

An environment implements three pure functions:

- `init_state(key, params) -> state`: a fresh episode's first state;
- `transition(key, state, actions, params) -> state, reward, done, info`: one step of the
  rules; `info` carries "terminated" and "truncated" (bool[]) and per-agent event counts;
- `observe(state, params) -> obs`: every agent's observation, agent axis first.

The base class composes them into `reset` and an auto-resetting `step`. `step` selects a
fresh `init_state` where the episode ended and calls `observe` once on the result, so the
reset costs a cheap state select rather than a second observation on every step.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Info = dict[str, jax.Array]


def is_concrete(x: Any) -> bool:
    """True when `x` holds values now (not a tracer inside jit/vmap/grad)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(x))


class Env:
    """Base class of every environment. Subclasses set `num_agents` and `default_params`."""

    num_agents: int
    # A continuing task never ends an episode, so `step` skips the reset work entirely.
    continuing: bool = False
    # Names of `info` entries that the episode-statistics wrapper sums over an episode.
    episode_events: tuple[str, ...] = ()

    def __init__(self, *, final_obs: bool = False):
        # Observing the terminal state costs a second `observe`; it is opt-in.
        self.final_obs = final_obs

    # ---- implemented by each environment -------------------------------------------------
    @property
    def default_params(self):
        raise NotImplementedError

    def init_state(self, key: jax.Array, params) -> Any:
        raise NotImplementedError

    def transition(self, key: jax.Array, state, actions: jax.Array, params):
        raise NotImplementedError

    def observe(self, state, params) -> jax.Array:
        raise NotImplementedError

    def observation_space(self, params):
        raise NotImplementedError

    def action_space(self, params):
        raise NotImplementedError

    def check_params(self, params) -> None:
        """Raise ValueError for a param value outside its allowed range (concrete only)."""

    def episode_metrics(self, totals: Info, length: jax.Array) -> Info:
        """Game-specific rates from one episode's summed events (see `episode_events`)."""
        return {}

    def render(self, state, params) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} has no renderer yet")

    # ---- composed by the base class ------------------------------------------------------
    @property
    def name(self) -> str:
        """The registered name when built by `marl.make`, else the class name."""
        return getattr(self, "registered_name", type(self).__name__)

    def reset(self, key: jax.Array, params=None):
        params = self.default_params if params is None else params
        if is_concrete(params):
            self.check_params(params)
        state = self.init_state(key, params)
        return self.observe(state, params), state

    def step(self, key: jax.Array, state, actions: jax.Array, params=None):
        params = self.default_params if params is None else params
        self.check_actions(actions)
        key_rules, key_reset = jax.random.split(key)
        state, reward, done, info = self.transition(key_rules, state, actions, params)
        info = dict(info)
        if self.final_obs:
            info["final_obs"] = self.observe(state, params)
        if not self.continuing:
            fresh = self.init_state(key_reset, params)
            state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, state)
        return self.observe(state, params), state, reward, done, info

    def check_actions(self, actions) -> None:
        """Shape and dtype are static, so a wrong action array fails here, at trace time."""
        shape = getattr(actions, "shape", None)
        dtype = getattr(actions, "dtype", None)
        if shape != (self.num_agents,):
            raise ValueError(
                f"{self.name}: actions must have shape ({self.num_agents},) (one per agent), "
                f"got shape {shape}"
            )
        if dtype is None or not jnp.issubdtype(dtype, jnp.integer):
            raise ValueError(f"{self.name}: actions must be an integer array, got dtype {dtype}")
