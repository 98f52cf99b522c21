"""`marl` envs as JaxMARL envs, and JaxMARL envs as `marl` envs.

`to_jaxmarl(env, params)` gives a `jaxmarl.environments.MultiAgentEnv`: observations,
rewards and dones are dicts keyed by agent name (`agent_0`, ...), dones carry
`"__all__"`, `observation_space(agent)` and `action_space(agent)` are JaxMARL spaces, and
info entries are per agent (a scalar is repeated for every agent), so JaxMARL's
baselines and wrappers (`LogWrapper`, IPPO's `batchify`) run on any `marl` env
unchanged. `step` keeps `marl`'s auto-reset (one observation per step); a `reset_state`
argument takes JaxMARL's own path. Observations are float32 unless `float_obs=False`.

`from_jaxmarl(env)` gives a `marl.Env`, agents on a leading axis, so `marl`'s algorithms
and tools run on a JaxMARL env: every agent must have the same observation shape and
number of actions. A JaxMARL env has no params argument (its rules are fixed when it is
built), so its `marl` params are empty. JaxMARL does not tell a time limit from a
terminal state: an episode end is `terminated` unless `time_limit=True` says it is a
truncation (then algorithms may bootstrap from `info["final_obs"]` with `final_obs=True`).
Its own `info` is kept under `info["jaxmarl"]`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from marl.env import Env
from marl.registry import EnvSpec, register
from marl.spaces import Box, Discrete

try:
    import jaxmarl
    from jaxmarl.environments import spaces as jaxmarl_spaces
    from jaxmarl.environments.multi_agent_env import MultiAgentEnv
except ImportError as err:  # pragma: no cover - the message is the point
    raise ImportError(
        f"{__name__} needs jaxmarl: pip install 'marl-dilemmas[adapters]' (or jaxmarl)"
    ) from err


# ---- a marl env as a JaxMARL env ---------------------------------------------------------
class JaxMARLView(MultiAgentEnv):
    """A `marl` env with fixed params, as JaxMARL's `MultiAgentEnv` (see module doc)."""

    def __init__(self, env: Env, params=None, *, float_obs: bool = True):
        super().__init__(env.num_agents)
        self.env = env
        self.params = env.default_params if params is None else params
        self.float_obs = float_obs
        space = env.observation_space(self.params)
        dtype = jnp.float32 if float_obs else space.dtype
        n = env.action_space(self.params).n
        for agent in self.agents:
            self.observation_spaces[agent] = jaxmarl_spaces.Box(
                space.low, space.high, space.shape, dtype
            )
            self.action_spaces[agent] = jaxmarl_spaces.Discrete(n)

    @property
    def name(self) -> str:
        return self.env.name

    def _by_agent(self, values: jax.Array) -> dict:
        return {agent: values[i] for i, agent in enumerate(self.agents)}

    def _obs(self, obs: jax.Array) -> dict:
        return self._by_agent(obs.astype(jnp.float32) if self.float_obs else obs)

    def _stack(self, actions: dict) -> jax.Array:
        return jnp.stack([jnp.asarray(actions[a], jnp.int32) for a in self.agents])

    def _per_agent(self, info: dict) -> dict:
        """Scalars repeated per agent: JaxMARL's baselines reshape every info leaf to
        (num_envs x num_agents)."""
        n = self.num_agents
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,)) if jnp.ndim(x) == 0 else x, info)

    def _dones(self, done: jax.Array) -> dict:
        return {**{agent: done for agent in self.agents}, "__all__": done}

    @partial(jax.jit, static_argnums=(0,))
    def reset(self, key):
        obs, state = self.env.reset(key, self.params)
        return self._obs(obs), state

    @partial(jax.jit, static_argnums=(0,))
    def step(self, key, state, actions, reset_state=None):
        if reset_state is not None:  # JaxMARL's own select against a given reset state
            return super().step(key, state, actions, reset_state)
        obs, state, reward, done, info = self.env.step(
            key, state, self._stack(actions), self.params
        )
        out = self._obs(obs), state, self._by_agent(reward), self._dones(done)
        return (*out, self._per_agent(info))

    def step_env(self, key, state, actions):
        """One transition without the reset (what JaxMARL's base `step` composes)."""
        actions = self.env._valid_actions(self._stack(actions), self.params)
        state, reward, done, info = self.env.transition(key, state, actions, self.params)
        obs = self.env.observe(state, self.params)
        out = self._obs(obs), state, self._by_agent(reward), self._dones(done)
        return (*out, self._per_agent(dict(info)))

    def get_obs(self, state) -> dict:
        return self._obs(self.env.observe(state, self.params))


def to_jaxmarl(env: Env, params=None, *, float_obs: bool = True) -> JaxMARLView:
    """`env` (with `params`, default its own) as a JaxMARL `MultiAgentEnv`."""
    return JaxMARLView(env, params, float_obs=float_obs)


# ---- a JaxMARL env as a marl env ---------------------------------------------------------
@struct.dataclass
class NoParams:
    """A JaxMARL env's rules are fixed when it is built: nothing to pass or sweep."""


def _marl_space(space, what: str):
    if isinstance(space, jaxmarl_spaces.Discrete):
        return Discrete(int(space.n))
    if isinstance(space, jaxmarl_spaces.Box):
        low, high = jnp.min(jnp.asarray(space.low)), jnp.max(jnp.asarray(space.high))
        return Box(float(low), float(high), tuple(space.shape), space.dtype)
    raise ValueError(f"{what} is a {type(space).__name__}; only Discrete and Box adapt")


class FromJaxMARL(Env):
    """A JaxMARL `MultiAgentEnv` as a `marl.Env` (see module doc)."""

    invalid_action = 0

    def __init__(self, env, *, time_limit: bool = False, final_obs: bool = False):
        super().__init__(final_obs=final_obs)
        if "get_obs" not in vars(env) and type(env).get_obs is MultiAgentEnv.get_obs:
            raise ValueError(f"{type(env).__name__} has no get_obs; it cannot be adapted")
        self.jaxmarl_env = env
        self.agents = list(env.agents)
        self.num_agents = len(self.agents)
        self.time_limit = time_limit
        spaces = {
            kind: [_marl_space(get(a), f"{kind} space of {a}") for a in self.agents]
            for kind, get in (("observation", env.observation_space), ("action", env.action_space))
        }
        for kind, per_agent in spaces.items():
            if any(s != per_agent[0] for s in per_agent):
                raise ValueError(
                    f"{type(env).__name__}: agents have different {kind} spaces "
                    f"({', '.join(map(str, per_agent))}); marl needs one per env"
                )
        self._observation_space = spaces["observation"][0]
        self._action_space = spaces["action"][0]
        if not isinstance(self._action_space, Discrete):
            raise ValueError(f"{type(env).__name__}: marl needs discrete actions")

    @property
    def name(self) -> str:
        return getattr(self, "registered_name", f"jaxmarl:{self.jaxmarl_env.name}")

    @property
    def default_params(self) -> NoParams:
        return NoParams()

    def init_state(self, key, params):
        return self.jaxmarl_env.reset(key)[1]

    def transition(self, key, state, actions, params):
        by_agent = {a: actions[i] for i, a in enumerate(self.agents)}
        _, state, rewards, dones, info = self.jaxmarl_env.step_env(key, state, by_agent)
        reward = jnp.stack([rewards[a] for a in self.agents]).astype(jnp.float32)
        done = jnp.asarray(dones["__all__"], bool)
        never = jnp.zeros((), bool)
        terminated, truncated = (never, done) if self.time_limit else (done, never)
        info = {"terminated": terminated, "truncated": truncated, "jaxmarl": info}
        return state, reward, done, info

    def observe(self, state, params) -> jax.Array:
        obs = self.jaxmarl_env.get_obs(state)
        return jnp.stack([obs[a] for a in self.agents]).astype(self._observation_space.dtype)

    def observation_space(self, params=None) -> Box:
        return self._observation_space

    def action_space(self, params=None) -> Discrete:
        return self._action_space


def from_jaxmarl(env, *, time_limit: bool = False, final_obs: bool = False, **kwargs):
    """A JaxMARL env (an instance, or a name for `jaxmarl.make(name, **kwargs)`) as a
    `marl` env: returns `(env, params)` like `marl.make`."""
    if isinstance(env, str):
        env = jaxmarl.make(env, **kwargs)
    elif kwargs:
        raise ValueError(f"keyword arguments {sorted(kwargs)} need an env name, not an env")
    adapted = FromJaxMARL(env, time_limit=time_limit, final_obs=final_obs)
    return adapted, adapted.default_params


def register_jaxmarl(name: str, jaxmarl_name: str, **kwargs) -> None:
    """Register `jaxmarl.make(jaxmarl_name, **kwargs)` as the `marl` env `name`, so
    `marl.make(name)` and `marl-train env.name=<name>` build it (e.g. from a plugin)."""

    def build(*, time_limit: bool = False, final_obs: bool = False):
        return FromJaxMARL(
            jaxmarl.make(jaxmarl_name, **kwargs), time_limit=time_limit, final_obs=final_obs
        )

    register(EnvSpec(name, build, description=f"JaxMARL's {jaxmarl_name}"))
