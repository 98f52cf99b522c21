"""Exact subgame-perfect equilibrium of the sequential public goods game.

Backward induction over the whole game tree (n <= 5 players, K <= 10 levels, so at most
11^5 leaves), under full observation: each mover sees every predecessor's contribution.
The solver works by position; with a shuffled order the same equilibrium holds for
whichever agent is drawn into each position, since payoffs depend only on positions.

Payoffs are computed in float64 (the env's own `public_goods_payoffs`, run with JAX's
64-bit mode on the params widened to float64), so that rounding in float32 sums cannot
make one of equal payoffs look larger.

Ties: a mover's actions whose payoffs are within `tol` (default 1e-6) of its best count
as ties; the lowest contribution among them is taken, and the equilibrium is reported as
not unique. The default is far above float64 rounding and above the error of storing the
params in float32 (rho / n and kappa, from 1.8 / 3 and 0.6, differ by 4e-8 once stored),
so a game meant to be indifferent is solved as such; payoffs that truly differ by less
than `tol` are solved as ties too (pass a smaller `tol` for those).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from marl.envs.spgg import SPGGParams, public_goods_payoffs

MAX_PLAYERS, MAX_LEVELS = 5, 10


@dataclass(frozen=True)
class SPNE:
    actions: tuple[int, ...]  # equilibrium-path action (level index) of each position
    contributions: np.ndarray  # float[n], c = action / K by position
    payoffs: np.ndarray  # float[n], equilibrium payoff by position
    unique: bool  # no mover anywhere in the tree was indifferent
    strategy: tuple[np.ndarray, ...]  # strategy[k][history] = action of position k


def solve_spne(env, params: SPGGParams | None = None, tol: float = 1e-6) -> SPNE:
    """The SPNE of `env` (a `SequentialPublicGoods`) under `params`."""
    n, levels = env.num_agents, env.levels
    if n > MAX_PLAYERS or levels > MAX_LEVELS:
        raise ValueError(
            f"solve_spne: supports n <= {MAX_PLAYERS} and K <= {MAX_LEVELS}, got n={n}, K={levels}"
        )
    params = env.default_params if params is None else params
    grid = np.stack(np.meshgrid(*[np.arange(levels + 1)] * n, indexing="ij"), axis=-1)
    with jax.enable_x64(True):
        wide = jax.tree.map(lambda x: jnp.asarray(np.asarray(x, np.float64)), params)
        contribution = jnp.asarray(grid / levels, jnp.float64)
        value = public_goods_payoffs(contribution, wide, env.reward_mode, env.cost)
        value = np.asarray(value, np.float64)  # [(K+1)]*n + [n]: each position's payoff

    unique = True
    strategy = [None] * n
    for k in reversed(range(n)):
        own = value[..., k]  # position k's payoff, choice on axis k
        ties = own >= own.max(axis=k, keepdims=True) - tol
        best = ties.argmax(axis=k)  # the first True: the lowest contribution among the best
        if (ties.sum(axis=k) > 1).any():
            unique = False
        strategy[k] = best
        index = np.expand_dims(best, (k, -1))
        value = np.take_along_axis(value, index, axis=k).squeeze(k)

    history: list[int] = []
    for k in range(n):
        history.append(int(strategy[k][tuple(history)]))
    return SPNE(
        actions=tuple(history),
        contributions=np.asarray(history, np.float64) / levels,
        payoffs=value,
        unique=unique,
        strategy=tuple(strategy),
    )


def distance_to_spne(contributions_by_position, spne: SPNE) -> np.ndarray:
    """Mean absolute difference between played and equilibrium contributions, by episode."""
    played = np.asarray(contributions_by_position, np.float64)
    return np.abs(played - spne.contributions).mean(-1)
