"""Shapley values of the agents' contributions to the collective return.

The cooperative game (after Heuillet et al. 2022, "Collective eXplainable AI: explaining
cooperative strategies and agent contribution in multiagent reinforcement learning with
Shapley values"): the players are the agent slots; a coalition S keeps its trained
policies and every slot outside it is played by a baseline policy (random, a scripted bot,
or any population). v(S) is the mean collective return (the sum of every slot's episode
return, the game's own rewards) over `episodes` episodes. The Shapley value of slot i is
its marginal contribution v(S + i) - v(S) averaged over the orders in which slots join:

    phi_i = sum over S not containing i of |S|! (N - |S| - 1)! / N! (v(S + i) - v(S)).

Every coalition is played with the SAME episode keys (common random numbers), so the
differences carry less noise than the values. Exact: all 2^N coalitions in one program
(N <= 10 by default). Monte Carlo: random orders of the slots, each giving N marginal
contributions along its prefixes; phi_i is their mean and its standard error is over the
orders. Efficiency holds in both: the values sum to v(N) - v(empty) (exactly for the exact
method, for each order in Monte Carlo).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import jax
import numpy as np

from marl.config import ConfigError
from marl.evaluation.episodes import EpisodePlayer
from marl.evaluation.populations import Population

MAX_EXACT = 10  # 2^10 coalitions x episodes: still one modest program


@dataclass(frozen=True)
class ShapleyResult:
    values: np.ndarray  # [N] phi_i
    se: np.ndarray  # [N] standard error (episodes for exact, orders for Monte Carlo)
    grand: float  # v(all slots trained)
    empty: float  # v(all slots baseline)
    method: str  # "exact" or "monte_carlo"
    coalitions_played: int
    episodes: int

    def to_json(self) -> dict:
        return {
            "shapley": np.round(self.values, 6).tolist(),
            "se": np.round(self.se, 6).tolist(),
            "v_all": round(self.grand, 6),
            "v_none": round(self.empty, 6),
            "sum_check": round(float(self.values.sum()) - (self.grand - self.empty), 6),
            "method": self.method,
            "coalitions_played": self.coalitions_played,
            "episodes_per_coalition": self.episodes,
        }


class CoalitionGame:
    """v(S) for coalitions of slots: trained `players` (member `seed`) inside, `baseline`
    outside, the same episode keys for every coalition."""

    def __init__(
        self,
        env,
        params,
        players: Population,
        baseline: Population,
        seed: int = 0,
        episodes: int = 16,
        steps: int | None = None,
        key=None,
    ):
        if not 0 <= seed < players.size:
            raise ConfigError(f"seed must be in 0..{players.size - 1}; got {seed}")
        if episodes < 2:
            raise ConfigError(f"episodes must be >= 2; got {episodes}")
        self.n = env.num_agents
        self.seed, self.episodes = seed, episodes
        self.player = EpisodePlayer(env, params, [players, baseline], steps)
        key = jax.random.PRNGKey(0) if key is None else key
        self.keys = jax.random.split(key, episodes)

    def values(self, coalitions: np.ndarray) -> np.ndarray:
        """Per-coalition, per-episode collective return: bool [C, N] -> [C, E]."""
        coalitions = np.asarray(coalitions, bool)
        c, e = len(coalitions), self.episodes
        owner = np.repeat(np.where(coalitions, 0, 1), e, axis=0).astype(np.int32)
        member = np.where(owner == 0, self.seed, 0).astype(np.int32)
        keys = jax.numpy.tile(self.keys, (c, 1))
        returns = self.player.play(keys, owner, member).returns
        return returns.sum(1).reshape(c, e)


def exact(game: CoalitionGame) -> ShapleyResult:
    """Every coalition, one program; SE over episodes of the per-episode Shapley values."""
    n = game.n
    masks = np.array(list(itertools.product([False, True], repeat=n)))[:, ::-1]
    v = game.values(masks)  # [2^N, E]
    index = {tuple(m): k for k, m in enumerate(masks)}
    per_episode = np.zeros((n, game.episodes))
    for k, mask in enumerate(masks):
        size = int(mask.sum())
        for i in np.flatnonzero(~mask):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            joined = mask.copy()
            joined[i] = True
            per_episode[i] += weight * (v[index[tuple(joined)]] - v[k])
    grand, empty = v[index[(True,) * n]].mean(), v[index[(False,) * n]].mean()
    se = per_episode.std(1, ddof=1) / np.sqrt(game.episodes)
    return ShapleyResult(
        per_episode.mean(1), se, float(grand), float(empty), "exact", len(masks), game.episodes
    )


def monte_carlo(game: CoalitionGame, orders: int = 64, seed: int = 0) -> ShapleyResult:
    """Marginal contributions along `orders` random orders of the slots."""
    if orders < 2:
        raise ConfigError(f"orders must be >= 2; got {orders}")
    n = game.n
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(n) for _ in range(orders)])
    prefixes = np.zeros((orders, n + 1, n), bool)
    for o, perm in enumerate(perms):
        for k in range(1, n + 1):
            prefixes[o, k, perm[:k]] = True
    v = game.values(prefixes.reshape(-1, n)).mean(1).reshape(orders, n + 1)
    marginal = np.zeros((orders, n))
    for o, perm in enumerate(perms):
        marginal[o, perm] = np.diff(v[o])
    return ShapleyResult(
        marginal.mean(0),
        marginal.std(0, ddof=1) / np.sqrt(orders),
        float(v[:, -1].mean()),
        float(v[:, 0].mean()),
        "monte_carlo",
        orders * (n + 1),
        game.episodes,
    )


def shapley(game: CoalitionGame, method: str = "auto", orders: int = 64) -> ShapleyResult:
    """Exact for N <= 10 (`method="auto"`), Monte Carlo otherwise."""
    if method not in ("auto", "exact", "monte_carlo"):
        raise ConfigError(f"method must be auto, exact or monte_carlo; got {method!r}")
    if method == "exact" and game.n > MAX_EXACT + 4:
        raise ConfigError(f"exact Shapley values over 2^{game.n} coalitions: use monte_carlo")
    if method == "exact" or (method == "auto" and game.n <= MAX_EXACT):
        return exact(game)
    return monte_carlo(game, orders)


def plot(results: dict[str, dict], path, title: str) -> None:
    """Bars of each agent's Shapley value (95% CI) for each labelled result (`to_json`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(next(iter(results.values()))["shapley"])
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(2 + 0.9 * n * len(results) ** 0.5, 3.4))
    for k, (label, result) in enumerate(results.items()):
        x = np.arange(n) + (k - (len(results) - 1) / 2) * width
        se = 1.96 * np.asarray(result["se"])
        ax.bar(x, result["shapley"], width, yerr=se, capsize=3, label=label)
    ax.set_xticks(range(n), [f"agent {i}" for i in range(n)], fontsize=8)
    ax.set_ylabel("Shapley value (collective return)")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
