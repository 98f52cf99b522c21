"""Wrappers: episode statistics and reward transforms, for any environment.

A wrapper has the environment API (`reset`, `step`, spaces, `num_agents`) and forwards
everything else to the environment it wraps. Reward transforms keep the environment's own
reward in `info["env_reward"]`, which EpisodeStats prefers, so the social metrics
always describe the game's real payoffs whatever order the wrappers come in.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from marl.env import Env
from marl.validation import check_choice, check_range


class Wrapper:
    def __init__(self, env: Env):
        self.env = env

    def __getattr__(self, name):
        return getattr(self.env, name)

    @property
    def unwrapped(self) -> Env:
        return getattr(self.env, "unwrapped", self.env)

    def wrap_params(self, env_params):
        """This wrapper's params around the wrapped env's (most wrappers add none)."""
        inner = getattr(self.env, "wrap_params", None)
        return env_params if inner is None else inner(env_params)


def _keep_env_reward(info: dict, reward: jax.Array) -> dict:
    info = dict(info)
    info.setdefault("env_reward", reward)
    return info


# ---- episode statistics -------------------------------------------------------------------
@struct.dataclass
class EpisodeTotals:
    returns: jax.Array  # float32[N]
    length: jax.Array  # int32[]
    reward_time_sum: jax.Array  # float32[N], sum of the steps with a positive reward
    reward_steps: jax.Array  # int32[N], how many steps had a positive reward
    timed_out: jax.Array  # int32[N], steps spent removed from the game
    events: dict  # summed `info` entries named by env.episode_events


@struct.dataclass
class EpisodeStatsState:
    env_state: object
    running: EpisodeTotals


class EpisodeStats(Wrapper):
    """Accumulates each episode's statistics; on the step an episode ends, emits them.

    `info["episode"]` holds the totals of the episode that ended on this step (valid where
    `info["returned_episode"]` is true); `marl.metrics.episode_summary` turns them into
    the social metrics and the game's rates.
    """

    def _zeros(self, events: dict) -> EpisodeTotals:
        n = self.env.num_agents
        return EpisodeTotals(
            returns=jnp.zeros(n, jnp.float32),
            length=jnp.zeros((), jnp.int32),
            reward_time_sum=jnp.zeros(n, jnp.float32),
            reward_steps=jnp.zeros(n, jnp.int32),
            timed_out=jnp.zeros(n, jnp.int32),
            events=events,
        )

    def _event_shapes(self, key, params):
        """The info layout, from an abstract step (no compute): needed to size the totals."""
        _, state = jax.eval_shape(self.env.reset, key, params)
        actions = jax.ShapeDtypeStruct((self.env.num_agents,), jnp.int32)
        out = jax.eval_shape(self.env.step, key, state, actions, params)
        return {k: jnp.zeros(out[4][k].shape, jnp.float32) for k in self.episode_events}

    def reset(self, key, params=None):
        obs, env_state = self.env.reset(key, params)
        params = self.env.default_params if params is None else params
        running = self._zeros(self._event_shapes(key, params))
        return obs, EpisodeStatsState(env_state, running)

    def step(self, key, state: EpisodeStatsState, actions, params=None):
        obs, env_state, reward, done, info = self.env.step(key, state.env_state, actions, params)
        env_reward = info.get("env_reward", reward)
        run = state.running
        t = run.length + 1
        positive = env_reward > 0
        timed_out = info.get("timed_out", jnp.zeros(self.env.num_agents, bool))
        totals = EpisodeTotals(
            returns=run.returns + env_reward,
            length=t,
            reward_time_sum=run.reward_time_sum + jnp.where(positive, t, 0).astype(jnp.float32),
            reward_steps=run.reward_steps + positive.astype(jnp.int32),
            timed_out=run.timed_out + timed_out.astype(jnp.int32),
            events={k: v + info[k].astype(jnp.float32) for k, v in run.events.items()},
        )
        info = dict(info)
        info["episode"] = {
            "returns": totals.returns,
            "length": totals.length,
            "reward_time_sum": totals.reward_time_sum,
            "reward_steps": totals.reward_steps,
            "timed_out": totals.timed_out,
            "events": totals.events,
        }
        info["returned_episode"] = done
        running = jax.tree.map(lambda v: jnp.where(done, jnp.zeros_like(v), v), totals)
        return obs, EpisodeStatsState(env_state, running), reward, done, info


# ---- reward transforms --------------------------------------------------------------------
class Collective(Wrapper):
    """Every agent receives the mean (or the sum) of all agents' rewards."""

    def __init__(self, env: Env, aggregate: str = "mean"):
        super().__init__(env)
        check_choice("collective", "aggregate", aggregate, {"mean", "sum"})
        self.aggregate = aggregate

    def step(self, key, state, actions, params=None):
        obs, state, reward, done, info = self.env.step(key, state, actions, params)
        pooled = reward.mean() if self.aggregate == "mean" else reward.sum()
        shared = jnp.full_like(reward, pooled)
        return obs, state, shared, done, _keep_env_reward(info, reward)


@struct.dataclass
class TransformParams:
    """A reward transform's weights (array leaves, so they vmap) and the env's params."""

    env: object
    weights: dict


@struct.dataclass
class InequityState:
    env_state: object
    smoothed: jax.Array  # e_i, float32[N]


class _WeightedTransform(Wrapper):
    """Shared plumbing of transforms whose weights live in the params pytree."""

    defaults: dict = {}
    bounds: dict = {}

    def __init__(self, env: Env, **weights):
        super().__init__(env)
        unknown = set(weights) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown weight {sorted(unknown)}; "
                f"allowed: {sorted(self.defaults)}"
            )
        self.weights = {**self.defaults, **weights}
        for k, v in self.weights.items():
            check_range(type(self).__name__, k, v, *self.bounds.get(k, (None, None)))

    @property
    def default_params(self):
        weights = {k: jnp.asarray(v, jnp.float32) for k, v in self.weights.items()}
        return TransformParams(env=self.env.default_params, weights=weights)

    def wrap_params(self, env_params) -> TransformParams:
        return self.default_params.replace(env=super().wrap_params(env_params))

    def _split(self, params):
        params = self.default_params if params is None else params
        return params.env, params.weights


class InequityAversion(_WeightedTransform):
    """Hughes et al. 2018: envy (alpha) and guilt (beta) on temporally smoothed rewards.

    e_i <- gamma * lam * e_i + r_i;
    u_i = r_i - alpha/(N-1) sum_j max(e_j - e_i, 0) - beta/(N-1) sum_j max(e_i - e_j, 0).
    The smoothed rewards restart at zero with each episode.
    """

    defaults = {"alpha": 5.0, "beta": 0.05, "gamma": 0.99, "lam": 0.95}
    bounds = {"gamma": (0.0, 1.0), "lam": (0.0, 1.0)}

    def reset(self, key, params=None):
        env_params, _ = self._split(params)
        obs, env_state = self.env.reset(key, env_params)
        return obs, InequityState(env_state, jnp.zeros(self.env.num_agents, jnp.float32))

    def step(self, key, state: InequityState, actions, params=None):
        env_params, w = self._split(params)
        obs, env_state, reward, done, info = self.env.step(
            key, state.env_state, actions, env_params
        )
        smoothed = w["gamma"] * w["lam"] * state.smoothed + reward
        diff = smoothed[None, :] - smoothed[:, None]  # [i, j] = e_j - e_i
        others = max(self.env.num_agents - 1, 1)
        envy = jnp.maximum(diff, 0.0).sum(1) / others
        guilt = jnp.maximum(-diff, 0.0).sum(1) / others
        shaped = reward - w["alpha"] * envy - w["beta"] * guilt
        smoothed = jnp.where(done, 0.0, smoothed)
        info = _keep_env_reward(info, reward)
        return obs, InequityState(env_state, smoothed), shaped, done, info


class SocialValueOrientation(_WeightedTransform):
    """u_i = r_i - w |theta - atan2(mean_{j != i} r_j, r_i)|; theta = pi/4 is prosocial."""

    defaults = {"w": 0.2, "theta": float(jnp.pi / 4)}
    bounds = {"w": (0.0, None), "theta": (-float(jnp.pi), float(jnp.pi))}

    def reset(self, key, params=None):
        env_params, _ = self._split(params)
        return self.env.reset(key, env_params)

    def step(self, key, state, actions, params=None):
        env_params, w = self._split(params)
        obs, state, reward, done, info = self.env.step(key, state, actions, env_params)
        n = self.env.num_agents
        others_mean = (reward.sum() - reward) / max(n - 1, 1)
        angle = jnp.arctan2(others_mean, reward)
        shaped = reward - w["w"] * jnp.abs(w["theta"] - angle)
        return obs, state, shaped, done, _keep_env_reward(info, reward)


REWARD_TRANSFORMS = {
    "collective": Collective,
    "inequity_aversion": InequityAversion,
    "svo": SocialValueOrientation,
}


def reward_transform(env: Env, name: str, **kwargs):
    """Wrap `env` in the reward transform called `name` (see REWARD_TRANSFORMS)."""
    if name not in REWARD_TRANSFORMS:
        raise ValueError(
            f"unknown reward transform {name!r}; choose from {', '.join(REWARD_TRANSFORMS)}"
        )
    return REWARD_TRANSFORMS[name](env, **kwargs)
