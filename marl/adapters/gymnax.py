"""A gymnax-style single-agent view of a `marl` env, the other agents played by fixed
policies: for single-agent JAX RL code (PureJaxRL, gymnax's wrappers).

`single_agent(env, coplayers, agent=0)` plays `agent`'s slot from outside and every other
slot with its co-player: a scripted policy's name (`marl.scripted`, plugins included) or a
rule `(key, that agent's obs) -> action`. The view has gymnax's API:

    obs, state = view.reset(key, params)
    obs, state, reward, terminated, truncated, info = view.step(key, state, action, params)

with `view.default_params` (the env's params, so a sweep over them is a vmap as usual),
`observation_space(params)` and `action_space(params)` (with `.shape` and `.n`), and,
for an env made with `final_obs=True`, gymnax's `info["final_observation"]` (the focal
agent's observation before an auto-reset). `legacy=True` gives the older 5-tuple
`(obs, state, reward, done, info)` that PureJaxRL's scripts were written against. The
episode auto-resets as in `marl`; rewards and observations are the focal agent's.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import struct

from marl.env import Env
from marl.scripted import scripted_policy


@struct.dataclass
class SingleAgentState:
    env_state: object
    obs: jax.Array  # every agent's last observation: what the co-players act on


class SingleAgentView:
    """One agent's slot of a `marl` env, the others played by co-players (module doc)."""

    def __init__(self, env: Env, coplayers: dict, agent: int = 0, *, legacy: bool = False):
        n = env.num_agents
        if not 0 <= agent < n:
            raise ValueError(f"{env.name}: agent {agent} is not a slot; slots 0..{n - 1}")
        others = [i for i in range(n) if i != agent]
        given = {int(slot) for slot in coplayers}
        if given != set(others):
            raise ValueError(
                f"{env.name}: co-players for slots {sorted(given)}; the slots other than "
                f"agent {agent} are {others}, and each needs one"
            )
        self.env, self.agent, self.legacy = env, agent, legacy
        self.rules: dict[int, Callable] = {
            int(slot): scripted_policy(rule, env) if isinstance(rule, str) else rule
            for slot, rule in coplayers.items()
        }

    @property
    def name(self) -> str:
        return f"{self.env.name}[agent {self.agent}]"

    @property
    def num_actions(self) -> int:
        return self.env.action_space(self.env.default_params).n

    @property
    def default_params(self):
        return self.env.default_params

    def observation_space(self, params=None):
        return self.env.observation_space(self.default_params if params is None else params)

    def action_space(self, params=None):
        return self.env.action_space(self.default_params if params is None else params)

    def reset(self, key: jax.Array, params=None):
        obs, state = self.env.reset(key, params)
        return obs[self.agent], SingleAgentState(state, obs)

    def step(self, key: jax.Array, state: SingleAgentState, action, params=None):
        key_coplayers, key_env = jax.random.split(key)
        actions = jnp.zeros(self.env.num_agents, jnp.int32).at[self.agent].set(action)
        for slot, rule in self.rules.items():
            slot_key = jax.random.fold_in(key_coplayers, slot)
            actions = actions.at[slot].set(rule(slot_key, state.obs[slot]))
        obs, env_state, reward, done, info = self.env.step(
            key_env, state.env_state, actions, params
        )
        if "final_obs" in info:  # gymnax's name, the focal agent's observation
            info = {**info, "final_observation": info.pop("final_obs")[self.agent]}
        out_state = SingleAgentState(env_state, obs)
        if self.legacy:
            return obs[self.agent], out_state, reward[self.agent], done, info
        terminated, truncated = info["terminated"], info["truncated"]
        return obs[self.agent], out_state, reward[self.agent], terminated, truncated, info


def single_agent(env: Env, coplayers: dict, agent: int = 0, *, legacy: bool = False):
    """`env` as a gymnax-style single-agent env for slot `agent` (see module doc)."""
    return SingleAgentView(env, coplayers, agent, legacy=legacy)
