"""What the apple games share: Gathering, Harvest and Cleanup (docs/envs/<game>.md).

In each of them agents walk a static map (engine rules in `engine.py`), eat the apples that
grow on a static list of apple cells (`apple_reward` each), fire beams at each other, and
report the same per-step events and episode statistics. They differ in how eaten apples
come back (fixed delay, density-dependent regrowth, river pollution) and in what else a
beam does; those rules stay in each game's module.

`AppleGame` is their base class. A subclass builds `self.engine` (a `GridEngine`),
`self.apple_cells` (int32[A] flat cells) and `self._apple_index` (`engine.lookup` of the
apple cells), stores its default param values in `self._preset_params`, and sets
`_params_type` / `_int_params` and `_layers`. It then gets `default_params`, `observe`
and the spaces, and these pieces of its step:

- `_eat`: agents standing on an apple eat it;
- `_zap`: the "zap" beam (for games that have one), with its cost and penalty;
- `_grow_apples`: empty apple cells with no agent on them grow an apple at some rate;
- `_step_info`: time, truncation and the `info` of the step;
- `_apple_metrics`: the episode statistics every apple game reports.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from marl.env import Env
from marl.envs.gridworld import engine
from marl.envs.gridworld.engine import Agents, BeamHits, GridEngine
from marl.spaces import Box, Discrete
from marl.validation import check_choice, check_range


class AppleGame(Env):
    """Base of the gridworld games about eating apples; see the module docstring."""

    engine: GridEngine
    apple_cells: np.ndarray  # int32[A], flat cells that can hold an apple
    _apple_index: np.ndarray  # int32[H*W + 1], cell -> apple index (A: none, or off the map)
    _preset_params: dict  # default param values, by name
    _params_type: type  # the game's params dataclass
    _int_params: tuple[str, ...] = ()  # params stored as int32; the others are float32
    action_names: tuple[str, ...] = engine.ACTION_NAMES

    # ---- construction ----------------------------------------------------------------------
    def _choose_preset(self, game, presets, legends, variant, map_name, num_agents):
        """Set `variant`, `map_name` (the preset's unless given), `num_agents` (likewise) and
        the preset's param values; return the preset."""
        check_choice(game, "variant", variant, set(presets))
        preset = presets[variant]
        self.variant = variant
        self.map_name = preset.map_name if map_name is None else map_name
        check_choice(game, "map_name", self.map_name, set(legends))
        self.num_agents = preset.num_agents if num_agents is None else num_agents
        if self.num_agents < 1:
            raise ValueError(f"{game}: num_agents must be >= 1, got {self.num_agents}")
        self._preset_params = preset.params
        return preset

    def _set_max_zap(self, max_length, max_radius) -> None:
        """The zap's static extents: the given ones, else the preset's zap_length / radius."""
        p = self._preset_params
        self.max_zap_length = p["zap_length"] if max_length is None else max_length
        self.max_zap_radius = p["zap_radius"] if max_radius is None else max_radius

    # ---- params ----------------------------------------------------------------------------
    @property
    def default_params(self):
        values = {
            k: jnp.asarray(v, jnp.int32 if k in self._int_params else jnp.float32)
            for k, v in self._preset_params.items()
        }
        return self._params_type(**values)

    def _check_zap_params(self, params) -> None:
        name = self.name
        check_range(name, "zap_length", params.zap_length, 0, self.max_zap_length)
        check_range(name, "zap_radius", params.zap_radius, 0, self.max_zap_radius)
        check_range(name, "zap_cooldown", params.zap_cooldown, 0)
        check_range(name, "zap_timeout", params.zap_timeout, 0)
        check_range(name, "zap_cost", params.zap_cost)
        check_range(name, "zap_penalty", params.zap_penalty)

    # ---- pieces of a step ------------------------------------------------------------------
    def _apples_under(self, agents: Agents) -> jax.Array:
        """int32[N]: the apple cell under each agent on the map (A where there is none)."""
        eng = self.engine
        cells = jnp.where(agents.on_map, eng.cells_of(agents.pos), eng.num_cells)
        return jnp.asarray(self._apple_index)[cells]

    def _eat(self, present: jax.Array, agents: Agents, params):
        """Agents on a cell holding an apple (`present`: bool[A]) eat it. Returns bool[N]
        who ate, bool[A] the apples eaten and float32[N] the apple rewards."""
        a = len(self.apple_cells)
        apple_at = self._apples_under(agents)
        eaten = jnp.append(present, False)[apple_at]
        # Agents stand on distinct cells, so an apple has at most one eater.
        gone = jnp.zeros(a + 1, bool).at[jnp.where(eaten, apple_at, a)].set(True)[:a]
        return eaten, gone, params.apple_reward * eaten

    def _zap(self, agents: Agents, actions: jax.Array, reward: jax.Array, params):
        """Fire the ready zaps. Returns bool[N] who fired, int32[N] zaps each agent received,
        and `reward` less `zap_cost` per zap fired and `zap_penalty` per zap received."""
        eng = self.engine
        firing = eng.ready(agents, actions, "zap")
        zapped = eng.fire("zap", agents, firing, params.zap_length, params.zap_radius).received
        return firing, zapped, reward - params.zap_cost * firing - params.zap_penalty * zapped

    def _grow_apples(self, apples, agents: Agents, u, probability) -> jax.Array:
        """bool[A]: each empty apple cell with no agent on it grows an apple if its uniform
        `u` is below `probability` (per cell, or one for all)."""
        a = len(self.apple_cells)
        occupied = jnp.zeros(a + 1, bool).at[self._apples_under(agents)].set(True)[:a]
        return apples | (~apples & ~occupied & (u < probability))

    def _step_info(self, t, params, eaten, apples, agents: Agents, **events) -> dict:
        """The step's `info` after `t` steps: never terminated, truncated at
        `episode_length`; apples eaten, the game's `events` (zaps fired first), agents
        timed out, and the apples left on the map (`apples`: bool[A] present)."""
        return {
            "terminated": jnp.asarray(False),
            "truncated": t >= params.episode_length,
            "apples": eaten.astype(jnp.float32),
            **events,
            "timed_out": ~agents.on_map,
            "apples_left": apples.sum().astype(jnp.int32),
        }

    # ---- observation -----------------------------------------------------------------------
    def _layers(self, state):
        """The resources to paint into observations: (cells, present, channel) each."""
        raise NotImplementedError

    def observe(self, state, params) -> jax.Array:
        return self.engine.observe(state.agents, self._layers(state))

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.engine.channel_names

    def observation_space(self, params=None) -> Box:
        return Box(0, 1, self.engine.observation_shape, jnp.uint8)

    def action_space(self, params=None) -> Discrete:
        return Discrete(len(self.action_names))

    # ---- rendering -------------------------------------------------------------------------
    def _paint_apples(self, rgb, present, color) -> jax.Array:
        """uint8[H*W, 3]: `rgb` with `color` on the apple cells holding an apple."""
        apple = jnp.zeros(self.engine.num_cells, bool).at[self.apple_cells].set(present)
        return jnp.where(apple[:, None], jnp.asarray(color, jnp.uint8), rgb)

    def _render(self, rgb, agents: Agents, beam: BeamHits) -> jax.Array:
        """The engine's picture of the map `rgb` (uint8[H*W, 3]) with the agents and the
        cells `beam` covers."""
        eng = self.engine
        rgb = rgb.reshape(eng.height, eng.width, 3)
        return eng.render(rgb, agents, eng.covered_cells(beam))

    # ---- episode statistics ----------------------------------------------------------------
    def _apple_metrics(self, totals, length, **rates) -> dict:
        """Zaps fired per agent-step (`zap_rate`), then each of `rates` (metric name ->
        event name) per agent-step, apples eaten per agent in the episode and the mean
        number of apples on the map over the episode's steps."""
        rates = {"zap_rate": "fired", **rates}
        out = {metric: totals[event].mean(-1) / length for metric, event in rates.items()}
        out["apples_per_agent"] = totals["apples"].mean(-1)
        out["apples_left"] = totals["apples_left"] / length
        return out
