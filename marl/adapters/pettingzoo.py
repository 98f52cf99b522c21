"""A `marl` env as a PettingZoo `ParallelEnv`: one game, NumPy in and out.

For code written against PettingZoo (and libraries built on it): `to_pettingzoo(env,
params)` plays one game at a time, with the usual dicts keyed by agent name
(`agent_0`, ...), gymnasium spaces, `reset(seed=..., options=None)` and `step(actions)`
returning observations, rewards, terminations, truncations and infos. When the episode
ends every agent is done and `agents` is empty until the next `reset` (the view does not
auto-reset, so the last observation is the terminal one). The env's functions are
jitted once per view; randomness comes from the key of `reset`'s seed, split per step,
so a seed replays the same game. Actions outside the action space are refused with a
ValueError naming the agent. `render()` returns the env's RGB image with
`render_mode="rgb_array"`. This is for compatibility, not speed: `marl`'s own API runs
thousands of games in one compiled program.
"""

from __future__ import annotations

import jax
import numpy as np

from marl.env import Env
from marl.spaces import Discrete

try:
    import gymnasium
    from pettingzoo import ParallelEnv
except ImportError as err:  # pragma: no cover - the message is the point
    raise ImportError(
        f"{__name__} needs pettingzoo: pip install 'marl-dilemmas[adapters]' (or pettingzoo)"
    ) from err


def _gymnasium_space(space):
    if isinstance(space, Discrete):
        return gymnasium.spaces.Discrete(space.n)
    return gymnasium.spaces.Box(space.low, space.high, space.shape, np.dtype(space.dtype))


class PettingZooView(ParallelEnv):
    """One `marl` game as a PettingZoo `ParallelEnv` (see module doc)."""

    def __init__(self, env: Env, params=None, *, render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}; choose None or 'rgb_array'")
        self.env = env
        self.params = env.default_params if params is None else params
        self.render_mode = render_mode
        self.metadata = {"name": env.name, "render_modes": ["rgb_array"], "is_parallelizable": True}
        self.possible_agents = [f"agent_{i}" for i in range(env.num_agents)]
        self.agents: list[str] = []
        self._spaces = {
            "observation": _gymnasium_space(env.observation_space(self.params)),
            "action": _gymnasium_space(env.action_space(self.params)),
        }
        self._reset = jax.jit(lambda key: env.reset(key, self.params))
        self._transition = jax.jit(self._transition_and_observe)
        self._render = jax.jit(lambda state: env.render(state, self.params))
        self._key = jax.random.key(0)
        self._state = None

    def _transition_and_observe(self, key, state, actions):
        state, reward, _, info = self.env.transition(key, state, actions, self.params)
        return self.env.observe(state, self.params), state, reward, info

    def observation_space(self, agent: str):
        self._check_agent(agent)
        return self._spaces["observation"]

    def action_space(self, agent: str):
        self._check_agent(agent)
        return self._spaces["action"]

    def _check_agent(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise ValueError(f"{self.env.name}: no agent {agent!r}; agents {self.possible_agents}")

    def _by_agent(self, values) -> dict:
        return {agent: values[i] for i, agent in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._key = jax.random.key(seed)
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(key)
        self.agents = list(self.possible_agents)
        return self._by_agent(np.asarray(obs)), {agent: {} for agent in self.agents}

    def _actions(self, actions: dict) -> np.ndarray:
        missing = [a for a in self.agents if a not in actions]
        extra = [a for a in actions if a not in self.agents]
        if missing or extra:
            raise ValueError(
                f"{self.env.name}: actions for {sorted(actions)}; the live agents are "
                f"{self.agents}" + (" (call reset: the episode is over)" if not self.agents else "")
            )
        n = self._spaces["action"].n
        for agent, action in actions.items():
            if not (
                np.ndim(action) == 0
                and np.issubdtype(np.asarray(action).dtype, np.integer)
                and 0 <= int(action) < n
            ):
                raise ValueError(
                    f"{self.env.name}: action {action!r} of {agent} is outside the action "
                    f"space [0, {n - 1}]"
                )
        return np.asarray([int(actions[a]) for a in self.possible_agents], np.int32)

    def step(self, actions: dict):
        joint = self._actions(actions)
        self._key, key = jax.random.split(self._key)
        obs, self._state, reward, info = self._transition(key, self._state, joint)
        terminated, truncated = bool(info["terminated"]), bool(info["truncated"])
        events = {k: np.asarray(v) for k, v in info.items() if k not in ("terminated", "truncated")}
        infos = {
            agent: {k: v[i] if v.ndim and len(v) == len(joint) else v for k, v in events.items()}
            for i, agent in enumerate(self.possible_agents)
        }
        out = (
            self._by_agent(np.asarray(obs)),
            self._by_agent(np.asarray(reward).astype(float).tolist()),
            {agent: terminated for agent in self.possible_agents},
            {agent: truncated for agent in self.possible_agents},
            infos,
        )
        if terminated or truncated:
            self.agents = []
        return out

    def render(self):
        if self.render_mode is None or self._state is None:
            return None
        return np.asarray(self._render(self._state))

    def close(self) -> None:
        pass


def to_pettingzoo(env: Env, params=None, *, render_mode: str | None = None) -> PettingZooView:
    """`env` (with `params`, default its own) as a PettingZoo `ParallelEnv`."""
    return PettingZooView(env, params, render_mode=render_mode)
