"""Scripted policies: fixed co-players in training and fixed opponents in evaluation.

A scripted policy maps (key, one agent's observation) to an action. `random` works in
every environment. The others read the memory-1 observation of the matrix games (one-hot
over start, CC, CD, DC, DD, own action first); always_cooperate and always_defect also
fit the spatial prisoner's dilemma, whose actions are 0 = C and 1 = D too. In the Coin Game
always_cooperate walks to its own coins only and always_defect to the nearest coin of
either colour (the bots of the opponent-shaping papers). In the public goods game (SPGG)
always_cooperate contributes everything and always_defect nothing (free-rides). The
gridworld bots read one agent's egocentric window (marl/evaluation/bots.py says how each decides):
- `greedy_eater` (Harvest, Cleanup, Gathering): walks the shortest path to the nearest apple.
- `cleaner` (Cleanup): cleans waste in its beam, walks to waste, else heads for the river.
- `cleaner_eater` (Cleanup): cleans while it sees waste, else eats.
- `zapper` (Harvest, Cleanup, Gathering): zaps agents in its beam, chases them, else eats.
- `sustainable_harvester` (Harvest): eats only apples with >= 3 others within radius 2.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from marl import plugins
from marl.config import fail
from marl.envs.coin_game import CoinGame, nearest_coin_policy, own_coin_policy
from marl.envs.gridworld.cleanup import Cleanup
from marl.envs.gridworld.gathering import Gathering
from marl.envs.gridworld.harvest import Harvest
from marl.envs.matrix import MatrixGame
from marl.envs.spatial_pd import SpatialPD
from marl.envs.spgg import SequentialPublicGoods
from marl.evaluation import bots

# Opponent's last action from the player's own view: start -> C, CC -> C, CD -> D, ...
_OPPONENT_LAST = jnp.array([0, 0, 1, 0, 1], jnp.int32)


def always_cooperate(key, obs):
    return jnp.asarray(0, jnp.int32)


def always_defect(key, obs):
    return jnp.asarray(1, jnp.int32)


def tit_for_tat(key, obs):
    """Cooperate first, then copy the opponent's previous action."""
    return _OPPONENT_LAST[jnp.argmax(obs)]


def _random(num_actions: int):
    return lambda key, obs: jax.random.randint(key, (), 0, num_actions, dtype=jnp.int32)


# name -> environment types it understands (None: every environment)
_SUPPORTED = {
    "always_cooperate": (MatrixGame, SpatialPD, CoinGame, SequentialPublicGoods),
    "always_defect": (MatrixGame, SpatialPD, CoinGame, SequentialPublicGoods),
    "tit_for_tat": (MatrixGame,),
    "random": None,
    "greedy_eater": (Harvest, Cleanup, Gathering),
    "cleaner": (Cleanup,),
    "cleaner_eater": (Cleanup,),
    "zapper": (Harvest, Cleanup, Gathering),
    "sustainable_harvester": (Harvest,),
}


def names() -> list[str]:
    """Every scripted policy: the built-in ones and those of installed plugins."""
    return sorted({*_SUPPORTED, *plugins.policies()})


def names_for(env) -> list[str]:
    """The scripted policies that make sense in `env`."""
    base = getattr(env, "unwrapped", env)
    own = [n for n in _SUPPORTED if _SUPPORTED[n] is None or isinstance(base, _SUPPORTED[n])]
    return sorted({*own, *(n for n in plugins.policies() if _plugin_rule(n, env) is not None)})


def _plugin_rule(name: str, env) -> Callable | None:
    """A plugin policy's rule for `env`, or None where its factory refuses the env."""
    try:
        return plugins.policies()[name](env)
    except ValueError:
        return None


def scripted_policy(name: str, env) -> Callable:
    """The scripted policy `name` for `env`; ValueError if unknown or meaningless there."""
    if name not in _SUPPORTED and name in plugins.policies():
        return plugins.policies()[name](env)  # its own ValueError names what it needs
    if name not in _SUPPORTED:
        raise ValueError(f"unknown scripted policy {name!r}; choose from {', '.join(names())}")
    base = getattr(env, "unwrapped", env)
    kinds = _SUPPORTED[name]
    if kinds is not None and not isinstance(base, kinds):
        allowed = ", ".join(k.__name__ for k in kinds)
        raise ValueError(f"scripted policy {name!r} needs one of: {allowed}; got {env.name}")
    if name == "random":
        return _random(env.action_space(env.default_params).n)
    if name in bots.BOTS:
        return bots.BOTS[name](env)
    if isinstance(base, SequentialPublicGoods):  # only the acting agent's choice counts
        level = env.action_space(env.default_params).n - 1 if name == "always_cooperate" else 0
        return lambda key, obs: jnp.asarray(level, jnp.int32)
    if isinstance(base, CoinGame):
        rule = own_coin_policy if name == "always_cooperate" else nearest_coin_policy
        return lambda key, obs: rule(obs)
    return {
        "always_cooperate": always_cooperate,
        "always_defect": always_defect,
        "tit_for_tat": tit_for_tat,
    }[name]


def scripted_slots(scripted: dict | None, env) -> tuple[dict, np.ndarray]:
    """Policies for the scripted agent slots, and the mask of the learning slots."""
    n = env.num_agents
    policies = {}
    for slot, name in (scripted or {}).items():
        slot = int(slot)
        if not 0 <= slot < n:
            fail(f"scripted.{slot}", name, f"agent slots 0..{n - 1}")
        policies[slot] = scripted_policy(name, env)
    learner = np.ones(n, bool)
    learner[list(policies)] = False
    if not learner.any():
        fail("scripted", dict(scripted), "at least one learning agent slot")
    return policies, learner


def override_scripted(policies: dict, key, obs_by_agent, actions):
    """Replace the scripted slots' actions [A, E] by their policies' choices."""
    for slot, policy in policies.items():
        keys = jax.random.split(jax.random.fold_in(key, slot), obs_by_agent.shape[1])
        actions = actions.at[slot].set(jax.vmap(policy)(keys, obs_by_agent[slot]))
    return actions
